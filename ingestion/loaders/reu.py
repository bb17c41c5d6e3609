"""Load an INSEE REU table file (`table-bv-reu` or `table-adresses-reu`) into `raw`.

The load template's contract (`scrutin.warehouse.batch`: idempotent by sha256, all or nothing,
failures in the ledger), with the REU's own parts:
- the dataset is the table (`bv` or `adresses`), read from the header unless given;
- replacing by commune: a new file replaces the rows of the communes it covers (a department
  extract does not wipe the rest of the country); an earlier batch left with no row is marked
  `superseded` in the ledger (kept, never deleted);
- streaming: rows go through COPY in chunks, memory stays bounded on the national file
  (~14 million address rows); the set of communes seen is the only thing that grows.
- the address table is read in column batches (`ingestion.sources.reu.iter_address_batches`:
  pyarrow parses, RE2 and casts check, one COPY of CSV written by pyarrow): ~5x less client CPU
  than line by line. Anything that reader does not decide exactly as the line reader would (a
  bad value, a strict-quoting case, an encoding error, a NUL byte...) rolls its rows back to a
  savepoint and the file is read again line by line (`iter_reu_rows`), which refuses it naming
  file, line and column, or loads it. The bureau table (~69,000 rows) is read line by line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.blocks import NeedsLineReader
from ingestion.errors import SourceFormatError, ledger_error
from ingestion.sources.reu import (
    FAST_CHUNK_BYTES,
    REU_TABLES,
    AddressRow,
    BureauRow,
    ReuTable,
    describe_file,
    iter_address_batches,
    iter_reu_rows,
)
from scrutin.warehouse.batch import BatchLoad, BatchReport, Landed, ReplaceCommunes, load_batch

if TYPE_CHECKING:
    import psycopg

    from scrutin.warehouse.batch import Batch, Run

log = logging.getLogger("scrutin.ingestion.reu")

SOURCE = "reu"
PROGRESS_EVERY = 500_000
DEFAULT_CHUNK_ROWS = 50_000
BATCHED_ADDRESSES = True
"""Read the address table in column batches (False: line by line, as the bureau table)."""
BATCHED_MIN_BYTES = 1 << 20
"""Smaller address files (a few thousand rows) are read line by line: importing pyarrow costs
more than the batches save there."""
ADDRESS_BLOCK_BYTES = FAST_CHUNK_BYTES

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
# The same columns as CSV written by pyarrow: an unquoted empty field is NULL (the batches hold
# no empty string: an empty field is NULL there too).
_ADDRESS_COPY_CSV = _ADDRESS_COPY + " (format csv)"


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ReuLoadReport(BatchReport):
    """What one call did; `loaded_batch_id` is the batch whose rows now hold this file."""

    table: ReuTable
    rows_read: int = 0
    rows_loaded: int = 0
    communes: tuple[str, ...] = ()
    columns_missing: tuple[str, ...] = ()


@dataclass(slots=True)
class _Job:
    """The REU part of one load: the table (from the header), the communes it covers."""

    path: Path
    asked: ReuTable | None
    chunk_rows: int
    fast: bool = True
    chunk_bytes: int = FAST_CHUNK_BYTES
    # Until the header is read, a failure is recorded under the table asked for, else `adresses`.
    table: ReuTable = "adresses"
    columns_missing: tuple[str, ...] = ()
    communes: set[str] = field(default_factory=set)
    rows: int = 0

    def prepare(self, run: Run) -> None:
        described = describe_file(self.path, self.asked)
        self.table, self.columns_missing = described.table, described.columns_missing
        run.dataset_key = self.table
        run.scope = ReplaceCommunes((TARGET_TABLES[self.table],))
        run.label = f"{self.path.name} (REU {self.table})"
        if self.columns_missing:
            log.info(
                "%s: absent optional columns -> NULL: %s",
                self.path.name,
                ", ".join(self.columns_missing),
            )

    def land(self, conn: psycopg.Connection, batch: Batch) -> Landed:
        batch_id = batch.begin(conn)
        landed = False
        if self.table == "adresses" and self.fast and self.path.stat().st_size >= BATCHED_MIN_BYTES:
            try:
                with conn.transaction():  # a savepoint: the line reader starts from a clean slate
                    self._land_address_batches(conn, batch, batch_id)
                landed = True
            except NeedsLineReader as exc:
                log.info("%s: read line by line (%s)", self.path.name, exc)
                batch.run.rows_read = 0
                self.communes.clear()
        if not landed:
            self._land_rows(conn, batch, batch_id)
        self.rows = read = batch.run.rows_read
        if read == 0:
            raise SourceFormatError(self.path, 2, None, "no data row: expected at least one row")
        detail = f"{read} rows for {len(self.communes)} communes"
        return Landed(read, read, communes=self.communes, detail=detail)

    def _land_address_batches(self, conn: psycopg.Connection, batch: Batch, batch_id: int) -> None:
        """The address table in column batches: parsed and checked by pyarrow, written as CSV
        by pyarrow, streamed into one COPY (see `iter_address_batches`).

        The COPY is fed by psycopg's writer thread, so the server ingests a batch while this
        thread parses the next (the server's part, typed columns and two indexes, is the larger
        one). Values are written unquoted when none needs quotes: fewer bytes for the server to
        parse."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv
        from psycopg.copy import QueuedLibpqWriter

        bare = pcsv.WriteOptions(include_header=False, quoting_style="none")
        quoted = pcsv.WriteOptions(include_header=False)
        with conn.cursor() as cur:
            writer = QueuedLibpqWriter(cur)
            with cur.copy(_ADDRESS_COPY_CSV, writer=writer) as copy:
                for columns in iter_address_batches(self.path, chunk_bytes=self.chunk_bytes):
                    n = len(columns["source_line"])
                    table = pa.table({"batch_id": pa.array([batch_id] * n, pa.int64()), **columns})
                    out = pa.BufferOutputStream()
                    try:
                        pcsv.write_csv(table, out, bare)
                    except pa.ArrowInvalid:  # a delimiter or quote inside a value
                        out = pa.BufferOutputStream()
                        pcsv.write_csv(table, out, quoted)
                    copy.write(out.getvalue())
                    self.communes.update(pc.unique(columns["code_commune"]).to_pylist())
                    batch.run.count(n)

    def _land_rows(self, conn: psycopg.Connection, batch: Batch, batch_id: int) -> None:
        """Line by line (`iter_reu_rows`): the bureau table, and any file the batch reader
        leaves to it; its errors name the file, line and column."""
        statement = _ADDRESS_COPY if self.table == "adresses" else _BUREAU_COPY
        rows = iter_reu_rows(self.path, self.table)
        with conn.cursor() as cur:
            exhausted = False
            while not exhausted:
                with cur.copy(statement) as copy:
                    for written, row in enumerate(rows, start=1):
                        copy.write_row(_values(row, batch_id))
                        self.communes.add(row.code_commune)
                        batch.run.count()
                        if written >= self.chunk_rows:
                            break
                    else:
                        exhausted = True


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
    job = _Job(
        path,
        table,
        chunk_rows,
        fast=BATCHED_ADDRESSES,
        chunk_bytes=ADDRESS_BLOCK_BYTES,
        table=table or "adresses",
    )
    load = BatchLoad(
        source=SOURCE,
        logger=log,
        path=path,
        dataset_key=job.table,
        label=f"{path.name} (REU {job.table})",
        error_text=ledger_error,
        progress_every=PROGRESS_EVERY,
    )
    outcome = load_batch(url_or_conn, load, job.land, caller="load_reu_file", prepare=job.prepare)
    if outcome.status != "loaded":
        return ReuLoadReport(**outcome.outcome(), table=job.table)
    return ReuLoadReport(
        **outcome.outcome(),
        table=job.table,
        rows_read=job.rows,
        rows_loaded=job.rows,
        communes=tuple(sorted(job.communes)),
        columns_missing=job.columns_missing,
    )


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
