"""Load Ministry per-bureau results, in any layout, into `raw` (all or nothing, idempotent).

Two entry points, one path into the raw tables:
- `load_results_file(url, path, election_id, layout=None)`: one wide file (2017–2022, municipales
  2020, 2024) for one election;
- `load_datagouv_files(url, general, candidats, only=None)`: data.gouv's harmonised pair, one
  batch per election id found inside (mapped to ours: `2021_dpmt_t1` -> `2021_dep_t1`).

Semantics a DAG and an engineer rely on:
- Idempotent: the same bytes (sha256; for a pair, the sha256 of both) already `loaded` for the
  same election are skipped; the data tables are not touched and a `skipped` ledger row records
  the attempt.
- Replacing: a different file for an election replaces that election's rows; the earlier
  batches are marked `superseded` in the ledger (kept, never deleted).
- All or nothing: ledger rows, deletion of the old rows and COPY of the new ones share one
  transaction. A structural problem (unknown layout, wrong encoding, mixed layouts, truncated
  row, non-numeric or negative count, duplicated bureau) raises `SourceFormatError` naming the
  file, line and column and rolls everything back, so the previous version of the election stays
  in place; the failure is then written to the ledger in its own transaction and re-raised.
- Quarantine, within limits: a well-formed bureau row that breaks a published identity
  (inscrits = votants + abstentions, votants = exprimés + blancs + nuls, the votes adding up to
  exprimés) is not loaded; it goes to `quarantine.rejected_rows` with its line and reason, and
  the ledger reconciles: rows_read = rows_loaded + rows_rejected. More than `max_rejected` such
  rows (default: the larger of 10 and 1 % of the rows) refuses the whole file: that many
  broken rows means a misread layout, not a transcription error in a few polling stations.
- Serialised per election (advisory lock), streaming (COPY in chunks; bureaux then their
  candidates, since one connection cannot run two COPYs at once), so memory stays bounded on a
  national file.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ingestion.errors import SourceFormatError
from ingestion.sources.election_types import (
    ELECTION_ID_PATTERN,
    election_type,
    validate_election_id,
)
from ingestion.sources.elections import (
    DATAGOUV_LAYOUTS,
    ParsedRow,
    check_layout_matches_election,
    check_layout_name,
    detect_file_layout,
    iter_results,
)
from ingestion.sources.results_datagouv import (
    LAYOUT_DATAGOUV_CANDIDATS,
    LAYOUT_DATAGOUV_GENERAL,
    DatagouvBureau,
    DatagouvCandidate,
    DatagouvCandidats,
    DatagouvGeneral,
)
from ingestion.sources.results_records import BureauRecord, CandidateRecord, identity_issue
from scrutin.db import connect
from scrutin.warehouse import ledger
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "ELECTION_ID_PATTERN",
    "LoadReport",
    "load_datagouv_files",
    "load_results_file",
    "validate_election_id",
]

log = logging.getLogger("scrutin.ingestion.elections")

SOURCE = "elections"
PROGRESS_EVERY = 50_000
DEFAULT_CHUNK_ROWS = 10_000

_BUREAU_COPY = (
    "copy raw.election_results_bureau ("
    "batch_id, election_id, source_line, code_departement, libelle_departement, "
    "code_commune, libelle_commune, code_bv, bureau_id, "
    "inscrits, votants, abstentions, exprimes, blancs, nuls, "
    "layout, id_brut_miom, code_circonscription, libelle_circonscription, "
    "code_canton, libelle_canton, code_secteur"
    ") from stdin"
)
# `elu` stays last: tests break the statement by renaming it.
_CANDIDATE_COPY = (
    "copy raw.election_results_candidate ("
    "batch_id, election_id, source_line, code_commune, code_bv, bureau_id, "
    "numero_panneau, nuance, nom, prenom, sexe, voix, "
    "id_brut_miom, liste_libelle_abrege, liste_libelle, tete_de_liste, "
    "sieges, sieges_secteur, sieges_cc, elu"
    ") from stdin"
)
_QUARANTINE_COPY = (
    "copy quarantine.rejected_rows (batch_id, source, file_name, line_no, column_name, reason) "
    "from stdin"
)


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What one call did for one election; `loaded_batch_id` is the batch holding its rows."""

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
    layout: str | None = None


