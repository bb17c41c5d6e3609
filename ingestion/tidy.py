"""`scrutin results tidy`: any official results layout in, one tidy long table out.

One row per bureau x candidate (or binôme, or list), the bureau's turnout repeated on each of its
rows, the same columns whatever the layout (`TIDY_COLUMNS`, documented in
docs/results-layouts.md). No database: an analyst can turn a Ministry file into something a
spreadsheet, R or pandas reads in one step.

- CSV is streamed (UTF-8, `,` separator, header line), so a national file never sits in memory.
- Parquet is written with pyarrow in record batches of `BATCH_ROWS` rows.
- Rows are never dropped: a bureau that breaks a published identity (the loader would
  quarantine it) is written with the reason in the `issue` column; a bureau with no candidate
  at all gets one row with empty candidate columns, so its turnout is not lost.
- data.gouv's harmonised files come as a pair (general_results + candidats_results): they are
  joined through a temporary SQLite file, not in memory (the national files hold ~27 million
  candidate rows).
"""

from __future__ import annotations

import csv
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.errors import SourceFormatError
from ingestion.sources.election_types import election_type, validate_election_id
from ingestion.sources.elections import (
    DATAGOUV_LAYOUTS,
    check_layout_matches_election,
    check_layout_name,
    detect_file_layout,
    iter_results,
)
from ingestion.sources.results_datagouv import (
    LAYOUT_DATAGOUV_CANDIDATS,
    LAYOUT_DATAGOUV_GENERAL,
    DatagouvCandidats,
    DatagouvGeneral,
)
from ingestion.sources.results_records import (
    BureauRecord,
    CandidateRecord,
    ParsedRow,
    identity_issue,
)

BATCH_ROWS = 65_536

# (column, parquet type): the order of the output columns.
TIDY_SCHEMA: tuple[tuple[str, str], ...] = (
    ("election_id", "string"),
    ("layout", "string"),
    ("source_line", "int32"),
    ("code_departement", "string"),
    ("libelle_departement", "string"),
    ("code_commune", "string"),
    ("libelle_commune", "string"),
    ("code_circonscription", "string"),
    ("code_canton", "string"),
    ("code_secteur", "string"),
    ("code_bv", "string"),
    ("bureau_id", "string"),
    ("id_brut_miom", "string"),
    ("inscrits", "int32"),
    ("votants", "int32"),
    ("abstentions", "int32"),
    ("exprimes", "int32"),
    ("blancs", "int32"),
    ("nuls", "int32"),
    ("numero_panneau", "int32"),
    ("nuance", "string"),
    ("nom", "string"),
    ("prenom", "string"),
    ("sexe", "string"),
    ("liste_libelle_abrege", "string"),
    ("liste_libelle", "string"),
    ("tete_de_liste", "string"),
    ("voix", "int32"),
    ("sieges", "int32"),
    ("elu", "bool"),
    ("issue", "string"),
)
TIDY_COLUMNS: tuple[str, ...] = tuple(name for name, _ in TIDY_SCHEMA)


@dataclass(frozen=True, slots=True)
class TidyReport:
    """What a tidy run wrote."""

    output: Path
    layout: str
    rows: int
    bureaux: int
    bureaux_with_issue: int


def _rows_of(election_id: str | None, layout: str, row: ParsedRow) -> Iterator[tuple[Any, ...]]:
    b = row.bureau
    issue = identity_issue(row)
    head = (
        election_id,
        layout,
        b.source_line,
        b.code_departement,
        b.libelle_departement,
        b.code_commune,
        b.libelle_commune,
        b.code_circonscription,
        b.code_canton,
        b.code_secteur,
        b.code_bv,
        b.bureau_id,
        b.id_brut_miom,
        b.inscrits,
        b.votants,
        b.abstentions,
        b.exprimes,
        b.blancs,
        b.nuls,
    )
    reason = issue[1] if issue else None
    if not row.candidates:
        yield (*head, None, None, None, None, None, None, None, None, None, None, None, reason)
        return
    for c in row.candidates:
        yield (
            *head,
            c.numero_panneau,
            c.nuance,
            c.nom,
            c.prenom,
            c.sexe,
            c.liste_libelle_abrege,
            c.liste_libelle,
            c.tete_de_liste,
            c.voix,
            c.sieges,
            c.elu,
            reason,
        )


