"""Load the campaign's electoral-roll extract into `raw` as counts only (no identity, ever).

The file is aggregated in Python while it is read (`ingestion.sources.roll.aggregate_roll`);
only the counts are COPYed, into `raw.roll_bureau_counts` and `raw.roll_bureau_doors`. The file
itself is never copied, archived or uploaded anywhere: it stays where the operator put it.

Semantics:
- Idempotent: the same bytes (sha256) already `loaded` with the same reference date are skipped
  (a `skipped` ledger row records the attempt). The same file with another `--as-of` is a new
  load: its age bands differ.
- Replacing by commune: a new extract replaces the counts of the communes it covers (one REU
  export per commune is the norm; a constituency campaign loads several). An earlier batch left
  with no row is marked `superseded` in the ledger.
- All or nothing: ledger row, COPY of the counts, quarantine rows and deletion of the replaced
  counts share one transaction; a refused file leaves the previous counts in place and the
  failure is recorded in its own transaction (the error names file, line and column, never a
  value), then re-raised.
- Lines without a bureau code are left out of the counts and recorded in
  `quarantine.rejected_rows` (line number, column, reason: no content).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ingestion.errors import SourceFormatError
from ingestion.loaders.reu import supersede_emptied_batches
from ingestion.sources.roll import (
    RollAggregate,
    RollMapping,
    aggregate_roll,
    load_mapping,
    resolve_reference_date,
)
from scrutin.db import connect
from scrutin.warehouse import ledger
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrutin.ingestion.roll")

SOURCE = "roll"
DATASET_KEY = "roll"
"""One dataset for the ledger: replacement is per commune, decided from the rows themselves."""

_COUNTS_COPY = (
    "copy raw.roll_bureau_counts (batch_id, reference_date, code_commune, code_commune_results, "
    "code_bv, bureau_id, list_type, age_band, sex, voters) from stdin"
)
_DOORS_COPY = (
    "copy raw.roll_bureau_doors (batch_id, reference_date, code_commune, code_commune_results, "
    "code_bv, bureau_id, doors) from stdin"
)
_QUARANTINE_COPY = (
    "copy quarantine.rejected_rows (batch_id, source, file_name, line_no, column_name, reason) "
    "from stdin"
)


def roll_landing_dir() -> Path:
    """SCRUTIN_ROLL_DIR, default the bundled synthetic extracts in data/sample/roll/."""
    from scrutin.config import landing_dir

    return landing_dir("roll")


def roll_files(folder: Path | None = None) -> list[Path]:
    """The roll extracts of the landing folder (`*.csv`), in name order."""
    folder = folder or roll_landing_dir()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: the roll landing folder (SCRUTIN_ROLL_DIR) does not exist"
        )
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(".csv")
    )


@dataclass(frozen=True, slots=True)
class RollLoadReport:
    """What one call did (counts only); `loaded_batch_id` holds this file's counts now."""

    batch_id: int
    status: Literal["loaded", "skipped"]
    reference_date: dt.date
    reference_date_source: str
    communes: tuple[str, ...]
    bureaux: int
    electors_read: int
    electors_counted: int
    rows_rejected: int
    electors_without_address: int
    count_cells: int
    doors: int
    duration_s: float
    sha256: str
    loaded_batch_id: int
    superseded: tuple[int, ...] = ()


def load_roll_file(
    url_or_conn: str | psycopg.Connection | None,
    path: str | Path,
    *,
    mapping: RollMapping | str | Path | None = None,
    as_of: dt.date | None = None,
) -> RollLoadReport:
    """Aggregate and load one roll extract; see the module docstring.

    `mapping`: a RollMapping, a mapping YAML path, or None for config/roll_mapping.yml.
    `as_of`: the reference date of the ages; None takes the date in the REU file name.
    `url_or_conn`: a DSN, None for the configured warehouse, or an idle psycopg connection.
    """
    path = Path(path)
    if not isinstance(mapping, RollMapping):
        mapping = load_mapping(mapping)
    if url_or_conn is None or isinstance(url_or_conn, str):
        url = url_or_conn
        with connect(url) as conn:
            return _load(conn, path, mapping, as_of, lambda: connect(url))
    return _load(url_or_conn, path, mapping, as_of, None)


def _load(
    conn: psycopg.Connection,
    path: Path,
    mapping: RollMapping,
    as_of: dt.date | None,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> RollLoadReport:
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            "load_roll_file commits its own transactions: pass a connection with no "
            "transaction open (autocommit, or after commit/rollback)"
        )
    started = time.perf_counter()
    require_migrated(conn)
    sha = ledger.file_sha256(path)
    log.info(
        "loading roll extract %s (sha256 %s, mapping: %s)", path.name, sha[:12], mapping.origin
    )
    try:
        reference_date, _ = resolve_reference_date(path, as_of)
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('scrutin.roll'))")
            existing = _find_loaded(conn, sha, reference_date)
            if existing is not None:
                report = _skip(
                    conn,
                    path,
                    sha=sha,
                    existing=existing,
                    reference_date=reference_date,
                    started=started,
                )
            else:
                aggregate = aggregate_roll(path, mapping=mapping, as_of=as_of)
                report = _store(conn, path, sha, aggregate, started)
    except Exception as exc:
        _record_failure(conn, path, sha=sha, exc=exc, started=started, reconnect=reconnect)
        raise
    _log_summary(path, report)
    return report