@dataclass(slots=True)
class _Job:
    """One load attempt of a wide file: its inputs and the counters a failure record needs."""

    path: Path
    election_id: str
    sha256: str
    chunk_rows: int
    started: float
    layout: str | None = None
    max_rejected: int | None = None
    rows_read: int = 0
    bureau_rows: int = 0
    candidate_rows: int = 0
    rows_rejected: int = 0
    first_rejection: str | None = None
    superseded: list[int] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def rejection_limit(rows_read: int, max_rejected: int | None) -> int:
    """How many quarantined rows a file may have before it is refused whole."""
    return max(10, rows_read // 100) if max_rejected is None else max_rejected


def _open(
    url_or_conn: str | psycopg.Connection | None,
) -> tuple[psycopg.Connection | None, Callable[[], psycopg.Connection] | None]:
    if url_or_conn is None or isinstance(url_or_conn, str):
        url = url_or_conn
        return None, lambda: connect(url)
    return url_or_conn, None


def _require_idle(conn: psycopg.Connection, what: str) -> None:
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            f"{what} commits its own transactions: pass a connection with no "
            "transaction open (autocommit, or after commit/rollback)"
        )


# ====================================================================== one wide file


def load_results_file(
    url_or_conn: str | psycopg.Connection | None,
    path: str | Path,
    election_id: str,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    layout: str | None = None,
    max_rejected: int | None = None,
) -> LoadReport:
    """Load one wide results file as `election_id`; see the module docstring for the semantics.

    `url_or_conn`: a DSN (a connection is opened and closed here), None for the configured
    warehouse, or an open psycopg connection with no transaction in progress (it is committed
    to: the load and the failure record are separate transactions by design).
    `layout`: override the detection (the header must still fit that layout name by name).
    `chunk_rows`: bureaux per COPY round; bounds memory, not correctness.
    `max_rejected`: quarantined rows tolerated before the file is refused (see module doc).
    """
    validate_election_id(election_id)
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if layout is not None:
        check_layout_name(layout)
    path = Path(path)
    conn, reconnect = _open(url_or_conn)
    if conn is None:
        assert reconnect is not None
        with reconnect() as own:
            return _load(own, path, election_id, chunk_rows, layout, max_rejected, reconnect)
    # A caller's connection: never guess its DSN to reconnect (it may not be the default one).
    return _load(conn, path, election_id, chunk_rows, layout, max_rejected, None)


