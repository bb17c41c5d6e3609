"""Load the campaign's electoral-roll extract into `raw` as counts only (no identity, ever).

The file is aggregated while it is read (`ingestion.sources.roll.aggregate_roll`, in column
blocks by `ingestion.sources.roll_columns` when the file allows it, with the same counts);
only the counts are COPYed, into `raw.roll_bureau_counts` and `raw.roll_bureau_doors`. The file
itself is never copied, archived or uploaded anywhere: it stays where the operator put it.

Semantics (the load template's contract, `scrutin.warehouse.batch`, with the roll's own keys):
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
- Lines without a bureau code, and lines whose bureau is not in the bureau reference (the REU
  tables' and the election results' bureaux, `ReferenceLookup`), are left out of the counts and
  recorded in `quarantine.rejected_rows` (line number, column, reason: no content). With no
  reference loaded at all the file is refused: load the REU tables or the results first.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.errors import SourceFormatError
from ingestion.sources.roll import (
    RollAggregate,
    RollMapping,
    load_mapping,
    resolve_reference_date,
)
from ingestion.sources.roll_columns import aggregate_roll_fast
from scrutin.vocabulary import COMMUNE_CODE_REGEX, unanchored
from scrutin.warehouse.batch import BatchLoad, BatchReport, Landed, ReplaceCommunes, load_batch
from scrutin.warehouse.ledger import file_sha256

if TYPE_CHECKING:
    from concurrent.futures import Future

    import psycopg

    from scrutin.warehouse.batch import Batch, Run

log = logging.getLogger("scrutin.ingestion.roll")

COMMUNE_CODE_RE = re.compile(unanchored(COMMUNE_CODE_REGEX))

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


ROLL_LOAD_TASKS = 32
"""The most load tasks a DAG run maps the extracts over. A national roll is ~35,000 commune
files: one Airflow task each would exceed Airflow's `max_map_length` (1,024 by default) and pay a
task's start-up for every commune; `roll_file_groups` cuts them into this many groups instead."""


def roll_file_groups(paths: Sequence[Path | str], groups: int = ROLL_LOAD_TASKS) -> list[list[str]]:
    """The extracts in name order, cut into at most `groups` contiguous groups of sizes that
    differ by one at most (none empty): what each load task of the DAG loads."""
    if groups < 1:
        raise ValueError(f"groups must be at least 1, not {groups}")
    items = [str(p) for p in paths]
    count = min(groups, len(items))
    size, extra = divmod(len(items), count) if count else (0, 0)
    cut, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        cut.append(items[start:end])
        start = end
    return cut


@dataclass(frozen=True, slots=True, kw_only=True)
class RollLoadReport(BatchReport):
    """What one call did (counts only); `loaded_batch_id` holds this file's counts now."""

    reference_date: dt.date
    reference_date_source: str = ""
    communes: tuple[str, ...] = ()
    bureaux: int = 0
    electors_read: int = 0
    electors_counted: int = 0
    rows_rejected: int = 0
    electors_without_address: int = 0
    count_cells: int = 0
    doors: int = 0


@dataclass(slots=True)
class _Job:
    """The roll part of one load: the reference date of the ages, then the aggregate."""

    path: Path
    mapping: RollMapping
    as_of: dt.date | None
    ahead: Future[_Ahead] | None = None
    reference_date: dt.date | None = None
    aggregate: RollAggregate | None = None
    count_cells: int = 0

    def prepare(self, run: Run) -> None:
        self.reference_date, _ = resolve_reference_date(self.path, self.as_of)

    def find_loaded(self, conn: psycopg.Connection, batch: Batch) -> int | None:
        assert self.reference_date is not None
        return loaded_batch(conn, batch.run.sha256, self.reference_date)

    def land(self, conn: psycopg.Connection, batch: Batch) -> Landed:
        path = self.path
        if not has_reference(conn):
            raise SourceFormatError(
                path,
                None,
                None,
                "no bureau reference is loaded: load the REU tables (`scrutin ingest reu`) or the "
                "election results first; roll bureau codes are checked against them",
            )
        # counted ahead by load_roll_files while the file before was written (its error, if
        # any, raised here, in this load's transaction); None: found loaded then, count now
        agg = self.ahead.result().aggregate if self.ahead is not None else None
        if agg is None:
            agg = aggregate_roll_fast(
                path, mapping=self.mapping, as_of=self.as_of, known_bureaux=ReferenceLookup(conn)
            )
        self.aggregate = agg
        if agg.electors_counted == 0:
            raise SourceFormatError(
                path,
                None,
                None,
                f"no elector could be counted: none of the {agg.electors_read} lines has a "
                "bureau code of the bureau reference (see quarantine.rejected_rows)",
            )
        batch_id = batch.begin(conn)
        ref = agg.reference_date
        with conn.cursor() as cur:
            with cur.copy(_COUNTS_COPY) as copy:
                for row in agg.count_rows():
                    copy.write_row((batch_id, ref, *row))
                    self.count_cells += 1
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
        detail = (
            f"{agg.electors_read} electors read, {agg.electors_counted} counted in "
            f"{len(agg.bureaux)} bureaux of {', '.join(agg.communes)} (ages at "
            f"{ref.isoformat()}, from the {agg.reference_date_source}), {len(agg.rejected)} "
            f"rejected, {sum(agg.doors.values())} doors, {self.count_cells} count cells"
        )
        return Landed(
            agg.electors_read,
            agg.electors_counted,
            len(agg.rejected),
            communes=list(agg.communes),
            detail=detail,
        )


