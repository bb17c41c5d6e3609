"""Load Ministry per-bureau results, in any layout, into `raw` (all or nothing, idempotent).

Two entry points, one path into the raw tables:
- `load_results_file(url, path, election_id, layout=None)`: one wide file (2017–2022, municipales
  2020, 2024) for one election;
- `load_datagouv_files(url, general, candidats, only=None)`: data.gouv's harmonised pair, one
  batch per election id found inside (mapped to ours: `2021_dpmt_t1` -> `2021_dep_t1`).

Semantics a DAG and an engineer rely on (the load template's, `scrutin.warehouse.batch`, keyed
by election):
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.errors import SourceFormatError, ledger_error
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
from scrutin.warehouse import ledger
from scrutin.warehouse.batch import (
    BatchLoad,
    BatchReport,
    Landed,
    ReplaceDataset,
    claim,
    close,
    load_batch,
    run_batches,
    skip,
)

if TYPE_CHECKING:
    import psycopg

    from scrutin.warehouse.batch import Batch, Run

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


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadReport(BatchReport):
    """What one call did for one election; `loaded_batch_id` is the batch holding its rows."""

    election_id: str
    rows_read: int = 0
    bureau_rows: int = 0
    candidate_rows: int = 0
    rows_rejected: int = 0
    layout: str | None = None


def rejection_limit(rows_read: int, max_rejected: int | None) -> int:
    """How many quarantined rows a file may have before it is refused whole."""
    return max(10, rows_read // 100) if max_rejected is None else max_rejected


def _scope(election_id: str) -> ReplaceDataset:
    """A new version of an election replaces every row of that election."""
    return ReplaceDataset(
        ("raw.election_results_candidate", "raw.election_results_bureau"),
        "election_id = %s",
        (election_id,),
    )


# ====================================================================== one wide file


@dataclass(slots=True)
class _Job:
    """The results part of one wide-file load: its layout, then what the COPY counted."""

    path: Path
    election_id: str
    chunk_rows: int
    layout: str | None
    max_rejected: int | None
    rows_read: int = 0
    bureau_rows: int = 0
    candidate_rows: int = 0
    rows_rejected: int = 0
    first_rejection: str | None = None

    def prepare(self, run: Run) -> None:
        self.layout = self.layout or detect_file_layout(self.path)
        if self.layout in DATAGOUV_LAYOUTS:
            raise SourceFormatError(
                self.path,
                1,
                None,
                f"{self.path.name} is a data.gouv harmonised file ({self.layout}): load it with "
                "its companion file (load_datagouv_files / `scrutin results load GENERAL "
                "CANDIDATS`)",
            )
        check_layout_matches_election(self.path, self.layout, self.election_id)

    def land(self, conn: psycopg.Connection, batch: Batch) -> Landed:
        batch_id = batch.begin(conn)
        _copy_file(conn, self, batch.run, batch_id)
        self.rows_read = batch.run.rows_read
        if self.rows_read == 0:
            # A header-only file would silently wipe the election it claims to replace.
            raise SourceFormatError(self.path, 2, None, "no data row: expected at least one bureau")
        limit = rejection_limit(self.rows_read, self.max_rejected)
        if self.rows_rejected > limit:
            raise SourceFormatError(
                self.path,
                None,
                None,
                f"{self.rows_rejected} of {self.rows_read} bureau rows break the published "
                f"identities (limit {limit}): a misread layout or a corrupted file, not a few "
                f"transcription errors; first: {self.first_rejection}",
            )
        detail = (
            f"{self.bureau_rows} bureaux, {self.candidate_rows} candidate rows, "
            f"{self.rows_rejected} quarantined (layout {self.layout})"
        )
        return Landed(self.rows_read, self.bureau_rows, self.rows_rejected, detail=detail)


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
    job = _Job(path, election_id, chunk_rows, layout, max_rejected)
    load = BatchLoad(
        source=SOURCE,
        logger=log,
        path=path,
        dataset_key=election_id,
        label=f"{path.name} as {election_id}",
        scope=_scope(election_id),
        error_text=ledger_error,
        progress_every=PROGRESS_EVERY,
        unit="bureau rows",
    )
    outcome = load_batch(
        url_or_conn, load, job.land, caller="load_results_file", prepare=job.prepare
    )
    if outcome.status != "loaded":
        return LoadReport(**outcome.outcome(), election_id=election_id, layout=job.layout)
    return LoadReport(
        **outcome.outcome(),
        election_id=election_id,
        rows_read=job.rows_read,
        bureau_rows=job.bureau_rows,
        candidate_rows=job.candidate_rows,
        rows_rejected=job.rows_rejected,
        layout=job.layout,
    )


def _copy_file(conn: psycopg.Connection, job: _Job, run: Run, batch_id: int) -> None:
    chunk: list[ParsedRow] = []
    rejected: list[tuple[int, str, str]] = []
    with conn.cursor() as cur:
        for row in iter_results(job.path, job.layout):
            run.count()
            issue = identity_issue(row)
            if issue is None:
                chunk.append(row)
            else:
                column, reason = issue
                rejected.append((row.bureau.source_line, column, reason))
                job.rows_rejected += 1
                if job.first_rejection is None:
                    job.first_rejection = f"line {row.bureau.source_line}: {reason}"
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


# ====================================================================== data.gouv pair


@dataclass(slots=True)
class _Election:
    """One election of a data.gouv pair being loaded (its batch is skipped or begun)."""

    election_id: str
    batch: Batch
    general_rows: int = 0
    candidate_rows: int = 0

    @property
    def batch_id(self) -> int | None:
        """None: skipped (already loaded from the same pair)."""
        return self.batch.batch_id


@dataclass(slots=True)
class _PairJob:
    general: Path
    candidats: Path
    chunk_rows: int
    max_rejected: int | None
    selection: set[str] | None
    elections: dict[str, _Election] = field(default_factory=dict)

    def load(self, conn: psycopg.Connection, run: Run) -> list[LoadReport]:
        """Stream both files, claiming each election on first sight, then check and close each."""
        selection = self.selection
        only = None if selection is None else selection.__contains__
        log.info("loading data.gouv pair %s + %s", self.general.name, self.candidats.name)
        general = DatagouvGeneral(self.general, only)
        candidats = DatagouvCandidats(self.candidats, only)
        with conn.cursor() as cur:
            _copy_stream(conn, cur, run, self, general, copy_chunk=_copy_bureaux)
            _copy_stream(conn, cur, run, self, candidats, copy_chunk=_copy_candidates)
        run.rows_read = general.rows_read + candidats.rows_read
        if not self.elections:
            raise SourceFormatError(
                self.general,
                2,
                "id_election",
                "no election to load"
                + (f" among {sorted(selection)}" if selection else ": the files are empty"),
            )
        return [_finish_election(conn, self, e) for e in self.elections.values()]

    def election(self, conn: psycopg.Connection, run: Run, election_id: str) -> _Election:
        """The state of an election met for the first time: lock it, then skip or replace it."""
        state = self.elections.get(election_id)
        if state is None:
            batch = claim(
                conn, run, election_id, _scope(election_id), label=f"data.gouv {election_id}"
            )
            if batch.existing is None:
                batch.begin(conn)
            state = self.elections[election_id] = _Election(election_id, batch)
        return state


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
    general_path, candidats_path = paths[LAYOUT_DATAGOUV_GENERAL], paths[LAYOUT_DATAGOUV_CANDIDATS]
    job = _PairJob(general_path, candidats_path, chunk_rows, max_rejected, selection)
    load = BatchLoad(
        source=SOURCE,
        logger=log,
        path=general_path,  # a failure is recorded under the general file's name
        dataset_key=None,  # one dataset per election found in the files
        label=f"data.gouv pair {general_path.name} + {candidats_path.name}",
        ledger_name=f"{general_path.name}+{candidats_path.name}",
        sha256=pair_sha256(general_path, candidats_path),
        error_text=ledger_error,
    )
    return run_batches(url_or_conn, load, job.load, caller="load_datagouv_files")


def _copy_stream(
    conn: psycopg.Connection,
    cur: psycopg.Cursor,
    run: Run,
    job: _PairJob,
    rows: Iterable[DatagouvBureau] | Iterable[DatagouvCandidate],
    *,
    copy_chunk: Callable[[psycopg.Cursor, list, dict[str, _Election]], None],
) -> None:
    chunk: list = []
    for row in rows:
        state = job.election(conn, run, row.election_id)  # SQL only between COPY rounds
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
    """Skip, or check the pairing and identities of one election, quarantine, and close it."""
    if state.batch_id is None:
        outcome = skip(conn, state.batch)
        return LoadReport(**outcome.outcome(), election_id=state.election_id, layout="datagouv")
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
    detail = (
        f"{loaded_bureaux} bureaux, {loaded_candidates} candidate rows, {len(rejected)} quarantined"
    )
    landed = Landed(read, loaded_bureaux + loaded_candidates, len(rejected), detail=detail)
    return LoadReport(
        **close(conn, state.batch, landed).outcome(),
        election_id=state.election_id,
        rows_read=read,
        bureau_rows=loaded_bureaux,
        candidate_rows=loaded_candidates,
        rows_rejected=len(rejected),
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
