"""Publication: swap the audited schema in as `mart`, atomically, keeping the previous one.

Analysts and BI tools only ever read `mart`. dbt builds into `mart_audit`; once every check passed,
one transaction (under an advisory lock, so two publishers never interleave) renames
`mart` -> `mart_prev` and `mart_audit` -> `mart`. A reader sees the old mart or the new one, never a
mix. `rollback()` swaps `mart_prev` back.

Several campaigns share one `mart` (pipeline/campaign_access.py): a build publishes its own
campaign's rows of the campaign tables and keeps the others' as they were published; every BI
role reads `mart` through row-level security, re-applied in the swap's transaction.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.campaign_access import lock_publication
from scrutin.config import bi_reader_role

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg

log = logging.getLogger("pipeline.publish")

AUDIT_SCHEMA = "mart_audit"
MART_SCHEMA = "mart"
PREV_SCHEMA = "mart_prev"


class PublicationError(RuntimeError):
    """Nothing was published (or rolled back); `mart` is unchanged."""


@dataclass
class PublishReport:
    run_id: str
    action: str
    publication_id: int
    row_counts: dict[str, int] = field(default_factory=dict)


def _schema_exists(cur: psycopg.Cursor[Any], schema: str) -> bool:
    cur.execute("select 1 from pg_namespace where nspname = %s", (schema,))
    return cur.fetchone() is not None


def table_row_counts(cur: psycopg.Cursor[Any], schema: str) -> dict[str, int]:
    """Exact row count of every table of `schema`."""
    from psycopg import sql

    cur.execute(
        "select tablename from pg_tables where schemaname = %s order by tablename", (schema,)
    )
    names = [r[0] for r in cur.fetchall()]
    counts: dict[str, int] = {}
    for name in names:
        cur.execute(
            sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
        )
        row = cur.fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def _ensure_role(cur: psycopg.Cursor[Any], role: str) -> None:
    from psycopg import sql

    cur.execute("select 1 from pg_roles where rolname = %s", (role,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))


def _grant_reader(cur: psycopg.Cursor[Any], campaign_id: str | None = None) -> None:
    """Every BI role reads `mart` and nothing else (not `mart_prev`, not `mart_audit`); in the
    campaign tables of `mart`, only its campaign's rows (row-level security, forced).

    The configured BI role (SCRUTIN_BI_ROLE) reads the campaign being published when it reads
    none yet, as `scrutin setup` would map it (a warehouse set up without it still shows its
    campaign to its BI tool); a role already mapped is never moved."""
    from psycopg import sql

    from pipeline.campaign_access import (
        CampaignAccessError,
        apply_row_security,
        bi_roles,
        grant_mart,
        map_role,
    )

    _ensure_role(cur, bi_reader_role())
    if campaign_id is not None and bi_reader_role() not in {r.role_name for r in bi_roles(cur)}:
        try:
            map_role(cur, bi_reader_role(), campaign_id)
        except CampaignAccessError as exc:  # a role name the mapping refuses: it reads no campaign
            log.warning("%s", exc)
    roles = sorted({bi_reader_role(), *(r.role_name for r in bi_roles(cur))})
    for name in roles:
        role = sql.Identifier(name)
        grant_mart(cur, name, MART_SCHEMA)
        for schema in (PREV_SCHEMA,):
            if _schema_exists(cur, schema):
                cur.execute(
                    sql.SQL("revoke all on all tables in schema {} from {}").format(
                        sql.Identifier(schema), role
                    )
                )
                cur.execute(
                    sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(schema), role)
                )
    apply_row_security(cur, MART_SCHEMA)


def _publishing_campaign(cur: psycopg.Cursor[Any], campaign_id: str | None) -> str | None:
    """The campaign this publication replaces the rows of: `campaign_id` (the run's campaign
    file), checked against what `mart_audit` holds, or, unnamed, the one campaign it holds.

    Refuses a schema that mixes campaigns or holds rows of a build that named none: publishing
    it would show one campaign's role another's rows, or two runs of one campaign side by side.
    """
    from pipeline.campaign_access import audited_campaigns

    held = audited_campaigns(cur, AUDIT_SCHEMA)
    found = sorted({c for ids in held.values() for c in ids})
    if campaign_id is not None:
        stray = {t: [c for c in ids if c != campaign_id] for t, ids in held.items()}
        stray = {t: ids for t, ids in stray.items() if ids}
        if stray:
            raise PublicationError(
                f"{AUDIT_SCHEMA} holds rows of other campaigns than {campaign_id}: "
                + "; ".join(f"{t}: {', '.join(map(repr, ids))}" for t, ids in sorted(stray.items()))
            )
        return campaign_id
    if len(found) > 1 or "" in found:
        raise PublicationError(
            f"{AUDIT_SCHEMA} holds the rows of campaigns {found!r}: a build publishes one campaign "
            "(its campaign file's campaign_id)"
        )
    if found:
        return found[0]
    if held:
        raise PublicationError(
            f"{AUDIT_SCHEMA}'s campaign tables are empty and no campaign was named: cannot tell "
            "which campaign's published rows this run replaces"
        )
    return None


def _check_complete(cur: psycopg.Cursor[Any]) -> None:
    """An incremental build rebuilt some tables and carried the others over from `mart`: every
    published table and view must be in `mart_audit`, or the swap would unpublish it."""
    relations = (
        "select c.relname from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'p', 'v')"
    )
    cur.execute(f"{relations} except {relations} order by 1", (MART_SCHEMA, AUDIT_SCHEMA))
    missing = [r[0] for r in cur.fetchall()]
    if missing:
        raise PublicationError(
            f"incremental build: {AUDIT_SCHEMA} lacks published tables {', '.join(missing)} "
            f"(neither rebuilt nor carried over); run `scrutin build --full`"
        )


def _log(
    cur: psycopg.Cursor[Any],
    run_id: str,
    action: str,
    row_counts: dict[str, int],
    check_summary: dict[str, Any],
) -> int:
    cur.execute(
        "insert into ops.publication_log (run_id, action, row_counts, check_summary) "
        "values (%s, %s, %s::jsonb, %s::jsonb) returning publication_id",
        (run_id, action, json.dumps(row_counts), json.dumps(check_summary)),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def _lock_swapped_tables(cur: psycopg.Cursor[Any], schemas: tuple[str, ...]) -> None:
    """ACCESS EXCLUSIVE on every table of `schemas`, first thing in a publication's (or a
    rollback's) transaction: for a publication `mart_audit` (published next) and `mart_prev`
    (dropped).

    Autovacuum analyzes the tables dbt just wrote. Taken later, after this transaction had
    changed catalog rows of those tables (renamed schemas, carried rows), the lock that enables
    row-level security waited for an autovacuum ANALYZE that waited for this transaction to
    update the same table's statistics: a deadlock, and PostgreSQL aborted the publication
    (seen on a national build). Asked for before anything is changed, the lock makes
    PostgreSQL cancel the autovacuum instead (after deadlock_timeout), and while it is held no
    autovacuum can start on those tables. `mart`, which dashboards read, is not locked here.
    """
    cur.execute(
        "select format('%%I.%%I', schemaname, tablename) from pg_tables "
        "where schemaname = any(%s) order by 1",
        (list(schemas),),
    )
    tables = [row[0] for row in cur.fetchall()]
    if tables:
        cur.execute(f"lock table {', '.join(tables)} in access exclusive mode")


def publish(
    conn: psycopg.Connection,
    run_id: str,
    check_summary: dict[str, Any],
    campaign_id: str | None = None,
    *,
    before_swap: Callable[[psycopg.Connection], None] | None = None,
) -> PublishReport:
    """Swap `mart_audit` in as `mart`. Call only after every check passed.

    `campaign_id` (default: the summary's, which the gate's first stage records) is the campaign
    the run built: its rows replace that campaign's published rows, and the other campaigns'
    published rows are carried into the new `mart` unchanged. `before_swap(conn)` runs inside
    the transaction, under the publication lock, and refuses by raising PublicationError."""
    from pipeline.campaign_access import CampaignAccessError, carry_other_campaigns

    campaign_id = campaign_id or check_summary.get("campaign_id") or None
    with conn.transaction(), conn.cursor() as cur:
        lock_publication(cur)
        _lock_swapped_tables(cur, (AUDIT_SCHEMA, PREV_SCHEMA))
        if not _schema_exists(cur, AUDIT_SCHEMA):
            raise PublicationError(f"schema {AUDIT_SCHEMA} does not exist: nothing to publish")
        if not table_row_counts(cur, AUDIT_SCHEMA):
            raise PublicationError(f"schema {AUDIT_SCHEMA} holds no table: nothing to publish")
        if check_summary.get("build_mode") == "incremental":
            _check_complete(cur)
        if before_swap is not None:  # the caller's last check, under the publication lock
            before_swap(conn)
        publishing = _publishing_campaign(cur, campaign_id)
        carried: dict[str, int] = {}
        if publishing is not None and _schema_exists(cur, MART_SCHEMA):
            try:
                carried = carry_other_campaigns(cur, AUDIT_SCHEMA, MART_SCHEMA, publishing)
            except CampaignAccessError as exc:
                raise PublicationError(str(exc)) from exc
        counts = table_row_counts(cur, AUDIT_SCHEMA)
        check_summary = {
            **check_summary,
            "campaign_id": publishing,
            "other_campaign_rows_kept": {t: n for t, n in carried.items() if n},
        }
        cur.execute(f"drop schema if exists {PREV_SCHEMA} cascade")
        if _schema_exists(cur, MART_SCHEMA):
            cur.execute(f"alter schema {MART_SCHEMA} rename to {PREV_SCHEMA}")
        cur.execute(f"alter schema {AUDIT_SCHEMA} rename to {MART_SCHEMA}")
        _grant_reader(cur, publishing)
        publication_id = _log(cur, run_id, "publish", counts, check_summary)
        # Same transaction as the swap: a published run is never left `running`.
        cur.execute(
            "update ops.gate_runs set status = 'passed', finished_at = now(), "
            "failed_checks = '[]'::jsonb where run_id = %s",
            (run_id,),
        )
    return PublishReport(run_id, "publish", publication_id, counts)


def rollback(conn: psycopg.Connection, run_id: str) -> PublishReport:
    """Restore `mart_prev` as `mart` (the current `mart` becomes `mart_prev`)."""
    with conn.transaction(), conn.cursor() as cur:
        lock_publication(cur)
        _lock_swapped_tables(cur, (PREV_SCHEMA, "mart_swap"))
        if not _schema_exists(cur, PREV_SCHEMA):
            raise PublicationError("no previous publication (schema mart_prev) to roll back to")
        cur.execute("drop schema if exists mart_swap cascade")
        if _schema_exists(cur, MART_SCHEMA):
            cur.execute(f"alter schema {MART_SCHEMA} rename to mart_swap")
        cur.execute(f"alter schema {PREV_SCHEMA} rename to {MART_SCHEMA}")
        if _schema_exists(cur, "mart_swap"):
            cur.execute(f"alter schema mart_swap rename to {PREV_SCHEMA}")
        _grant_reader(cur)
        counts = table_row_counts(cur, MART_SCHEMA)
        publication_id = _log(cur, run_id, "rollback", counts, {"rolled_back": True})
    return PublishReport(run_id, "rollback", publication_id, counts)
