"""Replay canvass rows and files once the cause of their refusal is fixed (`scrutin canvass
requeue`).

Two things can wait for a fix, and they are replayed differently:
- **Quarantined rows** (`quarantine.canvass_rows`) of a file that loaded: a row the app mapping of
  the day could not read (an unknown status, an unreadable date, a renamed column the mapping did
  not know yet). The quarantine holds where and why, never the row (it may hold personal data),
  so the replay reads the file again: from the paths given, else from the drop zone's
  `processed/` folder, recognised by its sha256. Only the pending lines are mapped, under the
  mappings of today, in a new batch of the same file; the knock times are checked against the
  file's first load time, as they were then. The quarantine rows covered point at that batch
  (`replayed_batch_id`), so a second requeue replays nothing. Rows that still fail are
  quarantined again under the new batch with today's reason; when none of the lines lands,
  nothing at all is written and the rows stay quarantined as they were.
- **Refused files** (a `failed` ledger row; in the drop zone, `failed/` with a reason file): a
  file-level problem such as a required column missing from the header. With `--force` they are
  loaded again like a delivery (the drop zone's are moved to `processed/` when they load). A
  file that loaded is skipped by its sha256 the next time: nothing loads twice.

Knocks the dbt rules leave out (`int_canvass__excluded_knocks`: no bureau, a bureau outside the
reference, superseded versions) are not quarantined: they are landed and decided again at every
build, so a bureau mapping or a new REU file needs a `scrutin build`, not a requeue.

Everything runs under the canvass loads' lock, inside the batch-load template: a replay and a
delivery of the same file never interleave.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ingestion.canvass.loader import (
    LEDGER_SOURCE,
    CanvassLoadReport,
    _Job,
    failure_reason,
    load_canvass_file,
)
from ingestion.errors import SourceFormatError
from scrutin.warehouse.batch import Batch, BatchLoad, Landed, load_batch
from scrutin.warehouse.ledger import file_sha256

if TYPE_CHECKING:
    import psycopg

    from ingestion.canvass.dropzone import DropZone
    from scrutin.campaign import Campaign

log = logging.getLogger("scrutin.ingestion.canvass.requeue")


@dataclass(frozen=True)
class Pending:
    """A loaded file with quarantined rows waiting for a replay."""

    sha256: str
    file_name: str
    source: str
    rows: int


@dataclass(frozen=True)
class Replay:
    """What replaying one file's pending rows did.

    `status`: `loaded` (some rows landed in batch `batch_id`), `unchanged` (none would land:
    nothing was written, the rows stay quarantined), `missing` (the file was not found).
    `reasons`: why the rows that still fail do, `{"<column>: <reason>": rows}`.
    """

    file_name: str
    sha256: str
    source: str
    status: Literal["loaded", "unchanged", "missing"]
    rows_replayed: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    batch_id: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if self.status == "missing":
            return (
                f"{self.file_name} ({self.source}): {self.rows_replayed} quarantined rows wait, "
                "but the file was not found: pass its path (or its folder)"
            )
        landed = f"batch {self.batch_id}, " if self.batch_id else ""
        return (
            f"{self.file_name} ({self.source}): {landed}{self.rows_replayed} rows replayed, "
            f"{self.rows_loaded} loaded, {self.rows_quarantined} still quarantined"
        )


@dataclass(frozen=True)
class Reoffer:
    """What offering one refused file again did: `loaded`, `skipped` (its bytes were loaded
    already), `refused` (still refused: `reason`), `not_forced` (left alone: no --force)."""

    file_name: str
    status: Literal["loaded", "skipped", "refused", "not_forced"]
    batch_id: int | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    moved_to: str | None = None


@dataclass
class RequeueReport:
    replays: list[Replay] = field(default_factory=list)
    refused_files: list[Reoffer] = field(default_factory=list)
    unknown_paths: list[str] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(r.rows_loaded for r in self.replays) + sum(
            r.rows_loaded for r in self.refused_files
        )

    @property
    def needs_attention(self) -> bool:
        """A file that could not be found, or a forced file still refused."""
        return any(r.status == "missing" for r in self.replays) or any(
            r.status == "refused" for r in self.refused_files
        )

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "rows_loaded": self.rows_loaded,
            "replays": [asdict(r) for r in self.replays],
            "refused_files": [asdict(r) for r in self.refused_files],
            "unknown_paths": self.unknown_paths,
        }


# ---- what waits -----------------------------------------------------------------------------


def pending_files(conn: psycopg.Connection) -> list[Pending]:
    """Loaded canvass files with quarantined rows not yet replayed, oldest first."""
    rows = conn.execute(
        """
        select
            l.file_sha256,
            (array_agg(l.file_name order by l.batch_id))[1],
            (array_agg(l.dataset_key order by l.batch_id))[1],
            count(*)
        from quarantine.canvass_rows as q
        inner join raw.batch_ledger as l on l.batch_id = q.batch_id
        where l.source = %s and l.status = 'loaded' and q.replayed_batch_id is null
        group by l.file_sha256
        order by min(l.batch_id)
        """,
        (LEDGER_SOURCE,),
    ).fetchall()
    return [Pending(str(r[0]), str(r[1]), str(r[2] or "unknown"), int(r[3])) for r in rows]


def ledger_status(conn: psycopg.Connection, sha256: str) -> str | None:
    """`loaded` when these bytes loaded as a canvass file, `failed` when only refused, else None."""
    row = conn.execute(
        "select bool_or(status = 'loaded'), bool_or(status = 'failed') from raw.batch_ledger "
        "where source = %s and file_sha256 = %s",
        (LEDGER_SOURCE, sha256),
    ).fetchone()
    if row is None or (not row[0] and not row[1]):
        return None
    return "loaded" if row[0] else "failed"


# ---- replaying quarantined rows -------------------------------------------------------------


class _NothingLanded(Exception):
    """Raised inside the replay's savepoint to undo a batch in which no row landed."""


