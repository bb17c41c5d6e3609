"""Load a Ministry 2024 per-bureau results file into `raw` (all or nothing, idempotent).

Semantics a DAG and an engineer rely on:
- Idempotent: the same bytes (sha256) already `loaded` for the same election are skipped; the
  data tables are not touched and a `skipped` ledger row records the attempt.
- Replacing: a different file for an election replaces that election's rows; the earlier
  batches are marked `superseded` in the ledger (kept, never deleted).
- All or nothing: ledger row, deletion of the old rows and COPY of the new ones share one
  transaction. A refused line (`SourceFormatError`) or a database error rolls it all back, so
  the previous version of the election stays in place; the failure is then written to the
  ledger in its own transaction and the error is re-raised for the caller (Airflow fails the
  task). A results file is never partially loaded: a missing bureau would silently bias every
  score of its constituency, so there is no row-level quarantine here (`rows_rejected` is 0).
- Serialised per election: concurrent loads of one election (a manual run beside a scheduled
  one) take an advisory lock, so the second sees the first's outcome instead of duplicating it.
- Streaming: rows go through COPY in chunks (bureaux then their candidates; one connection
  cannot run two COPYs at once), so memory stays bounded on a national file.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ingestion import ledger
from ingestion.errors import SourceFormatError
from ingestion.sources.elections import ParsedRow, iter_results_2024
from scrutin.db import connect, ensure_warehouse

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrutin.ingestion.elections")

SOURCE = "elections"
PROGRESS_EVERY = 50_000
DEFAULT_CHUNK_ROWS = 10_000

ELECTION_ID_PATTERN = re.compile(r"[0-9]{4}(?:_[a-z0-9]+)+_t[12]")
"""`<year>_<kind>[_<more>]_t<round>`, e.g. `2024_legi_t1`, `2024_euro_t1`, `2020_muni_t2`."""

_BUREAU_COPY = (
    "copy raw.election_results_bureau ("
    "batch_id, election_id, source_line, code_departement, libelle_departement, "
    "code_commune, libelle_commune, code_bv, bureau_id, "
    "inscrits, votants, abstentions, exprimes, blancs, nuls"
    ") from stdin"
)
_CANDIDATE_COPY = (
    "copy raw.election_results_candidate ("
    "batch_id, election_id, source_line, code_commune, code_bv, bureau_id, "
    "numero_panneau, nuance, nom, prenom, sexe, voix, elu"
    ") from stdin"
)


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What one call did; `loaded_batch_id` is the batch whose rows now hold this file."""

    batch_id: int
    status: Literal["loaded", "skipped"]
    election_id: str
    rows_read: int
    bureau_rows: int
    candidate_rows: int
    rows_rejected: int
    duration_s: float
    sha256: str
    loaded_batch_id: int
    superseded: tuple[int, ...] = ()


@dataclass(slots=True)
class _Job:
    """One load attempt: its inputs and the counters a failure record needs."""

    path: Path
    election_id: str
    sha256: str
    chunk_rows: int
    started: float
    rows_read: int = 0
    bureau_rows: int = 0
    candidate_rows: int = 0
    superseded: list[int] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def validate_election_id(election_id: str) -> str:
    """Refuse an election id that downstream models could not parse (year, kind, round)."""
    if not isinstance(election_id, str) or not ELECTION_ID_PATTERN.fullmatch(election_id):
        raise ValueError(
            f"election_id {election_id!r} is not valid: expected '<year>_<kind>_t<round>' "
            "such as '2024_legi_t1' (lower-case letters, digits and underscores; round t1 or t2)"
        )
    return election_id