def _find_loaded(conn: psycopg.Connection, sha: str, reference_date: dt.date) -> int | None:
    row = conn.execute(
        "select l.batch_id from raw.batch_ledger as l "
        "where l.source = %s and l.file_sha256 = %s and l.status = 'loaded' "
        "and exists (select 1 from raw.roll_bureau_counts as c "
        "where c.batch_id = l.batch_id and c.reference_date = %s) "
        "order by l.batch_id desc limit 1",
        (SOURCE, sha, reference_date),
    ).fetchone()
    return int(row[0]) if row else None


def _skip(
    conn: psycopg.Connection,
    path: Path,
    *,
    sha: str,
    existing: int,
    reference_date: dt.date,
    started: float,
) -> RollLoadReport:
    duration = time.perf_counter() - started
    batch_id = ledger.record_skipped(conn, SOURCE, path, sha, DATASET_KEY, duration_s=duration)
    return RollLoadReport(
        batch_id=batch_id,
        status="skipped",
        reference_date=reference_date,
        reference_date_source="",
        communes=(),
        bureaux=0,
        electors_read=0,
        electors_counted=0,
        rows_rejected=0,
        electors_without_address=0,
        count_cells=0,
        doors=0,
        duration_s=duration,
        sha256=sha,
        loaded_batch_id=existing,
    )


def _store(
    conn: psycopg.Connection, path: Path, sha: str, agg: RollAggregate, started: float
) -> RollLoadReport:
    if agg.electors_counted == 0:
        raise SourceFormatError(
            path, None, None, "no elector could be counted: every line lacks a bureau code"
        )
    batch_id = ledger.start_batch(conn, SOURCE, path, sha, DATASET_KEY)
    ref = agg.reference_date
    count_cells = 0
    with conn.cursor() as cur:
        with cur.copy(_COUNTS_COPY) as copy:
            for row in agg.count_rows():
                copy.write_row((batch_id, ref, *row))
                count_cells += 1
        with cur.copy(_DOORS_COPY) as copy:
            for door_row in agg.door_rows():
                copy.write_row((batch_id, ref, *door_row))
        if agg.rejected:
            with cur.copy(_QUARANTINE_COPY) as copy:
                for rejected in agg.rejected:
                    copy.write_row(
                        (
                            batch_id,
                            SOURCE,
                            path.name,
                            rejected.line,
                            rejected.column,
                            rejected.reason,
                        )
                    )
    communes = list(agg.communes)
    for table in ("raw.roll_bureau_counts", "raw.roll_bureau_doors"):
        conn.execute(
            f"delete from {table} where code_commune = any(%s) and batch_id <> %s",
            (communes, batch_id),
        )
    superseded = supersede_emptied_batches(
        conn, SOURCE, DATASET_KEY, "raw.roll_bureau_counts", keep=batch_id
    )
    duration = time.perf_counter() - started
    ledger.finish_batch(
        conn,
        batch_id,
        status="loaded",
        rows_read=agg.electors_read,
        rows_loaded=agg.electors_counted,
        rows_rejected=len(agg.rejected),
        duration_s=duration,
    )
    return RollLoadReport(
        batch_id=batch_id,
        status="loaded",
        reference_date=ref,
        reference_date_source=agg.reference_date_source,
        communes=tuple(communes),
        bureaux=len(agg.bureaux),
        electors_read=agg.electors_read,
        electors_counted=agg.electors_counted,
        rows_rejected=len(agg.rejected),
        electors_without_address=agg.electors_without_address,
        count_cells=count_cells,
        doors=sum(agg.doors.values()),
        duration_s=duration,
        sha256=sha,
        loaded_batch_id=batch_id,
        superseded=tuple(superseded),
    )


def _record_failure(
    conn: psycopg.Connection,
    path: Path,
    *,
    sha: str,
    exc: Exception,
    started: float,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> None:
    """Record the failure. Only our own messages are trusted to carry no content: for any other
    exception the ledger keeps the type alone (a driver error could quote a value)."""
    error = str(exc) if isinstance(exc, SourceFormatError) else type(exc).__name__
    duration = time.perf_counter() - started
    log.error("load of roll extract %s failed after %.2fs: %s", path.name, duration, error)

    ledger.record_failure(
        conn,
        reconnect,
        source=SOURCE,
        path=path,
        sha256=sha,
        dataset_keys=[DATASET_KEY],
        error=error,
        duration_s=duration,
        traceback=False,  # never log a traceback: its frames may hold roll lines
    )


def _log_summary(path: Path, report: RollLoadReport) -> None:
    if report.status == "skipped":
        log.info(
            "roll extract %s skipped: identical file already loaded as batch %d with reference "
            "date %s (ledger batch %d)",
            path.name,
            report.loaded_batch_id,
            report.reference_date.isoformat(),
            report.batch_id,
        )
        return
    log.info(
        "roll extract %s loaded: batch %d, %d electors read, %d counted in %d bureaux of %s "
        "(ages at %s, from the %s), %d rejected, %d doors, %d count cells in %.2fs%s",
        path.name,
        report.batch_id,
        report.electors_read,
        report.electors_counted,
        report.bureaux,
        ", ".join(report.communes),
        report.reference_date.isoformat(),
        report.reference_date_source,
        report.rows_rejected,
        report.doors,
        report.count_cells,
        report.duration_s,
        f", superseded batches {list(report.superseded)}" if report.superseded else "",
    )