@dataclass(frozen=True, slots=True)
class _Ahead:
    """A file read ahead of its load: its sha256, and its counts (None: it was loaded then)."""

    sha256: str
    aggregate: RollAggregate | None
    started: float  # time.perf_counter() when the file began to be read


def loaded_batch(conn: psycopg.Connection, sha256: str, reference_date: dt.date) -> int | None:
    """The batch holding these bytes' counts: the same bytes count as loaded only with the same
    reference date (other age bands)."""
    row = conn.execute(
        "select l.batch_id from raw.batch_ledger as l "
        "where l.source = %s and l.file_sha256 = %s and l.status = 'loaded' "
        "and exists (select 1 from raw.roll_bureau_counts as c "
        "where c.batch_id = l.batch_id and c.reference_date = %s) "
        "order by l.batch_id desc limit 1",
        (SOURCE, sha256, reference_date),
    ).fetchone()
    return int(row[0]) if row else None


def has_reference(conn: psycopg.Connection) -> bool:
    """Whether any bureau reference (REU or results) is loaded at all."""
    row = conn.execute(
        "select exists (select 1 from raw.reu_bureaux) "
        "or exists (select 1 from raw.election_results_bureau)"
    ).fetchone()
    return bool(row and row[0])


class ReferenceLookup:
    """`bureau_id in lookup`: whether the bureau reference (the REU's bureaux and the results')
    holds it. The reference of a commune is fetched once, by its commune code, and kept: an
    extract names the few bureaux of its commune, the reference holds every bureau of the
    country, so neither reading it whole for each of ~35,000 extracts nor a query per bureau.

    Only the commune code (the part before the last `_`, built from the extract's commune
    column, an INSEE code) is ever sent to the server, never the bureau cell: a roll's bureau
    column may hold anything a clerk typed (a surname), and a query parameter can end up in the
    server's log (`log_statement`, `log_min_duration_statement`)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn
        self._communes: dict[str, frozenset[str]] = {}

    def __contains__(self, bureau_id: object) -> bool:
        if not isinstance(bureau_id, str) or "_" not in bureau_id:
            return False
        commune = bureau_id.rsplit("_", 1)[0]
        known = self._communes.get(commune)
        if known is None:
            if not COMMUNE_CODE_RE.fullmatch(commune):
                return False  # not an INSEE code: no bureau of the reference, nothing to ask
            rows = self._conn.execute(
                "select bureau_id from raw.reu_bureaux where code_commune_results = %(c)s "
                "union select bureau_id from raw.election_results_bureau "
                "where code_commune = %(c)s",
                {"c": commune},
            ).fetchall()
            known = self._communes[commune] = frozenset(row[0] for row in rows)
        return bureau_id in known


def private_error(exc: BaseException) -> str:
    """Only our own messages are trusted to carry no content: for any other exception the
    ledger keeps the type alone (a driver error could quote a value of a roll line)."""
    return str(exc) if isinstance(exc, SourceFormatError) else type(exc).__name__


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
    if not isinstance(mapping, RollMapping):
        mapping = load_mapping(mapping)
    return _load_roll_file(url_or_conn, Path(path), mapping, as_of)


def _load_roll_file(
    url_or_conn: str | psycopg.Connection | None,
    path: Path,
    mapping: RollMapping,
    as_of: dt.date | None,
    ahead: Future[_Ahead] | None = None,
) -> RollLoadReport:
    job = _Job(path, mapping, as_of, ahead)
    # the digest read ahead with the counts (the file is then read once, not twice); when the
    # count ahead failed, the template reads it and `land` raises the failure in the load
    read = ahead.result() if ahead is not None and ahead.exception() is None else None
    load = BatchLoad(
        source=SOURCE,
        logger=log,
        path=path,
        sha256=read.sha256 if read is not None else None,
        started=read.started if read is not None else None,  # its duration counts the count
        dataset_key=DATASET_KEY,
        label=f"roll extract {path.name} (mapping: {mapping.origin})",
        scope=ReplaceCommunes(("raw.roll_bureau_counts", "raw.roll_bureau_doors")),
        find_loaded=job.find_loaded,
        error_text=private_error,
        traceback=False,  # never log a traceback: its frames may hold roll lines
    )
    outcome = load_batch(url_or_conn, load, job.land, caller="load_roll_file", prepare=job.prepare)
    agg = job.aggregate
    assert job.reference_date is not None
    if outcome.status != "loaded" or agg is None:
        return RollLoadReport(**outcome.outcome(), reference_date=job.reference_date)
    return RollLoadReport(
        **outcome.outcome(),
        reference_date=agg.reference_date,
        reference_date_source=agg.reference_date_source,
        communes=tuple(agg.communes),
        bureaux=len(agg.bureaux),
        electors_read=agg.electors_read,
        electors_counted=agg.electors_counted,
        rows_rejected=len(agg.rejected),
        electors_without_address=agg.electors_without_address,
        count_cells=job.count_cells,
        doors=sum(agg.doors.values()),
    )


def load_roll_files(
    url: str | None,
    paths: Sequence[str | Path],
    *,
    mapping: RollMapping | str | Path | None = None,
    as_of: dt.date | None = None,
) -> tuple[list[RollLoadReport], list[tuple[str, str]]]:
    """Load several extracts, one after the other over one connection, each with the contract
    of `load_roll_file` (its own transaction, ledger row and failure record). A refused file does
    not stop the others: returns the reports of the files that loaded or were skipped, and
    `(path, error)` for each file refused (the error names file, line and column, no value).

    One connection and one parse of the mapping for the whole group: with ~35,000 commune files
    nationally, a connection and a mapping read per file cost more than the aggregation of a
    small commune's extract. And the next file is counted in a thread, over a second
    connection for its bureau reference, while this one's counts are written: the parse (CPU,
    mostly in pyarrow, which releases the GIL) and the warehouse's round trips (waiting) overlap.
    A file found already loaded then is not counted ahead (a scheduled run over an unchanged
    roll only skips); its reference is read a few milliseconds before its load's transaction
    starts instead of inside it.
    """
    from concurrent.futures import ThreadPoolExecutor

    from scrutin.db import connect

    if not isinstance(mapping, RollMapping):
        mapping = load_mapping(mapping)
    files = [Path(p) for p in paths]
    reports: list[RollLoadReport] = []
    refused: list[tuple[str, str]] = []
    with (
        connect(url, autocommit=True) as conn,
        connect(url, autocommit=True) as lookup,
        ThreadPoolExecutor(1, thread_name_prefix="roll-ahead") as pool,
    ):

        def count_ahead(path: Path) -> _Ahead:
            started = time.perf_counter()
            sha256 = file_sha256(path)
            reference_date, _ = resolve_reference_date(path, as_of)
            if loaded_batch(lookup, sha256, reference_date) is not None:
                return _Ahead(sha256, None, started)
            return _Ahead(
                sha256,
                aggregate_roll_fast(
                    path, mapping=mapping, as_of=as_of, known_bureaux=ReferenceLookup(lookup)
                ),
                started,
            )

        ahead = pool.submit(count_ahead, files[0]) if files else None
        for index, path in enumerate(files):
            this, ahead = (
                ahead,
                (pool.submit(count_ahead, files[index + 1]) if index + 1 < len(files) else None),
            )
            try:
                reports.append(_load_roll_file(conn, path, mapping, as_of, this))
            except SourceFormatError as exc:
                refused.append((str(path), str(exc)))
    return reports, refused