def _load(  # noqa: PLR0917 - internal, one caller
    conn: psycopg.Connection,
    path: Path,
    election_id: str,
    chunk_rows: int,
    layout: str | None,
    max_rejected: int | None,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> LoadReport:
    _require_idle(conn, "load_results_file")
    started = time.perf_counter()
    require_migrated(conn)
    job = _Job(path, election_id, ledger.file_sha256(path), chunk_rows, started, layout)
    job.max_rejected = max_rejected
    log.info("loading %s as %s (sha256 %s)", path.name, election_id, job.sha256[:12])
    try:
        job.layout = layout or detect_file_layout(path)
        _check_layout_fits(job)
        with conn.transaction():
            # Two-key form: its own lock space, apart from the one-key locks (migrate's).
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


def _check_layout_fits(job: _Job) -> None:
    assert job.layout is not None
    if job.layout in DATAGOUV_LAYOUTS:
        raise SourceFormatError(
            job.path,
            1,
            None,
            f"{job.path.name} is a data.gouv harmonised file ({job.layout}): load it with its "
            "companion file (load_datagouv_files / `scrutin results load GENERAL CANDIDATS`)",
        )
    check_layout_matches_election(job.path, job.layout, job.election_id)


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
        layout=job.layout,
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
    limit = rejection_limit(job.rows_read, job.max_rejected)
    if job.rows_rejected > limit:
        raise SourceFormatError(
            job.path,
            None,
            None,
            f"{job.rows_rejected} of {job.rows_read} bureau rows break the published identities "
            f"(limit {limit}): a misread layout or a corrupted file, not a few transcription "
            f"errors; first: {job.first_rejection}",
        )
    duration = job.elapsed()
    ledger.finish_batch(
        conn,
        batch_id,
        status="loaded",
        rows_read=job.rows_read,
        rows_loaded=job.bureau_rows,
        rows_rejected=job.rows_rejected,
        duration_s=duration,
    )
    return LoadReport(
        batch_id=batch_id,
        status="loaded",
        election_id=job.election_id,
        rows_read=job.rows_read,
        bureau_rows=job.bureau_rows,
        candidate_rows=job.candidate_rows,
        rows_rejected=job.rows_rejected,
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=batch_id,
        superseded=tuple(job.superseded),
        layout=job.layout,
    )


def _copy_file(conn: psycopg.Connection, job: _Job, batch_id: int) -> None:
    chunk: list[ParsedRow] = []
    rejected: list[tuple[int, str, str]] = []
    with conn.cursor() as cur:
        for row in iter_results(job.path, job.layout):
            job.rows_read += 1
            issue = identity_issue(row)
            if issue is None:
                chunk.append(row)
            else:
                column, reason = issue
                rejected.append((row.bureau.source_line, column, reason))
                job.rows_rejected += 1
                if job.first_rejection is None:
                    job.first_rejection = f"line {row.bureau.source_line}: {reason}"
            if job.rows_read % PROGRESS_EVERY == 0:
                log.info("%s: %d rows read", job.path.name, job.rows_read)
            if len(chunk) >= job.chunk_rows:
                _copy_chunk(cur, chunk, batch_id, job)
                chunk.clear()
        if chunk:
            _copy_chunk(cur, chunk, batch_id, job)
        if rejected:
            _quarantine(cur, batch_id, job.path.name, rejected)


def _quarantine(
    cur: psycopg.Cursor, batch_id: int, file_name: str, rows: Iterable[tuple[int, str, str]]
) -> None:
    with cur.copy(_QUARANTINE_COPY) as copy:
        for line, column, reason in rows:
            copy.write_row((batch_id, SOURCE, file_name, line, column, reason))


def _bureau_tuple(batch_id: int, election_id: str, layout: str | None, b: BureauRecord) -> tuple:
    return (
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
        layout,
        b.id_brut_miom,
        b.code_circonscription,
        b.libelle_circonscription,
        b.code_canton,
        b.libelle_canton,
        b.code_secteur,
    )


def _candidate_tuple(  # noqa: PLR0917 - one row of a COPY, positional by nature
    batch_id: int,
    election_id: str,
    line: int,
    code_commune: str,
    code_bv: str,
    bureau_id: str,
    id_brut_miom: str | None,
    c: CandidateRecord,
) -> tuple:
    return (
        batch_id,
        election_id,
        line,
        code_commune,
        code_bv,
        bureau_id,
        c.numero_panneau,
        c.nuance,
        c.nom,
        c.prenom,
        c.sexe,
        c.voix,
        id_brut_miom,
        c.liste_libelle_abrege,
        c.liste_libelle,
        c.tete_de_liste,
        c.sieges,
        c.sieges_secteur,
        c.sieges_cc,
        c.elu,
    )


def _copy_chunk(cur: psycopg.Cursor, chunk: Iterable[ParsedRow], batch_id: int, job: _Job) -> None:
    election_id = job.election_id
    with cur.copy(_BUREAU_COPY) as copy:
        for row in chunk:
            copy.write_row(_bureau_tuple(batch_id, election_id, job.layout, row.bureau))
            job.bureau_rows += 1
    # The hot loop of a national load (~800,000 rows): the tuple is built inline, in the
    # column order of _CANDIDATE_COPY (see _candidate_tuple), not through a call per row.
    written = 0
    with cur.copy(_CANDIDATE_COPY) as copy:
        write = copy.write_row
        for row in chunk:
            b = row.bureau
            line, commune, code_bv, bureau_id, miom = (
                b.source_line,
                b.code_commune,
                b.code_bv,
                b.bureau_id,
                b.id_brut_miom,
            )
            for c in row.candidates:
                write(
                    (
                        batch_id,
                        election_id,
                        line,
                        commune,
                        code_bv,
                        bureau_id,
                        c.numero_panneau,
                        c.nuance,
                        c.nom,
                        c.prenom,
                        c.sexe,
                        c.voix,
                        miom,
                        c.liste_libelle_abrege,
                        c.liste_libelle,
                        c.tete_de_liste,
                        c.sieges,
                        c.sieges_secteur,
                        c.sieges_cc,
                        c.elu,
                    )
                )
            written += len(row.candidates)
    job.candidate_rows += written


def _record_failure(
    conn: psycopg.Connection,
    job: _Job,
    exc: Exception,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> None:
    """Write the failed batch; never mask the original error if the ledger is unreachable."""
    _record_failed_batches(
        conn, job.path, job.sha256, [job.election_id], job.rows_read, job.elapsed(), exc, reconnect
    )


def _record_failed_batches(  # noqa: PLR0917 - internal, called from the two entry points
    conn: psycopg.Connection,
    path: Path,
    sha256: str,
    election_ids: Sequence[str | None],
    rows_read: int,
    duration: float,
    exc: Exception,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> None:
    error = str(exc) if isinstance(exc, SourceFormatError) else f"{type(exc).__name__}: {exc}"
    log.error(
        "load of %s as %s failed after %.2fs: %s",
        path.name,
        ", ".join(e or "?" for e in election_ids),
        duration,
        error,
    )

    ledger.record_failure(
        conn,
        reconnect,
        source=SOURCE,
        path=path,
        sha256=sha256,
        dataset_keys=election_ids,
        error=error,
        rows_read=rows_read,
        duration_s=duration,
    )


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
        "%s as %s loaded (%s): batch %d, %d bureaux, %d candidate rows, %d quarantined in "
        "%.2fs (%.0f bureaux/s)%s",
        path.name,
        report.election_id,
        report.layout,
        report.batch_id,
        report.bureau_rows,
        report.candidate_rows,
        report.rows_rejected,
        report.duration_s,
        rate,
        f", superseded batches {list(report.superseded)}" if report.superseded else "",
    )


# ====================================================================== data.gouv pair


@dataclass(slots=True)
class _Election:
    """One election of a data.gouv pair being loaded."""

    election_id: str
    batch_id: int | None  # None: skipped (already loaded from the same pair)
    existing: int | None = None
    superseded: tuple[int, ...] = ()
    general_rows: int = 0
    candidate_rows: int = 0


@dataclass(slots=True)
class _PairJob:
    general: Path
    candidats: Path
    sha256: str
    chunk_rows: int
    max_rejected: int | None
    started: float
    elections: dict[str, _Election] = field(default_factory=dict)
    rows_read: int = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def pair_sha256(general: Path, candidats: Path) -> str:
    """One fingerprint for the pair: a new version of either file is a new version."""
    both = f"{ledger.file_sha256(general)}:{ledger.file_sha256(candidats)}"
    return hashlib.sha256(both.encode()).hexdigest()


def load_datagouv_files(
    url_or_conn: str | psycopg.Connection | None,
    general: str | Path,
    candidats: str | Path,
    *,
    only: Iterable[str] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    max_rejected: int | None = None,
) -> list[LoadReport]:
    """Load data.gouv's general_results + candidats_results pair: one batch per election.

    The two paths may come in either order (the headers tell which is which). `only`: our
    election ids to load (others are read past and ignored); without it, an id we cannot map
    (senatorial, partial elections) refuses the pair, naming its line. Every election of the
    pair loads in one transaction; each is skipped when the same pair is already loaded for it.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    selection = None
    if only is not None:
        selection = {validate_election_id(e) for e in only}
    paths = {detect_file_layout(p): Path(p) for p in (general, candidats)}
    if set(paths) != {LAYOUT_DATAGOUV_GENERAL, LAYOUT_DATAGOUV_CANDIDATS}:
        raise SourceFormatError(
            Path(general),
            1,
            None,
            "expected a data.gouv general_results file and a candidats_results file, got "
            + " and ".join(sorted(paths)),
        )
    job = _PairJob(
        paths[LAYOUT_DATAGOUV_GENERAL],
        paths[LAYOUT_DATAGOUV_CANDIDATS],
        "",
        chunk_rows,
        max_rejected,
        time.perf_counter(),
    )
    job.sha256 = pair_sha256(job.general, job.candidats)
    conn, reconnect = _open(url_or_conn)
    if conn is None:
        assert reconnect is not None
        with reconnect() as own:
            return _load_pair(own, job, selection, reconnect)
    return _load_pair(conn, job, selection, None)


def _load_pair(
    conn: psycopg.Connection,
    job: _PairJob,
    selection: set[str] | None,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> list[LoadReport]:
    _require_idle(conn, "load_datagouv_files")
    require_migrated(conn)
    only = None if selection is None else selection.__contains__
    log.info("loading data.gouv pair %s + %s", job.general.name, job.candidats.name)
    try:
        with conn.transaction():
            general = DatagouvGeneral(job.general, only)
            candidats = DatagouvCandidats(job.candidats, only)
            with conn.cursor() as cur:
                _copy_stream(conn, cur, job, general, _copy_bureaux)
                _copy_stream(conn, cur, job, candidats, _copy_candidates)
            job.rows_read = general.rows_read + candidats.rows_read
            if not job.elections:
                raise SourceFormatError(
                    job.general,
                    2,
                    "id_election",
                    "no election to load"
                    + (f" among {sorted(selection)}" if selection else ": the files are empty"),
                )
            reports = [_finish_election(conn, job, e) for e in job.elections.values()]
    except Exception as exc:
        ids: list[str | None] = [*job.elections] or [None]
        _record_failed_batches(
            conn, job.general, job.sha256, ids, job.rows_read, job.elapsed(), exc, reconnect
        )
        raise
    for report in reports:
        log.info(
            "data.gouv %s: %s (batch %d), %d bureaux, %d candidate rows, %d quarantined",
            report.election_id,
            report.status,
            report.batch_id,
            report.bureau_rows,
            report.candidate_rows,
            report.rows_rejected,
        )
    return reports


def _election(conn: psycopg.Connection, job: _PairJob, election_id: str) -> _Election:
    """The state of an election met for the first time: lock it, then skip or replace it."""
    state = job.elections.get(election_id)
    if state is not None:
        return state
    conn.execute(
        "select pg_advisory_xact_lock(hashtext('scrutin.elections'), hashtext(%s))",
        (election_id,),
    )
    file_name = f"{job.general.name}+{job.candidats.name}"
    existing = ledger.find_loaded_batch(conn, SOURCE, job.sha256, election_id)
    if existing is not None:
        state = _Election(election_id, None, existing=existing)
    else:
        batch_id = ledger.start_batch(conn, SOURCE, file_name, job.sha256, election_id)
        superseded = ledger.supersede_batches(conn, SOURCE, election_id, keep=batch_id)
        for table in ("election_results_candidate", "election_results_bureau"):
            conn.execute(f"delete from raw.{table} where election_id = %s", (election_id,))
        state = _Election(election_id, batch_id, superseded=tuple(superseded))
    job.elections[election_id] = state
    return state


def _copy_stream(
    conn: psycopg.Connection,
    cur: psycopg.Cursor,
    job: _PairJob,
    rows: Iterable[DatagouvBureau] | Iterable[DatagouvCandidate],
    copy_chunk: Callable[[psycopg.Cursor, list, dict[str, _Election]], None],
) -> None:
    chunk: list = []
    for row in rows:
        state = _election(conn, job, row.election_id)  # SQL only between COPY rounds
        if state.batch_id is None:
            continue
        chunk.append(row)
        if len(chunk) >= job.chunk_rows:
            copy_chunk(cur, chunk, job.elections)
            chunk.clear()
    if chunk:
        copy_chunk(cur, chunk, job.elections)


def _copy_bureaux(
    cur: psycopg.Cursor, chunk: list[DatagouvBureau], elections: dict[str, _Election]
) -> None:
    with cur.copy(_BUREAU_COPY) as copy:
        for row in chunk:
            state = elections[row.election_id]
            assert state.batch_id is not None
            copy.write_row(
                _bureau_tuple(state.batch_id, row.election_id, LAYOUT_DATAGOUV_GENERAL, row.bureau)
            )
            state.general_rows += 1


def _copy_candidates(
    cur: psycopg.Cursor, chunk: list[DatagouvCandidate], elections: dict[str, _Election]
) -> None:
    with cur.copy(_CANDIDATE_COPY) as copy:
        for row in chunk:
            state = elections[row.election_id]
            assert state.batch_id is not None
            copy.write_row(
                _candidate_tuple(
                    state.batch_id,
                    row.election_id,
                    row.source_line,
                    row.code_commune,
                    row.code_bv,
                    row.bureau_id,
                    row.id_brut_miom,
                    row.candidate,
                )
            )
            state.candidate_rows += 1


# Pairing and identity checks of one election, in SQL, inside the load transaction.
_DUPLICATE_BUREAU = """
select bureau_id, min(source_line), max(source_line)
from raw.election_results_bureau
where batch_id = %s
group by bureau_id
having count(*) > 1
order by max(source_line)
limit 1
"""
_DUPLICATE_PANEL = """
select bureau_id, numero_panneau, min(source_line), max(source_line)
from raw.election_results_candidate
where batch_id = %s
group by bureau_id, numero_panneau
having count(*) > 1
order by max(source_line)
limit 1
"""
# Bureaux breaking an identity. Municipal plurinominal bureaux (no list label on any candidate)
# are exempt from the vote sum: a voter ticks several names there.
_BROKEN_BUREAUX = """
with votes as (
    select
        bureau_id,
        sum(voix) as voix,
        bool_and(liste_libelle_abrege is null and liste_libelle is null) as no_list
    from raw.election_results_candidate
    where batch_id = %(batch)s
    group by bureau_id
)

select
    b.bureau_id,
    b.source_line,
    case
        when b.inscrits <> b.votants + b.abstentions then 'inscrits'
        when b.votants <> b.exprimes + b.blancs + b.nuls then 'votants'
        else 'voix'
    end as column_name,
    case
        when b.inscrits <> b.votants + b.abstentions
            then format('bureau %%s: inscrits %%s != votants %%s + abstentions %%s',
                        b.bureau_id, b.inscrits, b.votants, b.abstentions)
        when b.votants <> b.exprimes + b.blancs + b.nuls
            then format('bureau %%s: votants %%s != exprimes %%s + blancs %%s + nuls %%s',
                        b.bureau_id, b.votants, b.exprimes, b.blancs, b.nuls)
        else format('bureau %%s: the candidates'' votes add up to %%s, exprimes is %%s',
                    b.bureau_id, coalesce(v.voix, 0), b.exprimes)
    end as reason
from raw.election_results_bureau as b
left join votes as v
    on v.bureau_id = b.bureau_id
where b.batch_id = %(batch)s
    and (
        b.inscrits <> b.votants + b.abstentions
        or b.votants <> b.exprimes + b.blancs + b.nuls
        or (
            coalesce(v.voix, 0) <> b.exprimes
            and not (%(muni)s and coalesce(v.no_list, false))
        )
    )
"""
_ORPHAN_CANDIDATES = """
select c.source_line, c.bureau_id, c.numero_panneau
from raw.election_results_candidate as c
where c.batch_id = %s
    and not exists (
        select 1
        from raw.election_results_bureau as b
        where b.batch_id = c.batch_id
            and b.bureau_id = c.bureau_id
    )
"""


def _finish_election(conn: psycopg.Connection, job: _PairJob, state: _Election) -> LoadReport:
    duration = job.elapsed()
    if state.batch_id is None:
        assert state.existing is not None
        batch_id = ledger.record_skipped(
            conn,
            SOURCE,
            f"{job.general.name}+{job.candidats.name}",
            job.sha256,
            state.election_id,
            duration_s=duration,
        )
        return LoadReport(
            batch_id=batch_id,
            status="skipped",
            election_id=state.election_id,
            rows_read=0,
            bureau_rows=0,
            candidate_rows=0,
            rows_rejected=0,
            duration_s=duration,
            sha256=job.sha256,
            loaded_batch_id=state.existing,
            layout="datagouv",
        )
    batch = state.batch_id
    if state.general_rows == 0:
        raise SourceFormatError(
            job.general,
            None,
            "id_election",
            f"election {state.election_id} has candidate rows in {job.candidats.name} but no "
            f"bureau in {job.general.name}",
        )
    duplicate = conn.execute(_DUPLICATE_BUREAU, (batch,)).fetchone()
    if duplicate is not None:
        raise SourceFormatError(
            job.general,
            duplicate[2],
            "id_brut_miom",
            f"bureau {duplicate[0]} of {state.election_id} already appears on line {duplicate[1]}",
        )
    duplicate = conn.execute(_DUPLICATE_PANEL, (batch,)).fetchone()
    if duplicate is not None:
        raise SourceFormatError(
            job.candidats,
            duplicate[3],
            "no_panneau",
            f"panel {duplicate[1]} of bureau {duplicate[0]} ({state.election_id}) already "
            f"appears on line {duplicate[2]}",
        )
    rejected = _quarantine_pair(conn, job, state)
    read = state.general_rows + state.candidate_rows
    limit = rejection_limit(state.general_rows, job.max_rejected)
    rejected_bureaux = len({r[1] for r in rejected if r[0] == "general"})
    if rejected_bureaux > limit:
        raise SourceFormatError(
            job.general,
            None,
            None,
            f"{rejected_bureaux} bureaux of {state.election_id} break the published identities "
            f"or lack candidates (limit {limit}): a misread file, not a few transcription errors",
        )
    loaded_bureaux = state.general_rows - rejected_bureaux
    loaded_candidates = state.candidate_rows - sum(1 for r in rejected if r[0] == "candidats")
    ledger.finish_batch(
        conn,
        batch,
        status="loaded",
        rows_read=read,
        rows_loaded=loaded_bureaux + loaded_candidates,
        rows_rejected=len(rejected),
        duration_s=duration,
    )
    return LoadReport(
        batch_id=batch,
        status="loaded",
        election_id=state.election_id,
        rows_read=read,
        bureau_rows=loaded_bureaux,
        candidate_rows=loaded_candidates,
        rows_rejected=len(rejected),
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=batch,
        superseded=state.superseded,
        layout="datagouv",
    )


def _quarantine_pair(
    conn: psycopg.Connection, job: _PairJob, state: _Election
) -> list[tuple[str, object, int]]:
    """Move broken bureaux (with their candidates) and orphan candidates to quarantine.

    Returns (file, bureau or line, line) for every quarantined line.
    """
    batch = state.batch_id
    kind = election_type(state.election_id)
    broken = conn.execute(
        _BROKEN_BUREAUX, {"batch": batch, "muni": kind is not None and kind.code == "muni"}
    ).fetchall()
    orphans = conn.execute(_ORPHAN_CANDIDATES, (batch,)).fetchall()
    rows: list[tuple[int, str, str, str]] = []  # (line, column, reason, file)
    out: list[tuple[str, object, int]] = []
    for bureau_id, line, column, reason in broken:
        rows.append((line, column, reason, job.general.name))
        out.append(("general", bureau_id, line))
    broken_ids = [b[0] for b in broken]
    if broken_ids:
        for line, bureau_id, _panel in conn.execute(
            "select source_line, bureau_id, numero_panneau from raw.election_results_candidate "
            "where batch_id = %s and bureau_id = any(%s)",
            (batch, broken_ids),
        ).fetchall():
            rows.append((line, "voix", f"bureau {bureau_id} quarantined", job.candidats.name))
            out.append(("candidats", bureau_id, line))
    for line, bureau_id, panel in orphans:
        rows.append(
            (
                line,
                "id_brut_miom",
                f"candidate {panel} of bureau {bureau_id}: no such bureau in {job.general.name}",
                job.candidats.name,
            )
        )
        out.append(("candidats", bureau_id, line))
    if not rows:
        return out
    with conn.cursor() as cur, cur.copy(_QUARANTINE_COPY) as copy:
        for line, column, reason, file_name in rows:
            copy.write_row((batch, SOURCE, file_name, line, column, reason))
    orphan_ids = [o[1] for o in orphans]
    conn.execute(
        "delete from raw.election_results_candidate where batch_id = %s "
        "and (bureau_id = any(%s) or bureau_id = any(%s))",
        (batch, broken_ids, orphan_ids),
    )
    conn.execute(
        "delete from raw.election_results_bureau where batch_id = %s and bureau_id = any(%s)",
        (batch, broken_ids),
    )
    return out