def replay_file(
    url_or_conn: str | psycopg.Connection | None,
    path: Path,
    pending: Pending,
    *,
    campaign: Campaign,
    secret: str,
) -> Replay:
    """Replay the pending quarantined lines of one file (see the module docstring)."""
    job = _Job(
        path=path,
        file_name=pending.file_name,
        campaign=campaign,
        secret=secret,
        now=dt.datetime.now(dt.UTC),  # the retention check (prepare) is today's
        fmt=pending.source,
    )
    state: dict[str, Any] = {"lines": 0, "reasons": Counter()}

    def land(conn: psycopg.Connection, batch: Batch) -> Landed:
        rows = conn.execute(
            """
            select q.batch_id, q.line_no
            from quarantine.canvass_rows as q
            inner join raw.batch_ledger as l on l.batch_id = q.batch_id
            where l.source = %s and l.status = 'loaded' and l.file_sha256 = %s
                and q.replayed_batch_id is null and q.line_no is not null
            """,
            (LEDGER_SOURCE, pending.sha256),
        ).fetchall()
        if not rows:
            return Landed(0, 0)
        first = conn.execute(
            "select min(started_at) from raw.batch_ledger where source = %s "
            "and file_sha256 = %s and status = 'loaded'",
            (LEDGER_SOURCE, pending.sha256),
        ).fetchone()
        # Knock times are judged against the file's first load, as they were then: waiting for
        # a fix must not turn a clock error into a valid knock.
        job.now = first[0] if first and first[0] else job.now
        job.lines = frozenset(int(r[1]) for r in rows)
        state["lines"] = len(job.lines)
        try:
            with conn.transaction():  # a savepoint: undone when nothing lands
                landed = job.land(conn, batch)
                state["reasons"] = Counter(_reason(c, r) for _, c, r in job.quarantined)
                if job.rows_loaded == 0:
                    raise _NothingLanded
        except _NothingLanded:
            batch.batch_id = None
            return Landed(0, 0)
        conn.execute(
            """
            update quarantine.canvass_rows
            set replayed_batch_id = %s
            where (batch_id, line_no) in (
                select * from unnest(%s::bigint[], %s::integer[])
            ) and replayed_batch_id is null
            """,
            (batch.batch_id, [int(r[0]) for r in rows], [int(r[1]) for r in rows]),
        )
        return landed

    load = BatchLoad(
        source=LEDGER_SOURCE,
        path=path,
        ledger_name=pending.file_name,
        dataset_key=None,
        label=f"{pending.file_name} (requeue)",
        sha256=pending.sha256,
        force=True,  # the same bytes are loaded: that is the point, only pending lines are read
        error_text=failure_reason,
        traceback=False,  # frames hold export rows
        logger=log,
    )
    outcome = load_batch(url_or_conn, load, land, caller="replay_file", prepare=job.prepare)
    loaded = outcome.status == "loaded"
    reasons = dict(state["reasons"])
    replay = Replay(
        file_name=pending.file_name,
        sha256=pending.sha256,
        source=pending.source,
        status="loaded" if loaded else "unchanged",
        rows_replayed=state["lines"],
        rows_loaded=job.rows_loaded if loaded else 0,
        rows_quarantined=sum(reasons.values()),
        batch_id=outcome.batch_id if loaded else None,
        reasons=reasons,
    )
    log.info("%s", replay.summary())
    return replay


def _reason(column: str | None, reason: str) -> str:
    return f"{column}: {reason}" if column else reason


# ---- the command ----------------------------------------------------------------------------


