"""Load one census file into `raw.census_iris` and `raw.census_iris_values` (all or nothing).

Semantics (the contract of the other loaders, keyed by `<theme>:<vintage>`):
- Idempotent: the same bytes (sha256) already `loaded` for the same theme and vintage are
  skipped; a `skipped` ledger row records the attempt.
- Replacing: another file for the same theme and vintage (a corrected republication) replaces
  its rows; earlier batches are marked `superseded` (kept in the ledger, never deleted).
- All or nothing: ledger row, deletion of the replaced rows and COPY of the new ones share one
  transaction; a refused line rolls it all back, the failure is recorded in its own transaction
  and the error re-raised. A census file is never partially loaded: a missing IRIS would
  silently shrink the population allocated to its polling stations.
- Streaming: IRIS rows go through COPY in chunks (IRIS rows, then their values; one connection
  cannot run two COPYs at once), so a national file never sits in memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ingestion.census.parser import CensusFile, IrisRecord
from ingestion.census.registry import CensusFileSpec
from ingestion.errors import SourceFormatError
from scrutin.db import connect
from scrutin.warehouse import ledger
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrutin.ingestion.census")

SOURCE = "census"
PROGRESS_EVERY = 10_000
DEFAULT_CHUNK_ROWS = 1_000

_IRIS_COPY = (
    "copy raw.census_iris ("
    "batch_id, vintage, geo_year, theme, source_line, code_iris, code_commune, "
    "libiris, libcom, typ_iris, lab_iris, modif_iris, grd_quart, triris, reg, dep, unite_urbaine"
    ") from stdin"
)
_VALUES_COPY = (
    "copy raw.census_iris_values ("
    "batch_id, vintage, geo_year, theme, code_iris, code_commune, "
    "prefix, indicator, value, masked, mask_code"
    ") from stdin"
)


@dataclass(frozen=True, slots=True)
class CensusLoadReport:
    """What one call did; `loaded_batch_id` is the batch whose rows now hold this file."""

    batch_id: int
    status: Literal["loaded", "skipped"]
    theme: str
    vintage: int
    geo_year: int
    iris_rows: int
    value_rows: int
    masked_values: int
    indicators: int
    duration_s: float
    sha256: str
    loaded_batch_id: int
    data_member: str | None = None
    columns_ignored: tuple[str, ...] = ()
    columns_other_years: tuple[str, ...] = ()
    superseded: tuple[int, ...] = ()


@dataclass(slots=True)
class _Job:
    path: Path
    spec: CensusFileSpec
    sha256: str
    chunk_rows: int
    started: float
    iris_rows: int = 0
    value_rows: int = 0
    masked: int = 0
    indicators: int = 0
    member: str | None = None
    ignored: tuple[str, ...] = ()
    other_years: tuple[str, ...] = ()
    superseded: list[int] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def load_census_file(
    url_or_conn: str | psycopg.Connection | None,
    path: str | Path,
    spec: CensusFileSpec,
    *,
    sha256: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> CensusLoadReport:
    """Load `path` as described by `spec` (see `ingestion.census.detect` to build one).

    `url_or_conn`: a DSN, None for the configured warehouse, or an open psycopg connection with
    no transaction in progress (the load and its failure record are separate transactions).
    `sha256`: the file's digest when the caller already computed it.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    path = Path(path)
    if url_or_conn is None or isinstance(url_or_conn, str):
        url = url_or_conn
        with connect(url) as conn:
            return _load(conn, path, spec, sha256, chunk_rows, reconnect=lambda: connect(url))
    return _load(url_or_conn, path, spec, sha256, chunk_rows, reconnect=None)


def _load(
    conn: psycopg.Connection,
    path: Path,
    spec: CensusFileSpec,
    sha256: str | None,
    chunk_rows: int,
    *,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> CensusLoadReport:
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            "load_census_file commits its own transactions: pass a connection with no "
            "transaction open (autocommit, or after commit/rollback)"
        )
    started = time.perf_counter()
    require_migrated(conn)
    job = _Job(path, spec, sha256 or ledger.file_sha256(path), chunk_rows, started)
    log.info(
        "loading %s as census %s %s (geography %s, sha256 %s)",
        path.name,
        spec.theme,
        spec.vintage,
        spec.geo_year,
        job.sha256[:12],
    )
    try:
        with conn.transaction():
            conn.execute(
                "select pg_advisory_xact_lock(hashtext('scrutin.census'), hashtext(%s))",
                (spec.dataset_key,),
            )
            existing = ledger.find_loaded_batch(conn, SOURCE, job.sha256, spec.dataset_key)
            report = _skip(conn, job, existing) if existing is not None else _replace(conn, job)
    except Exception as exc:
        _record_failure(conn, job, exc, reconnect)
        raise
    _log_summary(job, report)
    return report


def _skip(conn: psycopg.Connection, job: _Job, existing: int) -> CensusLoadReport:
    duration = job.elapsed()
    batch_id = ledger.record_skipped(
        conn, SOURCE, job.path, job.sha256, job.spec.dataset_key, duration_s=duration
    )
    spec = job.spec
    return CensusLoadReport(
        batch_id=batch_id,
        status="skipped",
        theme=spec.theme,
        vintage=spec.vintage,
        geo_year=spec.geo_year,
        iris_rows=0,
        value_rows=0,
        masked_values=0,
        indicators=0,
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=existing,
    )


