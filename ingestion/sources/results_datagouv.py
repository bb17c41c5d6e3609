"""data.gouv.fr's harmonised long results files: `general_results` and `candidats_results`.

data.gouv ("Données des élections agrégées") concatenates every Ministry per-bureau file since
1999 into two `;`-separated UTF-8 files keyed by `id_election` + `id_brut_miom`:
- `general_results`: one row per (election, bureau): codes, labels, counts and ratios;
- `candidats_results`: one row per (election, bureau, candidate or list).
Columns are chosen by name (the schema, `schema-general-results.json` /
`schema-candidats-results.json` of datagouv/datagouvfr_data_pipelines, gained columns over
time: `liste` came and went), required ones are checked, unknown extra ones are ignored.

The two files are parsed separately, never joined in memory: the loader COPYs each stream into
its raw table and checks the pairing (every candidate has its bureau, votes add up) in SQL
inside the load transaction. `id_election` values are mapped to ours by
`election_types.from_datagouv_id` (`2021_dpmt_t1` -> `2021_dep_t1`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingestion.errors import SourceFormatError
from ingestion.sources.election_types import from_datagouv_id
from ingestion.sources.results_codes import (
    CodeError,
    make_bureau_id,
    normalise_code_bv,
    normalise_departement,
    normalise_insee_commune,
)
from ingestion.sources.results_records import BureauRecord, CandidateRecord
from ingestion.sources.results_text import DecodedLines, csv_reader, iter_records, read_header
from ingestion.sources.results_wide import parse_count

LAYOUT_DATAGOUV_GENERAL = "datagouv_general"
LAYOUT_DATAGOUV_CANDIDATS = "datagouv_candidats"

GENERAL_REQUIRED: tuple[str, ...] = (
    "id_election",
    "id_brut_miom",
    "code_departement",
    "code_commune",
    "code_bv",
    "inscrits",
    "abstentions",
    "votants",
    "blancs",
    "nuls",
    "exprimes",
)
GENERAL_OPTIONAL: tuple[str, ...] = (
    "libelle_departement",
    "code_canton",
    "libelle_canton",
    "libelle_commune",
    "code_circonscription",
    "libelle_circonscription",
)
CANDIDATS_REQUIRED: tuple[str, ...] = (
    "id_election",
    "id_brut_miom",
    "code_commune",
    "code_bv",
    "no_panneau",
    "voix",
)
CANDIDATS_OPTIONAL: tuple[str, ...] = (
    "code_departement",
    "nuance",
    "sexe",
    "nom",
    "prenom",
    "liste",
    "libelle_abrege_liste",
    "libelle_etendu_liste",
    "nom_tete_liste",
    "binome",
)


def datagouv_kind(header: list[str]) -> str | None:
    """`datagouv_general`, `datagouv_candidats` or None, from the column names."""
    names = {n.strip().lstrip("\ufeff") for n in header}
    if not {"id_election", "id_brut_miom"} <= names:
        return None
    # Turnout columns make the general file; anything else is read as candidats_results, whose
    # parser then names the required columns it lacks.
    if names & {"inscrits", "votants", "exprimes"}:
        return LAYOUT_DATAGOUV_GENERAL
    return LAYOUT_DATAGOUV_CANDIDATS


@dataclass(slots=True)
class DatagouvBureau:
    """A general_results row: the election (ours and data.gouv's) and the bureau."""

    election_id: str
    datagouv_id: str
    bureau: BureauRecord


@dataclass(slots=True)
class DatagouvCandidate:
    """A candidats_results row, with the bureau keys it belongs to."""

    election_id: str
    datagouv_id: str
    source_line: int
    code_commune: str
    code_bv: str
    bureau_id: str
    id_brut_miom: str
    candidate: CandidateRecord


class _Columns:
    def __init__(
        self,
        header: list[str],
        required: tuple[str, ...],
        optional: tuple[str, ...],
        path: Path,
        kind: str,
    ) -> None:
        names = [n.strip().lstrip("\ufeff") for n in header]
        self.width = len(names)
        self.index: dict[str, int] = {}
        for name in (*required, *optional):
            if name in names:
                self.index[name] = names.index(name)
        missing = [n for n in required if n not in self.index]
        if missing:
            raise SourceFormatError(
                path,
                1,
                missing[0],
                f"the {kind} file lacks required column(s) {', '.join(missing)} "
                f"(expected the data.gouv harmonised schema: {', '.join(required)})",
            )

    def get(self, fields: list[str], name: str) -> str | None:
        i = self.index.get(name)
        if i is None:
            return None
        return fields[i].strip() or None


class _ElectionMap:
    """data.gouv id -> our id, once per distinct id; refuses or skips the unsupported ones."""

    def __init__(self, path: Path, only: Callable[[str], bool] | None) -> None:
        self._path = path
        self._only = only
        self._cache: dict[str, str | None] = {}

    def __call__(self, datagouv_id: str, line: int) -> str | None:
        if datagouv_id in self._cache:
            return self._cache[datagouv_id]
        try:
            ours: str | None = from_datagouv_id(datagouv_id)
        except ValueError as exc:
            if self._only is None:
                raise SourceFormatError(
                    self._path,
                    line,
                    "id_election",
                    f"{exc}; load the other elections with an explicit selection "
                    "(--only 2022_pres_t1 …) to skip it",
                ) from None
            ours = None
        if ours is not None and self._only is not None and not self._only(ours):
            ours = None
        self._cache[datagouv_id] = ours
        return ours

    @property
    def skipped(self) -> list[str]:
        return sorted(k for k, v in self._cache.items() if v is None)


def _start(
    fh: BinaryIO, path: Path, kind: str
) -> tuple[DecodedLines, list[str], Iterator[tuple[int, list[str]]]]:
    lines = DecodedLines(fh, path, "utf-8", layout_label=f"the data.gouv {kind} file")
    reader = csv_reader(lines)
    header = read_header(reader, path)
    return lines, header, iter_records(reader, path)


def _check_width(fields: list[str], width: int, path: Path, line: int, names: list[str]) -> None:
    if len(fields) != width:
        raise SourceFormatError(
            path,
            line,
            names[len(fields)] if len(fields) < width else None,
            f"row has {len(fields)} fields, the header has {width}: "
            + ("a truncated row" if len(fields) < width else "extra fields"),
        )


def _code(value: str | None, path: Path, line: int, column: str) -> str:
    if value is None:
        raise SourceFormatError(path, line, column, "expected a code, got an empty field")
    return value


class DatagouvGeneral:
    """Stream `general_results` rows as DatagouvBureau, for the selected elections."""

    def __init__(self, path: str | Path, only: Callable[[str], bool] | None = None) -> None:
        self.path = Path(path)
        self.elections = _ElectionMap(self.path, only)
        self.rows_read = 0
        self.rows_skipped = 0

    def __iter__(self) -> Iterator[DatagouvBureau]:
        path = self.path
        with path.open("rb") as fh:
            lines, header, records = _start(fh, path, "general_results")
            names = [n.strip().lstrip("\ufeff") for n in header]
            lines.column_of = lambda i: names[i] if i < len(names) else None
            cols = _Columns(header, GENERAL_REQUIRED, GENERAL_OPTIONAL, path, "general_results")
            if datagouv_kind(header) != LAYOUT_DATAGOUV_GENERAL:
                raise SourceFormatError(path, 1, None, "not a data.gouv general_results header")
            for line, fields in records:
                _check_width(fields, cols.width, path, line, names)
                self.rows_read += 1
                datagouv_id = _code(cols.get(fields, "id_election"), path, line, "id_election")
                election_id = self.elections(datagouv_id, line)
                if election_id is None:
                    self.rows_skipped += 1
                    continue
                yield DatagouvBureau(election_id, datagouv_id, _bureau(cols, fields, path, line))


def _bureau(cols: _Columns, fields: list[str], path: Path, line: int) -> BureauRecord:
    try:
        code_commune = normalise_insee_commune(
            _code(cols.get(fields, "code_commune"), path, line, "code_commune")
        )
    except CodeError as exc:
        raise SourceFormatError(path, line, "code_commune", str(exc)) from None
    code_bv = normalise_code_bv(_code(cols.get(fields, "code_bv"), path, line, "code_bv"))

    def n(name: str) -> int:
        return parse_count(fields[cols.index[name]], path, line, name)

    return BureauRecord(
        source_line=line,
        code_departement=normalise_departement(
            _code(cols.get(fields, "code_departement"), path, line, "code_departement")
        ),
        libelle_departement=cols.get(fields, "libelle_departement"),
        code_commune=code_commune,
        libelle_commune=cols.get(fields, "libelle_commune"),
        code_bv=code_bv,
        bureau_id=make_bureau_id(code_commune, code_bv),
        inscrits=n("inscrits"),
        votants=n("votants"),
        abstentions=n("abstentions"),
        exprimes=n("exprimes"),
        blancs=n("blancs"),
        nuls=n("nuls"),
        id_brut_miom=_code(cols.get(fields, "id_brut_miom"), path, line, "id_brut_miom"),
        code_circonscription=cols.get(fields, "code_circonscription"),
        libelle_circonscription=cols.get(fields, "libelle_circonscription"),
        code_canton=cols.get(fields, "code_canton"),
        libelle_canton=cols.get(fields, "libelle_canton"),
    )


class DatagouvCandidats:
    """Stream `candidats_results` rows as DatagouvCandidate, for the selected elections."""

    def __init__(self, path: str | Path, only: Callable[[str], bool] | None = None) -> None:
        self.path = Path(path)
        self.elections = _ElectionMap(self.path, only)
        self.rows_read = 0
        self.rows_skipped = 0

    def __iter__(self) -> Iterator[DatagouvCandidate]:
        path = self.path
        with path.open("rb") as fh:
            lines, header, records = _start(fh, path, "candidats_results")
            names = [n.strip().lstrip("\ufeff") for n in header]
            lines.column_of = lambda i: names[i] if i < len(names) else None
            cols = _Columns(
                header, CANDIDATS_REQUIRED, CANDIDATS_OPTIONAL, path, "candidats_results"
            )
            if datagouv_kind(header) != LAYOUT_DATAGOUV_CANDIDATS:
                raise SourceFormatError(path, 1, None, "not a data.gouv candidats_results header")
            for line, fields in records:
                _check_width(fields, cols.width, path, line, names)
                self.rows_read += 1
                datagouv_id = _code(cols.get(fields, "id_election"), path, line, "id_election")
                election_id = self.elections(datagouv_id, line)
                if election_id is None:
                    self.rows_skipped += 1
                    continue
                try:
                    code_commune = normalise_insee_commune(
                        _code(cols.get(fields, "code_commune"), path, line, "code_commune")
                    )
                except CodeError as exc:
                    raise SourceFormatError(path, line, "code_commune", str(exc)) from None
                code_bv = normalise_code_bv(
                    _code(cols.get(fields, "code_bv"), path, line, "code_bv")
                )
                panneau = parse_count(fields[cols.index["no_panneau"]], path, line, "no_panneau")
                nom = cols.get(fields, "nom") or cols.get(fields, "binome")
                candidate = CandidateRecord(
                    block=0,
                    numero_panneau=panneau,
                    nuance=cols.get(fields, "nuance"),
                    nom=nom,
                    prenom=cols.get(fields, "prenom"),
                    sexe=cols.get(fields, "sexe"),
                    voix=parse_count(fields[cols.index["voix"]], path, line, "voix"),
                    elu=False,
                    liste_libelle_abrege=cols.get(fields, "libelle_abrege_liste"),
                    liste_libelle=cols.get(fields, "libelle_etendu_liste")
                    or cols.get(fields, "liste"),
                    tete_de_liste=cols.get(fields, "nom_tete_liste"),
                )
                yield DatagouvCandidate(
                    election_id=election_id,
                    datagouv_id=datagouv_id,
                    source_line=line,
                    code_commune=code_commune,
                    code_bv=code_bv,
                    bureau_id=make_bureau_id(code_commune, code_bv),
                    id_brut_miom=_code(
                        cols.get(fields, "id_brut_miom"), path, line, "id_brut_miom"
                    ),
                    candidate=candidate,
                )