def requeue(
    url: str | None,
    paths: list[Path] | None = None,
    *,
    force: bool = False,
    zone: DropZone | None = None,
    campaign: Campaign | None = None,
    secret: str | None = None,
) -> RequeueReport:
    """Replay every pending quarantined row whose file can be found, and with `force` offer the
    refused files again: the given paths, and the drop zone's `failed/` folder."""
    from ingestion.canvass.dropzone import DropZone
    from ingestion.canvass.mapping import load_mappings
    from ingestion.canvass.pseudonymise import resolve_secret
    from scrutin.campaign import load_campaign
    from scrutin.db import connect

    load_mappings()  # a broken mapping is named before anything is read or written
    campaign = campaign or load_campaign()
    secret = secret or resolve_secret()
    zone = zone or DropZone()
    report = RequeueReport()
    given = _files(paths or [])
    with connect(url, autocommit=True) as conn:
        pending = pending_files(conn)
        statuses = {p: ledger_status(conn, sha) for p, sha in given.items()}
    by_sha = _candidates(given, zone, pending)
    for item in pending:
        path = by_sha.get(item.sha256)
        if path is None:
            report.replays.append(
                Replay(item.file_name, item.sha256, item.source, "missing", item.rows)
            )
            continue
        report.replays.append(replay_file(url, path, item, campaign=campaign, secret=secret))
    for found, status in statuses.items():
        if status == "failed":
            report.refused_files.append(
                _reoffer(url, found, campaign, secret)
                if force
                else Reoffer(found.name, "not_forced", reason="refused before: pass --force")
            )
        elif status is None:
            report.unknown_paths.append(str(found))
    if force:
        report.refused_files.extend(_reoffer_failed_folder(url, zone, campaign, secret))
    else:
        from ingestion.canvass.dropzone import FAILED

        report.refused_files.extend(
            Reoffer(name, "not_forced", reason="refused before: pass --force to load it again")
            for name in zone.deliveries(FAILED)
        )
    return report


def _candidates(given: dict[Path, str], zone: DropZone, pending: list[Pending]) -> dict[str, Path]:
    """{sha256: a file to read} among the paths given and, for a local drop zone, the files of
    its root and `processed/` that may be one of the pending files."""
    candidates = dict(given)
    if zone.local:
        wanted = {p.file_name for p in pending}
        for folder in ("", "processed"):
            base = Path(zone.root) / folder
            if not base.is_dir():
                continue
            for found in base.iterdir():
                if found.is_file() and found not in candidates and _maybe(found.name, wanted):
                    candidates[found] = file_sha256(found)
    by_sha: dict[str, Path] = {}
    for found, sha in candidates.items():
        by_sha.setdefault(sha, found)
    return by_sha


def _files(paths: list[Path]) -> dict[Path, str]:
    """Each given file (a folder: its files) with its sha256."""
    from ingestion.canvass.dropzone import IGNORED_SUFFIXES

    files: dict[Path, str] = {}
    for path in paths:
        if path.is_dir():
            members = sorted(p for p in path.iterdir() if p.is_file())
        elif path.is_file():
            members = [path]
        else:
            raise SourceFormatError(path, None, None, "no such file or folder")
        for member in members:
            if not member.name.endswith(IGNORED_SUFFIXES):
                files[member] = file_sha256(member)
    return files


def _maybe(name: str, wanted: set[str]) -> bool:
    """Could this drop-zone file be one of the ledger's names? (`processed/` may have added
    `-<batch>` to a name already taken.) Only those are hashed."""
    for original in wanted:
        stem, dot, suffix = original.partition(".")
        if name == original or (name.startswith(stem + "-") and name.endswith(dot + suffix)):
            return True
    return False


def _reoffer(url: str | None, path: Path, campaign: Campaign, secret: str) -> Reoffer:
    try:
        loaded: CanvassLoadReport = load_canvass_file(
            url, path, campaign=campaign, secret=secret, file_name=path.name
        )
    except SourceFormatError as exc:
        return Reoffer(path.name, "refused", reason=failure_reason(exc))
    status: Literal["loaded", "skipped"] = "skipped" if loaded.status == "skipped" else "loaded"
    return Reoffer(
        path.name,
        status,
        batch_id=loaded.loaded_batch_id,
        rows_loaded=loaded.rows_loaded if status == "loaded" else 0,
        rows_quarantined=loaded.rows_rejected if status == "loaded" else 0,
    )


def _reoffer_failed_folder(
    url: str | None, zone: DropZone, campaign: Campaign, secret: str
) -> list[Reoffer]:
    """The drop zone's refused files, loaded again; those that load move to `processed/`, the
    others get today's reason."""
    from ingestion.canvass.dropzone import FAILED, PROCESSED

    results = []
    for name in zone.deliveries(FAILED):
        with zone.local_copy(name, FAILED) as path:
            result = _reoffer(url, path, campaign, secret)
        if result.status == "refused":
            zone.write_reason(
                zone.path_of(FAILED, name),
                f"{name} was refused again by `scrutin canvass requeue --force` at "
                f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}.\n\n{result.reason}\n",
            )
            results.append(result)
            continue
        moved = zone.move(name, PROCESSED, str(result.batch_id), from_folder=FAILED)
        zone.remove_reason(zone.path_of(FAILED, name))
        results.append(
            Reoffer(
                result.file_name,
                result.status,
                result.batch_id,
                result.rows_loaded,
                result.rows_quarantined,
                moved_to=moved,
            )
        )
    return results