def _replace(conn: psycopg.Connection, job: _Job) -> CensusLoadReport:
    spec = job.spec
    batch_id = ledger.start_batch(conn, SOURCE, job.path, job.sha256, spec.dataset_key)
    job.superseded = ledger.supersede_batches(conn, SOURCE, spec.dataset_key, keep=batch_id)
    for table in ("census_iris_values", "census_iris"):
        conn.execute(
            f"delete from raw.{table} where theme = %s and vintage = %s",
            (spec.theme, spec.vintage),
        )
    _copy_file(conn, job, batch_id)
    duration = job.elapsed()
    ledger.finish_batch(
        conn,
        batch_id,
        status="loaded",
        rows_read=job.iris_rows,
        rows_loaded=job.iris_rows,
        rows_rejected=0,
        duration_s=duration,
    )
    return CensusLoadReport(
        batch_id=batch_id,
        status="loaded",
        theme=spec.theme,
        vintage=spec.vintage,
        geo_year=spec.geo_year,
        iris_rows=job.iris_rows,
        value_rows=job.value_rows,
        masked_values=job.masked,
        indicators=job.indicators,
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=batch_id,
        data_member=job.member,
        columns_ignored=job.ignored,
        columns_other_years=job.other_years,
        superseded=tuple(job.superseded),
    )


def _copy_file(conn: psycopg.Connection, job: _Job, batch_id: int) -> None:
    spec = job.spec
    with CensusFile(job.path, spec) as census, conn.cursor() as cur:
        header = census.header
        assert header is not None and census.source is not None
        if header.is_filosofi != (spec.theme == "filosofi"):
            found = "Filosofi (DISP_/DEC_)" if header.is_filosofi else "base-ic (P../C..)"
            raise SourceFormatError(
                census.display_path,
                1,
                None,
                f"declared theme {spec.theme!r} but the indicator columns are {found}",
            )
        job.member = census.source.member
        job.ignored = header.ignored
        job.other_years = header.other_years
        job.indicators = len(header.indicators)
        if header.ignored:
            log.warning("%s: columns not loaded: %s", job.path.name, ", ".join(header.ignored))
        if header.other_years:
            log.info(
                "%s: %d columns of other years than %d not loaded (e.g. %s)",
                job.path.name,
                len(header.other_years),
                spec.vintage,
                header.other_years[0],
            )
        chunk: list[IrisRecord] = []
        for record in census:
            chunk.append(record)
            if len(chunk) >= job.chunk_rows:
                _copy_chunk(cur, chunk, batch_id, job)
                chunk.clear()
        if chunk:
            _copy_chunk(cur, chunk, batch_id, job)
        job.masked = census.stats.masked


def _copy_chunk(cur: psycopg.Cursor, chunk: list[IrisRecord], batch_id: int, job: _Job) -> None:
    spec = job.spec
    head = (batch_id, spec.vintage, spec.geo_year, spec.theme)
    with cur.copy(_IRIS_COPY) as copy:
        for record in chunk:
            copy.write_row(
                (
                    *head,
                    record.source_line,
                    record.code_iris,
                    record.code_commune,
                    *record.attributes,
                )
            )
    # Values are written as COPY text lines, not with write_row: every field is a validated
    # code, an indicator name ([A-Z0-9_]), a mask token or a float, so nothing needs escaping,
    # and building the lines here is ~3x faster than per-value adaptation on national files.
    lead = "\t".join(str(x) for x in head)
    with cur.copy(_VALUES_COPY) as copy:
        for record in chunk:
            keys = f"{lead}\t{record.code_iris}\t{record.code_commune}\t"
            copy.write(
                "".join(
                    f"{keys}{prefix}\t{indicator}\t"
                    + (f"\\N\tt\t{code}\n" if masked else f"{value!r}\tf\t\\N\n")
                    for prefix, indicator, value, masked, code in record.values
                )
            )
            job.value_rows += len(record.values)
    before = job.iris_rows
    job.iris_rows += len(chunk)
    if job.iris_rows // PROGRESS_EVERY > before // PROGRESS_EVERY:
        log.info("%s: %d IRIS loaded", job.path.name, job.iris_rows)


def _record_failure(
    conn: psycopg.Connection,
    job: _Job,
    exc: Exception,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> None:
    """Write the failed batch; never mask the original error if the ledger is unreachable."""
    error = str(exc) if isinstance(exc, SourceFormatError) else f"{type(exc).__name__}: {exc}"
    duration = job.elapsed()
    log.error("census load of %s failed after %.2fs: %s", job.path.name, duration, error)

    ledger.record_failure(
        conn,
        reconnect,
        source=SOURCE,
        path=job.path,
        sha256=job.sha256,
        dataset_keys=[job.spec.dataset_key],
        error=error,
        rows_read=job.iris_rows,
        duration_s=duration,
    )


def _log_summary(job: _Job, report: CensusLoadReport) -> None:
    if report.status == "skipped":
        log.info(
            "%s skipped: identical file already loaded as batch %d (ledger batch %d)",
            job.path.name,
            report.loaded_batch_id,
            report.batch_id,
        )
        return
    rate = report.value_rows / report.duration_s if report.duration_s > 0 else float("inf")
    log.info(
        "%s loaded as %s %d: batch %d, %d IRIS, %d values (%d masked) in %.2fs (%.0f values/s)%s",
        job.path.name,
        report.theme,
        report.vintage,
        report.batch_id,
        report.iris_rows,
        report.value_rows,
        report.masked_values,
        report.duration_s,
        rate,
        f", superseded batches {list(report.superseded)}" if report.superseded else "",
    )
