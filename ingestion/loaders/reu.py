"""Load an INSEE REU table file (`table-bv-reu` or `table-adresses-reu`) into `raw`.

Semantics (the same contract as the results loader, keyed by commune instead of election):
- Idempotent: the same bytes (sha256) already `loaded` as the same table are skipped and a
  `skipped` ledger row records the attempt.
- Replacing by commune: a new file replaces the rows of the communes it covers (a department
  extract does not wipe the rest of the country); an earlier batch left with no row is marked
  `superseded` in the ledger (kept, never deleted).
- All or nothing: ledger row, COPY of the new rows and deletion of the replaced ones share one
  transaction; a refused line rolls it all back and the failure is then recorded in its own
  transaction, and re-raised.
- Streaming: rows go through COPY in chunks, memory stays bounded on the national file
  (~14 million address rows); the set of communes seen is the only thing that grows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ingestion.errors import SourceFormatError
from ingestion.sources.reu import (
    REU_TABLES,
    AddressRow,
    BureauRow,
    ReuTable,
    describe_file,
    iter_reu_rows,
)
from scrutin.db import connect
from scrutin.warehouse import ledger
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrutin.ingestion.reu")

SOURCE = "reu"
PROGRESS_EVERY = 500_000
DEFAULT_CHUNK_ROWS = 50_000

TARGET_TABLES: dict[ReuTable, str] = {"bv": "raw.reu_bureaux", "adresses": "raw.reu_addresses"}

_BUREAU_COPY = (
    "copy raw.reu_bureaux ("
    "batch_id, source_line, id_brut_reu, id_brut_insee, id_brut_miom, code_commune, "
    "code_commune_results, code, code_bv, bureau_id, libelle_reu, num_voie_reu, voie_reu, "
    "cp_reu, commune_reu, nb_adresses_initial, nb_adresses_final"
    ") from stdin"
)
_ADDRESS_COPY = (
    "copy raw.reu_addresses ("
    "batch_id, source_line, code_commune_ref, reconstitution_code_commune, id_brut_bv_reu, "
    "code_commune, code_commune_results, code_bv, bureau_id, ban_id, geo_adresse, geo_type, "
    "geo_score, longitude, latitude, api_line, nb_bv_commune, nb_adresses, address_key"
    ") from stdin"
)


def reu_landing_dir() -> Path:
    """SCRUTIN_REU_DIR, default the bundled sample folder data/sample/reu/."""
    from scrutin.config import landing_dir

    return landing_dir("reu")


def reu_files(folder: Path | None = None) -> list[Path]:
    """The REU table files of the landing folder (`*.csv`, `*.csv.gz`), in name order."""
    folder = folder or reu_landing_dir()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: the REU landing folder (SCRUTIN_REU_DIR) does not exist"
        )
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.name.endswith((".csv", ".csv.gz"))
    )


@dataclass(frozen=True, slots=True)
class ReuLoadReport:
    """What one call did; `loaded_batch_id` is the batch whose rows now hold this file."""

    batch_id: int
    status: Literal["loaded", "skipped"]
    table: ReuTable
    rows_read: int
    rows_loaded: int
    communes: tuple[str, ...]
    rows_replaced: int
    duration_s: float
    sha256: str
    loaded_batch_id: int
    columns_missing: tuple[str, ...] = ()
    superseded: tuple[int, ...] = ()


@dataclass(slots=True)
class _Job:
    path: Path
    table: ReuTable
    sha256: str
    chunk_rows: int
    started: float
    rows_read: int = 0
    communes: set[str] = field(default_factory=set)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def load_reu_file(
    url_or_conn: str | psycopg.Connection | None,
    path: str | Path,
    table: ReuTable | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ReuLoadReport:
    """Load one REU table file; `table` (`bv`/`adresses`) is detected from the header if None.

    `url_or_conn`: a DSN, None for the configured warehouse, or an open psycopg connection with
    no transaction in progress (the load and its failure record are separate transactions).
    """
    if table is not None and table not in REU_TABLES:
        raise ValueError(f"table must be one of {REU_TABLES}, got {table!r}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    path = Path(path)
    if url_or_conn is None or isinstance(url_or_conn, str):
        url = url_or_conn
        with connect(url) as conn:
            return _load(conn, path, table, chunk_rows, lambda: connect(url))
    return _load(url_or_conn, path, table, chunk_rows, None)


def _load(
    conn: psycopg.Connection,
    path: Path,
    table: ReuTable | None,
    chunk_rows: int,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> ReuLoadReport:
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            "load_reu_file commits its own transactions: pass a connection with no "
            "transaction open (autocommit, or after commit/rollback)"
        )
    started = time.perf_counter()
    require_migrated(conn)
    sha = ledger.file_sha256(path)
    job = _Job(path, table or "adresses", sha, chunk_rows, started)
    try:
        described = describe_file(path, table)
        job.table = described.table
        log.info(
            "loading %s as REU table %s (sha256 %s)%s",
            path.name,
            job.table,
            sha[:12],
            f"; absent optional columns -> NULL: {', '.join(described.columns_missing)}"
            if described.columns_missing
            else "",
        )
        with conn.transaction():
            conn.execute(
                "select pg_advisory_xact_lock(hashtext('scrutin.reu'), hashtext(%s))",
                (job.table,),
            )
            existing = ledger.find_loaded_batch(conn, SOURCE, sha, job.table)
            if existing is not None:
                report = _skip(conn, job, existing)
            else:
                report = _replace(conn, job, described.columns_missing)
    except Exception as exc:
        _record_failure(conn, job, exc, reconnect)
        raise
    _log_summary(job, report)
    return report


def _skip(conn: psycopg.Connection, job: _Job, existing: int) -> ReuLoadReport:
    duration = job.elapsed()
    batch_id = ledger.record_skipped(
        conn, SOURCE, job.path, job.sha256, job.table, duration_s=duration
    )
    return ReuLoadReport(
        batch_id=batch_id,
        status="skipped",
        table=job.table,
        rows_read=0,
        rows_loaded=0,
        communes=(),
        rows_replaced=0,
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=existing,
    )


def _replace(
    conn: psycopg.Connection, job: _Job, columns_missing: tuple[str, ...]
) -> ReuLoadReport:
    batch_id = ledger.start_batch(conn, SOURCE, job.path, job.sha256, job.table)
    _copy_file(conn, job, batch_id)
    if job.rows_read == 0:
        raise SourceFormatError(job.path, 2, None, "no data row: expected at least one row")
    target = TARGET_TABLES[job.table]
    communes = sorted(job.communes)
    replaced = conn.execute(
        f"delete from {target} where code_commune = any(%s) and batch_id <> %s",
        (communes, batch_id),
    ).rowcount
    superseded = supersede_emptied_batches(conn, SOURCE, job.table, target, keep=batch_id)
    duration = job.elapsed()
    ledger.finish_batch(
        conn,
        batch_id,
        status="loaded",
        rows_read=job.rows_read,
        rows_loaded=job.rows_read,
        duration_s=duration,
    )
    return ReuLoadReport(
        batch_id=batch_id,
        status="loaded",
        table=job.table,
        rows_read=job.rows_read,
        rows_loaded=job.rows_read,
        communes=tuple(communes),
        rows_replaced=replaced,
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=batch_id,
        columns_missing=columns_missing,
        superseded=tuple(superseded),
    )


def supersede_emptied_batches(
    conn: psycopg.Connection, source: str, dataset_key: str, table: str, *, keep: int
) -> list[int]:
    """Mark `superseded` the loaded batches of `source`/`dataset_key` that no longer hold a row.

    Replacement is per commune, so an older batch is superseded only once every one of its
    communes was reloaded; until then it still holds the others and stays `loaded`.
    """
    rows = conn.execute(
        "update raw.batch_ledger as l set status = 'superseded' "
        "where l.source = %s and l.dataset_key = %s and l.status = 'loaded' "
        f"and l.batch_id <> %s and not exists (select 1 from {table} as t "
        "where t.batch_id = l.batch_id) returning l.batch_id",
        (source, dataset_key, keep),
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def _copy_file(conn: psycopg.Connection, job: _Job, batch_id: int) -> None:
    statement = _ADDRESS_COPY if job.table == "adresses" else _BUREAU_COPY
    rows = iter_reu_rows(job.path, job.table)
    with conn.cursor() as cur:
        exhausted = False
        while not exhausted:
            with cur.copy(statement) as copy:
                for written, row in enumerate(rows, start=1):
                    copy.write_row(_values(row, batch_id))
                    job.communes.add(row.code_commune)
                    job.rows_read += 1
                    if job.rows_read % PROGRESS_EVERY == 0:
                        log.info("%s: %d rows read", job.path.name, job.rows_read)
                    if written >= job.chunk_rows:
                        break
                else:
                    exhausted = True


def _values(row: BureauRow | AddressRow, batch_id: int) -> tuple[object, ...]:
    if isinstance(row, AddressRow):
        return (
            batch_id,
            row.source_line,
            row.code_commune_ref,
            row.reconstitution_code_commune,
            row.id_brut_bv_reu,
            row.code_commune,
            row.code_commune_results,
            row.code_bv,
            row.bureau_id,
            row.ban_id,
            row.geo_adresse,
            row.geo_type,
            row.geo_score,
            row.longitude,
            row.latitude,
            row.api_line,
            row.nb_bv_commune,
            row.nb_adresses,
            row.address_key,
        )
    return (
        batch_id,
        row.source_line,
        row.id_brut_reu,
        row.id_brut_insee,
        row.id_brut_miom,
        row.code_commune,
        row.code_commune_results,
        row.code,
        row.code_bv,
        row.bureau_id,
        row.libelle_reu,
        row.num_voie_reu,
        row.voie_reu,
        row.cp_reu,
        row.commune_reu,
        row.nb_adresses_initial,
        row.nb_adresses_final,
    )


def _record_failure(
    conn: psycopg.Connection,
    job: _Job,
    exc: Exception,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> None:
    """Write the failed batch; never mask the original error if the ledger is unreachable."""
    error = str(exc) if isinstance(exc, SourceFormatError) else f"{type(exc).__name__}: {exc}"
    duration = job.elapsed()
    log.error(
        "load of %s (REU %s) failed after %.2fs: %s", job.path.name, job.table, duration, error
    )

    ledger.record_failure(
        conn,
        reconnect,
        source=SOURCE,
        path=job.path,
        sha256=job.sha256,
        dataset_keys=[job.table],
        error=error,
        rows_read=job.rows_read,
        duration_s=duration,
    )


def _log_summary(job: _Job, report: ReuLoadReport) -> None:
    if report.status == "skipped":
        log.info(
            "%s (REU %s) skipped: identical file already loaded as batch %d (ledger batch %d)",
            job.path.name,
            report.table,
            report.loaded_batch_id,
            report.batch_id,
        )
        return
    rate = report.rows_read / report.duration_s if report.duration_s > 0 else float("inf")
    log.info(
        "%s (REU %s) loaded: batch %d, %d rows for %d communes in %.2fs (%.0f rows/s), "
        "%d earlier rows replaced%s",
        job.path.name,
        report.table,
        report.batch_id,
        report.rows_read,
        len(report.communes),
        report.duration_s,
        rate,
        report.rows_replaced,
        f", superseded batches {list(report.superseded)}" if report.superseded else "",
    )
