"""Load one census file into `raw.census_iris` and `raw.census_iris_values` (all or nothing).

Semantics (the load template's contract, `scrutin.warehouse.batch`, keyed by `<theme>:<vintage>`):
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.census.parser import CensusFile, IrisRecord
from ingestion.census.registry import CensusFileSpec
from ingestion.errors import SourceFormatError, ledger_error
from scrutin.warehouse.batch import BatchLoad, BatchReport, Landed, ReplaceDataset, load_batch

if TYPE_CHECKING:
    import psycopg

    from scrutin.warehouse.batch import Batch

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


@dataclass(frozen=True, slots=True, kw_only=True)
class CensusLoadReport(BatchReport):
    """What one call did; `loaded_batch_id` is the batch whose rows now hold this file."""

    theme: str
    vintage: int
    geo_year: int
    iris_rows: int = 0
    value_rows: int = 0
    masked_values: int = 0
    indicators: int = 0
    data_member: str | None = None
    columns_ignored: tuple[str, ...] = ()
    columns_other_years: tuple[str, ...] = ()


@dataclass(slots=True)
class _Job:
    """The census part of one load: its spec, and what the file turned out to hold."""

    path: Path
    spec: CensusFileSpec
    chunk_rows: int
    iris_rows: int = 0
    value_rows: int = 0
    masked: int = 0
    indicators: int = 0
    member: str | None = None
    ignored: tuple[str, ...] = ()
    other_years: tuple[str, ...] = ()

    def land(self, conn: psycopg.Connection, batch: Batch) -> Landed:
        batch_id = batch.begin(conn)
        _copy_file(conn, self, batch, batch_id)
        iris = self.iris_rows = batch.run.rows_read
        detail = f"{iris} IRIS, {self.value_rows} values ({self.masked} masked)"
        return Landed(iris, iris, detail=detail)


def census_load(
    path: Path, spec: CensusFileSpec, sha256: str | None, *, ledger_name: str | None = None
) -> BatchLoad:
    """The template's view of a census file (also used to skip a pinned download unfetched)."""
    return BatchLoad(
        source=SOURCE,
        logger=log,
        path=path,
        dataset_key=spec.dataset_key,
        label=f"{path.name} as census {spec.theme} {spec.vintage} (geography {spec.geo_year})",
        scope=ReplaceDataset(
            ("raw.census_iris_values", "raw.census_iris"),
            "theme = %s and vintage = %s",
            (spec.theme, spec.vintage),
        ),
        ledger_name=ledger_name,
        sha256=sha256,
        error_text=ledger_error,
        progress_every=PROGRESS_EVERY,
        unit="IRIS",
    )


def census_report(outcome: BatchReport, spec: CensusFileSpec, **counts: Any) -> CensusLoadReport:
    """A census report from the template's outcome and, for a loaded file, its counts."""
    return CensusLoadReport(
        **outcome.outcome(),
        theme=spec.theme,
        vintage=spec.vintage,
        geo_year=spec.geo_year,
        **counts,
    )


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
    job = _Job(path, spec, chunk_rows)
    load = census_load(path, spec, sha256)
    outcome = load_batch(url_or_conn, load, job.land, caller="load_census_file")
    if outcome.status != "loaded":
        return census_report(outcome, spec)
    return census_report(
        outcome,
        spec,
        iris_rows=job.iris_rows,
        value_rows=job.value_rows,
        masked_values=job.masked,
        indicators=job.indicators,
        data_member=job.member,
        columns_ignored=job.ignored,
        columns_other_years=job.other_years,
    )


def _copy_file(conn: psycopg.Connection, job: _Job, batch: Batch, batch_id: int) -> None:
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
                batch.run.count(len(chunk))
                chunk.clear()
        if chunk:
            _copy_chunk(cur, chunk, batch_id, job)
            batch.run.count(len(chunk))
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