class _Counter:
    """Counts bureaux and bureaux with an issue while the records stream through."""

    def __init__(self, layout: str) -> None:
        self.layout = layout
        self.bureaux = 0
        self.issues = 0

    def records(
        self, rows: Iterable[tuple[str | None, ParsedRow | tuple[Any, ...]]]
    ) -> Iterator[tuple[Any, ...]]:
        for election_id, row in rows:
            if isinstance(row, tuple):  # an orphan candidate row, already tidy
                self.issues += 1
                yield row
                continue
            self.bureaux += 1
            if identity_issue(row) is not None:
                self.issues += 1
            yield from _rows_of(election_id, self.layout, row)


def tidy_results(
    paths: Sequence[str | Path],
    output: str | Path,
    *,
    layout: str | None = None,
    election_id: str | None = None,
    only: Iterable[str] | None = None,
) -> TidyReport:
    """Write the tidy table of one wide file, or of a data.gouv pair, to CSV or Parquet.

    `output`'s suffix chooses the format (`.csv` or `.parquet`). `layout` overrides the
    detection of a wide file. `election_id` fills the `election_id` column of a wide file (the
    data.gouv files carry theirs); `only` selects elections of a data.gouv pair.
    """
    output = Path(output)
    suffix = output.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"{output}: the output must end in .csv or .parquet")
    if not output.parent.is_dir():
        raise FileNotFoundError(f"{output}: the folder {output.parent} does not exist")
    if election_id is not None:
        validate_election_id(election_id)
    files = [Path(p) for p in paths]
    if layout is not None:
        check_layout_name(layout)
    parsed: Iterable[tuple[str | None, ParsedRow | tuple[Any, ...]]]
    if len(files) == 2:
        name = "datagouv"
        parsed = _datagouv_rows(files[0], files[1], only)
    elif len(files) == 1:
        name = layout or detect_file_layout(files[0])
        if election_id is not None:
            check_layout_matches_election(files[0], name, election_id)
        if name in DATAGOUV_LAYOUTS:
            raise SourceFormatError(
                files[0],
                1,
                None,
                f"a data.gouv {name.removeprefix('datagouv_')}_results file is tidied with its "
                "companion: pass both general_results and candidats_results",
            )
        if election_id is None:
            # A wide Ministry file names neither its election nor its round: an empty id
            # column would be read downstream as a valid table of nobody's election.
            raise ValueError(
                f"{files[0]}: a {name} file does not say which election it holds: pass "
                "--election-id (e.g. 2022_pres_t1; ids are listed in docs/results-layouts.md)"
            )
        parsed = ((election_id, row) for row in iter_results(files[0], name))
    else:
        raise ValueError("expected one results file, or the two files of a data.gouv pair")
    counter = _Counter(name)
    records = counter.records(parsed)
    tmp = output.with_name(output.name + ".part")
    try:
        written = _write_csv(tmp, records) if suffix == ".csv" else _write_parquet(tmp, records)
        tmp.replace(output)  # never leave a half-written table under the requested name
    finally:
        tmp.unlink(missing_ok=True)
    return TidyReport(output, name, written, counter.bureaux, counter.issues)


def _write_csv(path: Path, records: Iterable[tuple[Any, ...]]) -> int:
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(TIDY_COLUMNS)
        for record in records:
            writer.writerow(("true" if v is True else "false" if v is False else v) for v in record)
            rows += 1
    return rows


