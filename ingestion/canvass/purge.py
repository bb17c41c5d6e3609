"""Retention: delete door knocks past their campaign's retention date, once aggregated.

A campaign's knocks expire at `retention_ends_at` (midnight, Paris, at the end of election_date +
retention_days; recorded in `ops.canvass_campaigns` by every load). An expired row is deleted when
it has been *aggregated*:

    aggregated  <=>  the latest entry of ops.publication_log is a `publish` whose published_at is
                     later than the row's loaded_at

i.e. the mart currently published was built after the row landed (landed rows never change), so
its aggregates already include it. A rollback as the latest entry means the published mart may
predate some rows: nothing counts as aggregated until the next publication. `force=True` deletes
expired rows even when not aggregated (the runbook's way out when no publication can happen any
more).

With `drop_zone`, the same run deletes the raw exports kept in the drop zone's `processed/` and
`failed/` past their own retention (`ingestion/canvass/drop_retention.py`): the exports hold the
names, phones and notes the warehouse never keeps.

The quarantine (`quarantine.canvass_rows`: file name, line, column and reason of each refused
row, which point into the exports) follows the same retention: rows of a batch whose knocks
belong to an expired campaign are deleted with them (they are never aggregated, so they need no
publication first); rows of a batch with no knock left (every row refused, or its knocks already
purged) once every campaign is past retention, or after `SCRUTIN_CANVASS_KEEP_FAILED_DAYS`, when
the refused export they point into is deleted from `failed/` too.

Every run, dry runs included, writes one `ops.purge_log` row per registered campaign (a dry run
records rows_deleted = 0; rows_expired - rows_kept_not_aggregated is what it would delete).
The quality suite `raw_canvass_knocks` fails while any expired row remains: that blocks
publication.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg import sql

from ingestion.canvass.drop_retention import (
    DEFAULT_KEEP_FAILED_DAYS,
    KEEP_FAILED_ENV,
    DropZonePurge,
    keep_days,
    purge_drop_zone,
)
from scrutin.db import connect
from scrutin.warehouse.batch import lock_dataset
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrutin.ingestion.canvass.purge")

# The knock-level dbt models written as tables during a build, views between builds
# (dbt/macros/build_scoped.sql: tag `build_scoped`); tests/integration checks the list.
BUILD_SCOPED_TABLES = (
    ("intermediate", "int_canvass__knocks"),
    ("intermediate", "int_canvass__answers"),
)


@dataclass(frozen=True)
class CampaignPurge:
    campaign_id: str
    retention_ends_at: dt.datetime
    expired: bool
    rows_expired: int
    rows_deleted: int
    rows_kept_not_aggregated: int


@dataclass(frozen=True)
class PurgeReport:
    run_id: str
    dry_run: bool
    forced: bool
    reference_publication_id: int | None
    reference_published_at: dt.datetime | None
    campaigns: tuple[CampaignPurge, ...]
    rows_unknown_campaign: int
    drop_zone: DropZonePurge | None = None
    quarantine_rows: int = 0
    """Quarantine rows deleted (or, in a dry run, that would be)."""

    @property
    def rows_expired(self) -> int:
        return sum(c.rows_expired for c in self.campaigns)

    @property
    def rows_deleted(self) -> int:
        return sum(c.rows_deleted for c in self.campaigns)

    @property
    def rows_kept(self) -> int:
        return sum(c.rows_kept_not_aggregated for c in self.campaigns)

    def summary(self) -> str:
        verb, count = (
            ("would delete", self.rows_expired - self.rows_kept)
            if self.dry_run
            else ("deleted", self.rows_deleted)
        )
        reference = (
            f"last publication {self.reference_publication_id} at "
            f"{self.reference_published_at.isoformat()}"
            if self.reference_published_at
            else "no usable publication (none yet, or the last action was a rollback)"
        )
        return (
            f"purge {self.run_id}: {self.rows_expired} door knock(s) past retention, {verb} "
            f"{count}, kept {self.rows_kept} not yet aggregated; {reference}"
            + (
                f"; {self.rows_unknown_campaign} row(s) of unregistered campaigns"
                if self.rows_unknown_campaign
                else ""
            )
            + (
                f"; quarantine: {'would delete' if self.dry_run else 'deleted'} "
                f"{self.quarantine_rows} row(s)"
                if self.quarantine_rows
                else ""
            )
            + (f"; {self.drop_zone.summary()}" if self.drop_zone else "")
        )


def purge_expired(
    url_or_conn: str | psycopg.Connection | None = None,
    *,
    dry_run: bool = False,
    force: bool = False,
    now: dt.datetime | None = None,
    run_id: str | None = None,
    drop_zone: str | None = None,
) -> PurgeReport:
    """Delete (or, with `dry_run`, count) expired door knocks, and with `drop_zone` (a drop
    zone root or URL) the exports kept there past their retention; see the module docstring."""
    if url_or_conn is None or isinstance(url_or_conn, str):
        with connect(url_or_conn) as conn:
            report = _purge(conn, dry_run=dry_run, force=force, now=now, run_id=run_id)
    else:
        report = _purge(url_or_conn, dry_run=dry_run, force=force, now=now, run_id=run_id)
    if drop_zone is None:
        return report
    expired = bool(report.campaigns) and all(c.expired for c in report.campaigns)
    files = purge_drop_zone(
        drop_zone,
        now=(now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC),
        all_campaigns_expired=expired,
        dry_run=dry_run,
    )
    return dataclasses.replace(report, drop_zone=files)


def _purge(
    conn: psycopg.Connection,
    *,
    dry_run: bool,
    force: bool,
    now: dt.datetime | None,
    run_id: str | None,
) -> PurgeReport:
    require_migrated(conn)
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    run_id = run_id or f"purge__{now.strftime('%Y%m%dT%H%M%SZ')}__{uuid.uuid4().hex[:6]}"
    with conn.transaction():
        # The canvass loads' lock (the template's, for source `canvass`): never purge a campaign
        # while one of its files is being landed.
        lock_dataset(conn, "canvass", None)
        started = conn.execute("select clock_timestamp()").fetchone()
        reference_id, reference_at = _reference_publication(conn)
        campaigns = conn.execute(
            "select campaign_id, retention_ends_at from ops.canvass_campaigns order by campaign_id"
        ).fetchall()
        # Before the knocks: their batch ids say which campaign a quarantine row belongs to.
        quarantine = _purge_quarantine(
            conn,
            [c for c, ends_at in campaigns if ends_at <= now],
            all_expired=bool(campaigns) and all(ends_at <= now for _c, ends_at in campaigns),
            older_than=now
            - dt.timedelta(days=keep_days(KEEP_FAILED_ENV, DEFAULT_KEEP_FAILED_DAYS)),
            dry_run=dry_run,
        )
        results = [
            _purge_campaign(
                conn,
                campaign_id,
                ends_at,
                expired=ends_at <= now,
                reference_at=reference_at,
                dry_run=dry_run,
                force=force,
            )
            for campaign_id, ends_at in campaigns
        ]
        if not dry_run and any(r.rows_deleted for r in results):
            _purge_build_scoped_tables(conn)
        unknown_row = conn.execute(
            "select count(*) from raw.canvass_knocks as k where not exists "
            "(select 1 from ops.canvass_campaigns as c where c.campaign_id = k.campaign_id)"
        ).fetchone()
        unknown = int(unknown_row[0]) if unknown_row else 0
        for result in results:
            conn.execute(
                """
                insert into ops.purge_log (
                    run_id, dry_run, forced, campaign_id, retention_ends_at,
                    reference_publication_id, reference_published_at, rows_expired,
                    rows_deleted, rows_kept_not_aggregated, started_at
                )
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                """,
                (
                    run_id,
                    dry_run,
                    force,
                    result.campaign_id,
                    result.retention_ends_at,
                    reference_id,
                    reference_at,
                    result.rows_expired,
                    result.rows_deleted,
                    result.rows_kept_not_aggregated,
                    started[0] if started else now,
                ),
            )
    report = PurgeReport(
        run_id=run_id,
        dry_run=dry_run,
        forced=force,
        reference_publication_id=reference_id,
        reference_published_at=reference_at,
        campaigns=tuple(results),
        rows_unknown_campaign=unknown,
        quarantine_rows=quarantine,
    )
    log.info("%s", report.summary())
    if unknown:
        log.warning(
            "%d door knock(s) belong to campaigns missing from ops.canvass_campaigns: their "
            "retention is unknown and they are not purged",
            unknown,
        )
    return report


def _purge_build_scoped_tables(conn: psycopg.Connection) -> None:
    """Delete the purged knocks from a build-scoped model left as a table by a killed build.

    dbt writes `BUILD_SCOPED_TABLES` as tables for the readers of a build and puts them back as
    views when the build ends (dbt/macros/build_scoped.sql). A build killed before its end leaves
    the tables behind until the next build: their rows whose landed row (batch_id, line_no) is
    gone go with it. A view, the normal case, holds nothing and is left alone."""
    for schema, table in BUILD_SCOPED_TABLES:
        row = conn.execute(
            "select c.relkind from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relname = %s",
            (schema, table),
        ).fetchone()
        if row is None or row[0] != "r":
            continue
        cur = conn.execute(
            sql.SQL(
                "delete from {}.{} as t where not exists (select 1 from raw.canvass_knocks as k "
                "where k.batch_id = t.batch_id and k.line_no = t.line_no)"
            ).format(sql.Identifier(schema), sql.Identifier(table))
        )
        log.warning(
            "%s.%s was left a table by a build that did not end: deleted %d purged row(s) from "
            "it (the next build puts it back as a view)",
            schema,
            table,
            cur.rowcount,
        )


def _purge_quarantine(
    conn: psycopg.Connection,
    expired: list[str],
    *,
    all_expired: bool,
    older_than: dt.datetime,
    dry_run: bool,
) -> int:
    """Delete (or count) the quarantine rows past retention; see the module docstring."""
    where = """
        where exists (
            select 1 from raw.canvass_knocks as k
            where k.batch_id = q.batch_id and k.campaign_id = any(%(expired)s)
        )
        or (
            not exists (select 1 from raw.canvass_knocks as k where k.batch_id = q.batch_id)
            and (%(all_expired)s or q.quarantined_at < %(older_than)s)
        )
    """
    params = {"expired": expired, "all_expired": all_expired, "older_than": older_than}
    if dry_run:
        row = conn.execute(
            "select count(*) from quarantine.canvass_rows as q " + where, params
        ).fetchone()
        return int(row[0]) if row else 0
    batches = conn.execute(
        "delete from quarantine.canvass_rows as q " + where + " returning q.batch_id", params
    ).fetchall()
    # Their ledger rows_rejected now has nothing to reconcile with: say so (raw_canvass_batches).
    conn.execute(
        "update raw.batch_ledger set quarantine_purged_at = clock_timestamp() "
        "where batch_id = any(%s)",
        (sorted({int(b[0]) for b in batches}),),
    )
    return len(batches)


def _reference_publication(conn: psycopg.Connection) -> tuple[int | None, dt.datetime | None]:
    row = conn.execute(
        "select publication_id, action, published_at from ops.publication_log "
        "order by publication_id desc limit 1"
    ).fetchone()
    if row is None or row[1] != "publish":
        return None, None
    return int(row[0]), row[2]


def _purge_campaign(
    conn: psycopg.Connection,
    campaign_id: str,
    ends_at: dt.datetime,
    *,
    expired: bool,
    reference_at: dt.datetime | None,
    dry_run: bool,
    force: bool,
) -> CampaignPurge:
    if not expired:
        return CampaignPurge(campaign_id, ends_at, False, 0, 0, 0)
    row = conn.execute(
        """
        select
            count(*),
            count(*) filter (
                where %(reference)s::timestamptz is not null
                    and loaded_at < %(reference)s::timestamptz
            )
        from raw.canvass_knocks
        where campaign_id = %(campaign_id)s
        """,
        {"campaign_id": campaign_id, "reference": reference_at},
    ).fetchone()
    assert row is not None
    expired_rows, aggregated = int(row[0]), int(row[1])
    deletable = expired_rows if force else aggregated
    deleted = 0
    if not dry_run and deletable:
        cur = conn.execute(
            """
            delete from raw.canvass_knocks
            where campaign_id = %(campaign_id)s
                and (
                    %(force)s
                    or (
                        %(reference)s::timestamptz is not null
                        and loaded_at < %(reference)s::timestamptz
                    )
                )
            """,
            {"campaign_id": campaign_id, "reference": reference_at, "force": force},
        )
        deleted = cur.rowcount
    return CampaignPurge(
        campaign_id=campaign_id,
        retention_ends_at=ends_at,
        expired=True,
        rows_expired=expired_rows,
        rows_deleted=deleted,
        rows_kept_not_aggregated=expired_rows - deletable,
    )