def load_results_file(
    url_or_conn: str | psycopg.Connection | None,
    path: str | Path,
    election_id: str,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> LoadReport:
    """Load one results file as `election_id`; see the module docstring for the semantics.

    `url_or_conn`: a DSN (a connection is opened and closed here), None for the configured
    warehouse, or an open psycopg connection with no transaction in progress (it is committed
    to: the load and the failure record are separate transactions by design).
    `chunk_rows`: bureaux per COPY round; bounds memory, not correctness.
    """
    validate_election_id(election_id)
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    path = Path(path)
    if url_or_conn is None or isinstance(url_or_conn, str):
        url = url_or_conn
        with connect(url) as conn:
            return _load(conn, path, election_id, chunk_rows, lambda: connect(url))
    # A caller's connection: never guess its DSN to reconnect (it may not be the default one).
    return _load(url_or_conn, path, election_id, chunk_rows, None)


def _load(
    conn: psycopg.Connection,
    path: Path,
    election_id: str,
    chunk_rows: int,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> LoadReport:
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            "load_results_file commits its own transactions: pass a connection with no "
            "transaction open (autocommit, or after commit/rollback)"
        )
    started = time.perf_counter()
    ensure_warehouse(conn)
    job = _Job(path, election_id, ledger.file_sha256(path), chunk_rows, started)
    log.info("loading %s as %s (sha256 %s)", path.name, election_id, job.sha256[:12])
    try:
        with conn.transaction():
            # Two-key form: its own lock space, apart from ensure_warehouse's one-key lock.
            conn.execute(
                "select pg_advisory_xact_lock(hashtext('scrutin.elections'), hashtext(%s))",
                (election_id,),
            )
            existing = ledger.find_loaded_batch(conn, SOURCE, job.sha256, election_id)
            report = _skip(conn, job, existing) if existing is not None else _replace(conn, job)
    except Exception as exc:
        _record_failure(conn, job, exc, reconnect)
        raise
    _log_summary(job, report)
    return report


def _skip(conn: psycopg.Connection, job: _Job, existing: int) -> LoadReport:
    duration = job.elapsed()
    batch_id = ledger.record_skipped(
        conn, SOURCE, job.path, job.sha256, job.election_id, duration_s=duration
    )
    return LoadReport(
        batch_id=batch_id,
        status="skipped",
        election_id=job.election_id,
        rows_read=0,
        bureau_rows=0,
        candidate_rows=0,
        rows_rejected=0,
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=existing,
    )


def _replace(conn: psycopg.Connection, job: _Job) -> LoadReport:
    batch_id = ledger.start_batch(conn, SOURCE, job.path, job.sha256, job.election_id)
    job.superseded = ledger.supersede_batches(conn, SOURCE, job.election_id, keep=batch_id)
    for table in ("election_results_candidate", "election_results_bureau"):
        conn.execute(f"delete from raw.{table} where election_id = %s", (job.election_id,))
    _copy_file(conn, job, batch_id)
    if job.rows_read == 0:
        # A header-only file would silently wipe the election it claims to replace.
        raise SourceFormatError(job.path, 2, None, "no data row: expected at least one bureau")
    duration = job.elapsed()
    ledger.finish_batch(
        conn,
        batch_id,
        status="loaded",
        rows_read=job.rows_read,
        rows_loaded=job.bureau_rows,
        rows_rejected=0,
        duration_s=duration,
    )
    return LoadReport(
        batch_id=batch_id,
        status="loaded",
        election_id=job.election_id,
        rows_read=job.rows_read,
        bureau_rows=job.bureau_rows,
        candidate_rows=job.candidate_rows,
        rows_rejected=0,
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=batch_id,
        superseded=tuple(job.superseded),
    )


def _copy_file(conn: psycopg.Connection, job: _Job, batch_id: int) -> None:
    chunk: list[ParsedRow] = []
    with conn.cursor() as cur:
        for row in iter_results_2024(job.path):
            chunk.append(row)
            job.rows_read += 1
            if job.rows_read % PROGRESS_EVERY == 0:
                log.info("%s: %d rows read", job.path.name, job.rows_read)
            if len(chunk) >= job.chunk_rows:
                _copy_chunk(cur, chunk, batch_id, job)
                chunk.clear()
        if chunk:
            _copy_chunk(cur, chunk, batch_id, job)


def _copy_chunk(cur: psycopg.Cursor, chunk: Iterable[ParsedRow], batch_id: int, job: _Job) -> None:
    election_id = job.election_id
    with cur.copy(_BUREAU_COPY) as copy:
        for row in chunk:
            b = row.bureau
            copy.write_row(
                (
                    batch_id,
                    election_id,
                    b.source_line,
                    b.code_departement,
                    b.libelle_departement,
                    b.code_commune,
                    b.libelle_commune,
                    b.code_bv,
                    b.bureau_id,
                    b.inscrits,
                    b.votants,
                    b.abstentions,
                    b.exprimes,
                    b.blancs,
                    b.nuls,
                )
            )
            job.bureau_rows += 1
    with cur.copy(_CANDIDATE_COPY) as copy:
        for row in chunk:
            b = row.bureau
            for c in row.candidates:
                copy.write_row(
                    (
                        batch_id,
                        election_id,
                        b.source_line,
                        b.code_commune,
                        b.code_bv,
                        b.bureau_id,
                        c.numero_panneau,
                        c.nuance,
                        c.nom,
                        c.prenom,
                        c.sexe,
                        c.voix,
                        c.elu,
                    )
                )
                job.candidate_rows += 1


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
        "load of %s as %s failed after %.2fs: %s", job.path.name, job.election_id, duration, error
    )

    def record(target: psycopg.Connection) -> None:
        ledger.fail_batch(
            target,
            source=SOURCE,
            path=job.path,
            sha256=job.sha256,
            dataset_key=job.election_id,
            error=error,
            rows_read=job.rows_read,
            duration_s=duration,
        )

    try:
        if not conn.closed and not conn.broken:
            record(conn)
        elif reconnect is not None:
            # The load connection died with the error: record through a fresh one.
            with reconnect() as fresh:
                record(fresh)
        else:
            log.error("the caller's connection is broken: the failure is not in the ledger")
    except Exception:
        log.exception("could not record the failed batch of %s in raw.batch_ledger", job.path.name)


def _log_summary(job: _Job, report: LoadReport) -> None:
    path = job.path
    if report.status == "skipped":
        log.info(
            "%s as %s skipped: identical file already loaded as batch %d (ledger batch %d)",
            path.name,
            report.election_id,
            report.loaded_batch_id,
            report.batch_id,
        )
        return
    rate = report.rows_read / report.duration_s if report.duration_s > 0 else float("inf")
    log.info(
        "%s as %s loaded: batch %d, %d bureaux, %d candidate rows in %.2fs (%.0f bureaux/s)%s",
        path.name,
        report.election_id,
        report.batch_id,
        report.bureau_rows,
        report.candidate_rows,
        report.duration_s,
        rate,
        f", superseded batches {list(report.superseded)}" if report.superseded else "",
    )