def _write_parquet(path: Path, records: Iterable[tuple[Any, ...]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"string": pa.string(), "int32": pa.int32(), "bool": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in TIDY_SCHEMA])
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        batch: list[tuple[Any, ...]] = []

        def flush() -> None:
            columns = list(zip(*batch, strict=True))
            writer.write_batch(pa.record_batch(columns, schema=schema))
            batch.clear()

        for record in records:
            batch.append(record)
            if len(batch) >= BATCH_ROWS:
                rows += len(batch)
                flush()
        if batch:
            rows += len(batch)
            flush()
        if rows == 0:
            writer.write_table(schema.empty_table())
    return rows


# ---------------------------------------------------------------------------- data.gouv pair

_BUREAU_FIELDS = (
    "source_line",
    "code_departement",
    "libelle_departement",
    "code_commune",
    "libelle_commune",
    "code_bv",
    "bureau_id",
    "inscrits",
    "votants",
    "abstentions",
    "exprimes",
    "blancs",
    "nuls",
    "id_brut_miom",
    "code_circonscription",
    "libelle_circonscription",
    "code_canton",
    "libelle_canton",
)
_CANDIDATE_FIELDS = (
    "numero_panneau",
    "nuance",
    "nom",
    "prenom",
    "sexe",
    "voix",
    "liste_libelle_abrege",
    "liste_libelle",
    "tete_de_liste",
)


def _datagouv_rows(
    first: Path, second: Path, only: Iterable[str] | None
) -> Iterator[tuple[str | None, ParsedRow | tuple[Any, ...]]]:
    """Join a data.gouv pair on (election, bureau) through a temporary SQLite file."""
    paths = {detect_file_layout(p): p for p in (first, second)}
    if set(paths) != {LAYOUT_DATAGOUV_GENERAL, LAYOUT_DATAGOUV_CANDIDATS}:
        raise SourceFormatError(
            first,
            1,
            None,
            "expected a data.gouv general_results file and a candidats_results file, got "
            + " and ".join(sorted(paths)),
        )
    selected = None if only is None else {validate_election_id(e) for e in only}
    keep = None if selected is None else selected.__contains__
    with tempfile.TemporaryDirectory(prefix="scrutin-tidy-") as folder:
        db = sqlite3.connect(Path(folder) / "pair.sqlite")
        try:
            db.execute(f"create table g (election_id text, {', '.join(_BUREAU_FIELDS)})")
            db.execute(
                f"create table c (election_id text, bureau_id text, line int, "
                f"{', '.join(_CANDIDATE_FIELDS)})"
            )
            _fill(
                db,
                "g",
                len(_BUREAU_FIELDS) + 1,
                (
                    (r.election_id, *(getattr(r.bureau, f) for f in _BUREAU_FIELDS))
                    for r in DatagouvGeneral(paths[LAYOUT_DATAGOUV_GENERAL], keep)
                ),
            )
            _refuse_duplicates(db, paths[LAYOUT_DATAGOUV_GENERAL])
            db.execute("create unique index g_bureau on g (election_id, bureau_id)")
            _fill(
                db,
                "c",
                len(_CANDIDATE_FIELDS) + 3,
                (
                    (
                        r.election_id,
                        r.bureau_id,
                        r.source_line,
                        *(getattr(r.candidate, f) for f in _CANDIDATE_FIELDS),
                    )
                    for r in DatagouvCandidats(paths[LAYOUT_DATAGOUV_CANDIDATS], keep)
                ),
            )
            db.execute("create index c_bureau on c (election_id, bureau_id, numero_panneau)")
            yield from _joined(db)
            yield from _orphans(db)
        finally:
            db.close()


def _fill(db: sqlite3.Connection, table: str, width: int, rows: Iterable[tuple[Any, ...]]) -> None:
    sql = f"insert into {table} values ({', '.join('?' * width)})"
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            db.executemany(sql, batch)
            batch.clear()
    if batch:
        db.executemany(sql, batch)


def _refuse_duplicates(db: sqlite3.Connection, general: Path) -> None:
    """A bureau twice in general_results is refused, as the loader does (which copy is right
    cannot be known)."""
    duplicate = db.execute(
        "select election_id, bureau_id, min(source_line), max(source_line) from g "
        "group by election_id, bureau_id having count(*) > 1 order by max(source_line) limit 1"
    ).fetchone()
    if duplicate is not None:
        raise SourceFormatError(
            general,
            duplicate[3],
            "id_brut_miom",
            f"bureau {duplicate[1]} of {duplicate[0]} already appears on line {duplicate[2]}",
        )


def _joined(db: sqlite3.Connection) -> Iterator[tuple[str | None, ParsedRow]]:
    g_cols = ", ".join(f"g.{f}" for f in _BUREAU_FIELDS)
    c_cols = ", ".join(f"c.{f}" for f in _CANDIDATE_FIELDS)
    cursor = db.execute(
        f"select g.election_id, {g_cols}, c.line, {c_cols} from g "
        "left join c on c.election_id = g.election_id and c.bureau_id = g.bureau_id "
        "order by g.election_id, g.source_line, c.numero_panneau"
    )
    n_b = len(_BUREAU_FIELDS)
    current: tuple[str, BureauRecord] | None = None
    candidates: list[CandidateRecord] = []
    for record in cursor:
        election_id = record[0]
        bureau_values = record[1 : 1 + n_b]
        key = (election_id, bureau_values[6])
        if current is None or (current[0], current[1].bureau_id) != key:
            if current is not None:
                yield current[0], _parsed(current, candidates)
            current = (
                election_id,
                BureauRecord(**dict(zip(_BUREAU_FIELDS, bureau_values, strict=True))),
            )
            candidates = []
        if record[1 + n_b] is not None:
            values = dict(zip(_CANDIDATE_FIELDS, record[2 + n_b :], strict=True))
            candidates.append(CandidateRecord(block=0, elu=False, **values))
    if current is not None:
        yield current[0], _parsed(current, candidates)


def _parsed(current: tuple[str, BureauRecord], candidates: list[CandidateRecord]) -> ParsedRow:
    election_id, bureau = current
    kind = election_type(election_id)
    plurinominal = (
        kind is not None
        and kind.code == "muni"
        and all(c.liste_libelle_abrege is None and c.liste_libelle is None for c in candidates)
    )
    return ParsedRow(bureau, tuple(candidates), single_choice=not plurinominal)


def _orphans(db: sqlite3.Connection) -> Iterator[tuple[str | None, tuple[Any, ...]]]:
    """Candidate rows whose bureau is not in general_results: written, turnout empty, with an
    issue (the loader quarantines them with the same reason)."""
    c_cols = ", ".join(f"c.{f}" for f in _CANDIDATE_FIELDS)
    cursor = db.execute(
        f"select c.election_id, c.bureau_id, c.line, {c_cols} from c where not exists "
        "(select 1 from g where g.election_id = c.election_id and g.bureau_id = c.bureau_id) "
        "order by c.line"
    )
    for election_id, bureau_id, line, *values in cursor:
        c = dict(zip(_CANDIDATE_FIELDS, values, strict=True))
        code_commune, _, code_bv = bureau_id.partition("_")
        yield election_id, (
            election_id, "datagouv", line, None, None, code_commune, None, None, None, None,
            code_bv, bureau_id, None, None, None, None, None, None, None,
            c["numero_panneau"], c["nuance"], c["nom"], c["prenom"], c["sexe"],
            c["liste_libelle_abrege"], c["liste_libelle"], c["tete_de_liste"], c["voix"],
            None, False,
            f"candidate {c['numero_panneau']} of bureau {bureau_id}: no such bureau in "
            "general_results",
        )  # fmt: skip
