"""Ministry per-bureau results: the 2024 layout parser and the entry point for every layout.

`iter_results(path, layout=None)` detects the layout from the header (`detect_layout`) and
streams canonical `ParsedRow`s whatever the layout: the 2024 candidate layout is parsed here,
the other wide layouts (2017–2022, municipales 2020, européennes 2024 lists) by
`results_wide`, the data.gouv harmonised pair by `results_datagouv` (loaded as a pair, see
`ingestion.loaders.elections.load_datagouv_files`). Layouts are documented in
docs/results-layouts.md.

The 2024 candidate layout:

The layout (législatives and other 2024 results published on data.gouv.fr): UTF-8, `;`
separator, optional `"` quoting, 19 fixed columns (codes, labels, turnout counts and their
percentages) then numbered candidate blocks of 9 fields (`Numéro de panneau k` … `Elu k`).
A row fills as many blocks as its constituency has candidates; the remaining blocks are empty.

Why it is written this way:
- It streams. A national file has ~69,000 bureaux and ~190 fields per row; the loader COPYs
  rows while they are read, so nothing here holds the file in memory.
- It refuses instead of guessing. Results feed every score: a silently shifted column or a
  half-read row would bias a whole constituency. Every refusal is a `SourceFormatError` naming
  the file, the physical line, the column and what was expected.
- Counts are what we keep. Percentages are derived from counts and are recomputed downstream;
  rejecting a file over a rounding or formatting quirk in a derived column would block a load
  for nothing, so they are ignored (the turnout and vote identities are checked by the raw-data
  quality suite, where a failure is reported per bureau instead of refusing the file).
- The number of candidate blocks comes from the header, never from a constant: the first
  round of 2024 has 19 blocks, the second round 4, and other elections differ again.
"""

from __future__ import annotations

import codecs
import csv
import functools
import re
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ingestion.errors import SourceFormatError
from ingestion.sources import results_city, results_layouts
from ingestion.sources.results_codes import make_bureau_id, normalise_code_bv
from ingestion.sources.results_datagouv import (
    LAYOUT_DATAGOUV_CANDIDATS,
    LAYOUT_DATAGOUV_GENERAL,
    datagouv_kind,
)
from ingestion.sources.results_records import (
    BureauRecord,
    CandidateRecord,
    ParsedRow,
    identity_issue,
)
from ingestion.sources.results_text import DecodedLines
from ingestion.sources.results_text import csv_reader as _legacy_csv_reader
from ingestion.sources.results_text import read_header as _legacy_read_header
from ingestion.sources.results_wide import iter_wide
from ingestion.textlines import guarded_lines

if TYPE_CHECKING:
    from _csv import Reader as _CsvReader

LAYOUT_MININT_2024 = "minint_2024"

FIXED_COLUMNS: tuple[str, ...] = (
    "Code département",
    "Libellé département",
    "Code commune",
    "Libellé commune",
    "Code BV",
    "Inscrits",
    "Votants",
    "% Votants",
    "Abstentions",
    "% Abstentions",
    "Exprimés",
    "% Exprimés/inscrits",
    "% Exprimés/votants",
    "Blancs",
    "% Blancs/inscrits",
    "% Blancs/votants",
    "Nuls",
    "% Nuls/inscrits",
    "% Nuls/votants",
)
"""The 19 fixed columns, in file order (Votants comes before Abstentions)."""

BLOCK_FIELDS: tuple[str, ...] = (
    "Numéro de panneau",
    "Nuance candidat",
    "Nom candidat",
    "Prénom candidat",
    "Sexe candidat",
    "Voix",
    "% Voix/inscrits",
    "% Voix/exprimés",
    "Elu",
)
"""The 9 fields of candidate block k; the header names them `<field> <k>`, k from 1."""

N_FIXED = len(FIXED_COLUMNS)
BLOCK_SIZE = len(BLOCK_FIELDS)

# Positions inside the fixed columns and inside a block (the header is checked name by name,
# so positions are safe to use afterwards and much cheaper than a dict per row).
_I_DEP, _I_LIB_DEP, _I_COM, _I_LIB_COM, _I_BV = 0, 1, 2, 3, 4
_COUNT_COLUMNS: tuple[tuple[int, str], ...] = (
    (5, "Inscrits"),
    (6, "Votants"),
    (8, "Abstentions"),
    (10, "Exprimés"),
    (13, "Blancs"),
    (16, "Nuls"),
)
_B_PANNEAU, _B_NUANCE, _B_NOM, _B_PRENOM, _B_SEXE, _B_VOIX, _B_ELU = 0, 1, 2, 3, 4, 5, 8
# A filled block must carry these; percentages are derived and `Elu` is empty for non-elected.
_BLOCK_REQUIRED: tuple[int, ...] = (_B_PANNEAU, _B_NUANCE, _B_NOM, _B_PRENOM, _B_SEXE, _B_VOIX)

# INSEE commune code: 5 digits, or 2A/2B + 3 digits for Corsica. `Z?` + 3 digits covers the
# codes the Ministry gives to overseas collectivities and French people abroad (ZZ, ZX, ZP…),
# which a national file may contain; refusing them would refuse the whole national file.
_CODE_COMMUNE = re.compile(r"(?:[0-9]{5}|2[AB][0-9]{3}|Z[A-Z][0-9]{3})")
_CODE_DEPARTEMENT = re.compile(r"[0-9A-Z]{2,3}")
_INT4_MAX = 2_147_483_647  # the warehouse stores counts as PostgreSQL `integer`
_ELU_VALUES = frozenset({"élu", "élue", "elu", "elue"})


@functools.cache
def block_columns(k: int) -> tuple[str, ...]:
    """Header names of candidate block `k` (1-based), e.g. `Voix 3` (cached: hot path)."""
    return tuple(f"{name} {k}" for name in BLOCK_FIELDS)


def _normalise_header_name(name: str) -> str:
    # NFC: a header re-saved on macOS may spell `é` as `e` + combining accent.
    return unicodedata.normalize("NFC", name.replace("\ufeff", "")).strip()


def _detect_2024(header_fields: Sequence[str], path: str | Path | None = None) -> str:
    """LAYOUT_MININT_2024 for a 2024 candidate header, or raise naming line 1 and the first bad
    column. Checking every name (not just a few) is what makes positional parsing safe."""
    names = [_normalise_header_name(n) for n in header_fields]
    for i, expected in enumerate(FIXED_COLUMNS):
        if i >= len(names):
            raise SourceFormatError(
                path,
                1,
                expected,
                f"header ends after {len(names)} fields: expected column {expected!r} "
                f"(field {i + 1}) of the Ministry 2024 per-bureau layout",
            )
        if names[i] != expected:
            raise SourceFormatError(
                path,
                1,
                names[i],
                f"unknown results layout: expected {expected!r} as field {i + 1} "
                "of the Ministry 2024 per-bureau layout",
            )
    if len(names) == N_FIXED:
        raise SourceFormatError(
            path,
            1,
            None,
            f"header has no candidate block: expected {block_columns(1)[0]!r} "
            f"as field {N_FIXED + 1}",
        )
    for j in range(N_FIXED, len(names)):
        block, offset = divmod(j - N_FIXED, BLOCK_SIZE)
        expected = f"{BLOCK_FIELDS[offset]} {block + 1}"
        if names[j] != expected:
            raise SourceFormatError(
                path,
                1,
                names[j],
                f"unknown results layout: expected {expected!r} as field {j + 1} "
                "(candidate blocks are numbered from 1, 9 fields each)",
            )
    tail = (len(names) - N_FIXED) % BLOCK_SIZE
    if tail:
        block = (len(names) - N_FIXED) // BLOCK_SIZE + 1
        expected = f"{BLOCK_FIELDS[tail]} {block}"
        raise SourceFormatError(
            path,
            1,
            expected,
            f"header ends inside candidate block {block}: expected column {expected!r} "
            f"as field {len(names) + 1}",
        )
    return LAYOUT_MININT_2024


class _Utf8Lines:
    """Decode a binary file line by line so a decoding error can name its line and column.

    Decoding through `open(encoding=...)` would fail on a buffered chunk, with no line number.
    """

    def __init__(self, fh: BinaryIO, path: Path) -> None:
        self._fh = fh
        self._path = path
        self.header: list[str] | None = None

    def __iter__(self) -> Iterator[str]:
        for line_no, raw in guarded_lines(self._fh, self._path, column_at=self._column_at):
            chunk = (
                raw[len(codecs.BOM_UTF8) :]
                if line_no == 1 and raw.startswith(codecs.BOM_UTF8)
                else raw
            )
            try:
                yield chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self._decode_error(chunk, line_no, exc) from None

    def _column_at(self, chunk: bytes, position: int) -> str | None:
        """The header name of the field holding byte `position` of a data line, if known."""
        if self.header is None:
            return None
        prefix = chunk[:position].decode("utf-8", "replace")
        index = len(next(csv.reader([prefix], delimiter=";", quotechar='"'), [""])) - 1
        return self.header[index] if 0 <= index < len(self.header) else None

    def _decode_error(
        self, chunk: bytes, line_no: int, exc: UnicodeDecodeError
    ) -> SourceFormatError:
        column = self._column_at(chunk, exc.start)
        near = chunk[max(0, exc.start - 12) : exc.start + 8].decode("utf-8", "backslashreplace")
        return SourceFormatError(
            self._path,
            line_no,
            column,
            f"not valid UTF-8: byte 0x{chunk[exc.start]:02x} near {near!r}; the Ministry 2024 "
            "layout is UTF-8 (a latin-1/cp1252 file is an older layout or a spreadsheet re-save: "
            "convert it with `iconv -f latin1 -t utf-8`)",
        )


def _parse_count(value: str, path: Path, line: int, column: str) -> int:
    text = value.strip()
    # isascii: str.isdigit also accepts digits such as '²' or Arabic-Indic numerals.
    if not (text.isdigit() and text.isascii()):
        raise SourceFormatError(
            path, line, column, f"expected a non-negative integer, got {value!r}"
        )
    number = int(text)
    if number > _INT4_MAX:
        raise SourceFormatError(
            path, line, column, f"expected a count below {_INT4_MAX + 1}, got {value!r}"
        )
    return number


def _parse_elu(value: str, path: Path, line: int, column: str) -> bool:
    if not value:
        return False
    text = unicodedata.normalize("NFC", value.strip()).casefold()
    if not text:
        return False
    if text in _ELU_VALUES:
        return True
    raise SourceFormatError(path, line, column, f"expected 'élu' or an empty field, got {value!r}")


def _parse_codes(fields: list[str], path: Path, line: int) -> tuple[str, str, str]:
    code_dep = fields[_I_DEP].strip().upper()
    if not _CODE_DEPARTEMENT.fullmatch(code_dep):
        raise SourceFormatError(
            path,
            line,
            FIXED_COLUMNS[_I_DEP],
            f"expected a department code of 2-3 digits or letters (29, 2A, 971), "
            f"got {fields[_I_DEP]!r}",
        )
    code_commune = fields[_I_COM].strip().upper()
    if not _CODE_COMMUNE.fullmatch(code_commune):
        raise SourceFormatError(
            path,
            line,
            FIXED_COLUMNS[_I_COM],
            "expected a 5-character INSEE commune code (5 digits, or 2A/2B + 3 digits), "
            f"got {fields[_I_COM]!r}",
        )
    code_bv = normalise_code_bv(fields[_I_BV])
    if not code_bv:
        raise SourceFormatError(
            path, line, FIXED_COLUMNS[_I_BV], "expected a bureau code, got an empty field"
        )
    return code_dep, code_commune, code_bv


def _parse_block(raw: list[str], k: int, path: Path, line: int) -> CandidateRecord | None:
    """One candidate block, or None when the block is entirely empty (an unused slot).

    Written for speed (a national first round has ~600,000 filled blocks): valid values take
    the inline path; anything unusual falls back to the validators that build the error.
    """
    panneau, nuance, nom, prenom, sexe, voix, _, _, elu = raw
    panneau, nuance, nom, prenom = panneau.strip(), nuance.strip(), nom.strip(), prenom.strip()
    sexe, voix, elu = sexe.strip(), voix.strip(), elu.strip()
    if not (panneau and nuance and nom and prenom and sexe and voix):
        _refuse_partial_block([v.strip() for v in raw], k, path, line)
        return None
    names = block_columns(k)
    return CandidateRecord(
        block=k,
        numero_panneau=int(panneau)
        if panneau.isdigit() and panneau.isascii() and len(panneau) < 10
        else _parse_count(panneau, path, line, names[_B_PANNEAU]),
        nuance=nuance,
        nom=nom,
        prenom=prenom,
        sexe=sexe,
        voix=int(voix)
        if voix.isdigit() and voix.isascii() and len(voix) < 10
        else _parse_count(voix, path, line, names[_B_VOIX]),
        elu=_parse_elu(elu, path, line, names[_B_ELU]) if elu else False,
    )


def _refuse_partial_block(values: list[str], k: int, path: Path, line: int) -> None:
    """Return quietly for an all-blank block; otherwise raise naming the first missing field."""
    if not any(values):
        return
    names = block_columns(k)
    missing = next(i for i in _BLOCK_REQUIRED if not values[i])
    filled = next(j for j, v in enumerate(values) if v)
    raise SourceFormatError(
        path,
        line,
        names[missing],
        f"candidate block {k} is partially filled: this field is empty while "
        f"{names[filled]!r} is {values[filled]!r} (a block is either entirely empty or "
        "has panneau, nuance, nom, prénom, sexe and voix)",
    )


def _check_width(fields: list[str], header: list[str], path: Path, line: int) -> None:
    if len(fields) < len(header):
        raise SourceFormatError(
            path,
            line,
            header[len(fields)],
            f"row is truncated: expected {len(header)} fields as in the header, "
            f"got {len(fields)} (this column and the following ones are missing)",
        )
    if len(fields) > len(header):
        raise SourceFormatError(
            path,
            line,
            None,
            f"row has extra fields: expected {len(header)} fields as in the header, "
            f"got {len(fields)}",
        )


def _parse_row(
    fields: list[str], header: list[str], n_blocks: int, path: Path, line: int
) -> ParsedRow:
    _check_width(fields, header, path, line)
    code_dep, code_commune, code_bv = _parse_codes(fields, path, line)
    counts = [_parse_count(fields[i], path, line, name) for i, name in _COUNT_COLUMNS]
    bureau = BureauRecord(
        source_line=line,
        code_departement=code_dep,
        libelle_departement=fields[_I_LIB_DEP].strip() or None,
        code_commune=code_commune,
        libelle_commune=fields[_I_LIB_COM].strip() or None,
        code_bv=code_bv,
        bureau_id=make_bureau_id(code_commune, code_bv),
        id_brut_miom=f"{fields[_I_COM].strip()}_{fields[_I_BV].strip()}",
        inscrits=counts[0],
        votants=counts[1],
        abstentions=counts[2],
        exprimes=counts[3],
        blancs=counts[4],
        nuls=counts[5],
    )
    candidates: list[CandidateRecord] = []
    panneaux: dict[int, int] = {}
    for k in range(1, n_blocks + 1):
        start = N_FIXED + (k - 1) * BLOCK_SIZE
        raw = fields[start : start + BLOCK_SIZE]
        if not any(raw):
            continue  # fast path for the many unused trailing blocks of a national file
        candidate = _parse_block(raw, k, path, line)
        if candidate is None:
            continue
        if candidate.numero_panneau in panneaux:
            raise SourceFormatError(
                path,
                line,
                block_columns(k)[_B_PANNEAU],
                f"panel number {candidate.numero_panneau} already used by candidate block "
                f"{panneaux[candidate.numero_panneau]} of the same row",
            )
        panneaux[candidate.numero_panneau] = k
        candidates.append(candidate)
    return ParsedRow(bureau=bureau, candidates=tuple(candidates))


def _csv_reader(lines: _Utf8Lines) -> _CsvReader:
    # strict: a stray quote inside a field is an error, not a silently merged field.
    return csv.reader(lines, delimiter=";", quotechar='"', strict=True)


def _read_header(reader: _CsvReader, path: Path) -> list[str]:
    try:
        return next(reader)
    except StopIteration:
        raise SourceFormatError(
            path, 1, None, "the file is empty: expected the header line"
        ) from None
    except csv.Error as exc:
        raise SourceFormatError(path, 1, None, f"malformed CSV header: {exc}") from exc


def iter_results_2024(path: str | Path) -> Iterator[ParsedRow]:
    """Stream the data rows of a 2024-layout results file, one `ParsedRow` per bureau.

    Raises `SourceFormatError` at the first problem, with the physical line (header = 1); rows
    before it have already been yielded, so a loader must treat the file as all-or-nothing.
    Blank lines are skipped. A bureau that appears twice is refused: it would count twice.
    """
    path = Path(path)
    with path.open("rb") as fh:
        lines = _Utf8Lines(fh, path)
        reader = _csv_reader(lines)
        raw_header = _read_header(reader, path)
        _detect_2024(raw_header, path)
        header = [_normalise_header_name(n) for n in raw_header]
        lines.header = header
        n_blocks = (len(header) - N_FIXED) // BLOCK_SIZE
        seen: dict[str, int] = {}
        while True:
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise SourceFormatError(path, line, None, f"malformed CSV: {exc}") from exc
            if not fields:
                continue
            row = _parse_row(fields, header, n_blocks, path, line)
            first = seen.setdefault(row.bureau.bureau_id, line)
            if first != line:
                raise SourceFormatError(
                    path,
                    line,
                    FIXED_COLUMNS[_I_BV],
                    f"bureau {row.bureau.bureau_id} already appears on line {first}",
                )
            yield row


LAYOUT_TITLES: dict[str, str] = {
    LAYOUT_MININT_2024: "législatives 2024 per bureau (Ministry, UTF-8, numbered candidate blocks)",
    results_city.LAYOUT_CITY_EXPORT: results_city.TITLE,
    **{name: spec.title for name, spec in results_layouts.WIDE_LAYOUTS.items()},
    LAYOUT_DATAGOUV_GENERAL: "data.gouv harmonised general_results (one row per bureau)",
    LAYOUT_DATAGOUV_CANDIDATS: "data.gouv harmonised candidats_results (one row per candidate)",
}
"""Every layout name accepted by `layout=` / `--layout`, with what it is."""

LAYOUT_ELECTION_TYPES: dict[str, frozenset[str]] = {
    LAYOUT_MININT_2024: frozenset({"legi", "pres"}),
    **{name: spec.election_types for name, spec in results_layouts.WIDE_LAYOUTS.items()},
}
"""Which registered election types a wide layout can carry (a file loaded under an id of another
registered type is refused: the manifest points at the wrong file)."""

DATAGOUV_LAYOUTS = frozenset({LAYOUT_DATAGOUV_GENERAL, LAYOUT_DATAGOUV_CANDIDATS})


def check_layout_matches_election(path: str | Path, layout: str, election_id: str) -> None:
    """Refuse an election id whose type the layout cannot hold (a présidentielle file loaded or
    tidied as législatives): the manifest, or the command line, points at the wrong file."""
    from ingestion.sources.election_types import election_type

    kind = election_type(election_id)
    allowed = LAYOUT_ELECTION_TYPES.get(layout, frozenset())
    if kind is not None and allowed and kind.code not in allowed:
        raise SourceFormatError(
            Path(path),
            1,
            None,
            f"layout {layout} holds {'/'.join(sorted(allowed))} results, not "
            f"{kind.label_en} ones ({election_id}): is the manifest pointing at the "
            "right file?",
        )


def _prefix_2024(names: Sequence[str]) -> int:
    matched = 0
    for expected, name in zip(FIXED_COLUMNS, names, strict=False):
        if name != expected:
            break
        matched += 1
    return matched


def detect_layout(header_fields: Sequence[str], path: str | Path | None = None) -> str:
    """The layout name of a header, or raise naming line 1, the first bad column and the
    closest layout (the one whose columns the header follows the furthest).

    Every column name is checked, not just a few: that is what makes positional parsing safe.
    """
    kind = datagouv_kind(list(header_fields))
    if kind is not None:
        return kind
    if results_city.is_city_export_header(list(header_fields)):
        return results_city.LAYOUT_CITY_EXPORT
    names = [_normalise_header_name(n) for n in header_fields]
    misses: list[tuple[int, int, SourceFormatError]] = []
    try:
        return _detect_2024(header_fields, path)
    except SourceFormatError as exc:
        misses.append((_prefix_2024(names), 0, exc))
    matches: list[str] = []
    for order, spec in enumerate(results_layouts.WIDE_LAYOUTS.values(), start=1):
        try:
            results_layouts.match_header(spec, header_fields, Path(path) if path else None)
        except results_layouts.LayoutMismatch as miss:
            misses.append((miss.matched, order, miss.error))
        else:
            matches.append(spec.name)
    if matches:
        return matches[0]
    matched, _, error = max(misses, key=lambda m: (m[0], -m[1]))
    if matched == 0:
        first = names[0] if names else ""
        raise SourceFormatError(
            path,
            1,
            first or None,
            f"unknown results layout: the header starts with {first!r}; known layouts start "
            "with 'Code du département' (Ministry 2017–2022), 'Code département' or "
            "'Code localisation' (Ministry 2024), or hold 'id_election' and 'id_brut_miom' "
            "(data.gouv harmonised files). Known layouts: " + ", ".join(LAYOUT_TITLES),
        )
    raise error


def read_file_header(path: str | Path) -> list[str]:
    """The header fields of a results file (UTF-8, else cp1252: enough to detect the layout)."""
    path = Path(path)
    with path.open("rb") as fh:
        lines = DecodedLines(fh, path, "legacy")
        return _legacy_read_header(_legacy_csv_reader(lines), path)


def detect_file_layout(path: str | Path) -> str:
    """The layout of a results file, from its header only (for dispatching to a parser)."""
    return detect_layout(read_file_header(path), path)


def check_layout_name(layout: str) -> str:
    """Refuse an unknown `layout=` override, listing the known ones."""
    if layout not in LAYOUT_TITLES:
        raise ValueError(f"unknown layout {layout!r}: expected one of {', '.join(LAYOUT_TITLES)}")
    return layout


def iter_results(path: str | Path, layout: str | None = None) -> Iterator[ParsedRow]:
    """Stream any wide results file as canonical rows; `layout` overrides the detection (the
    header must still fit that layout, name by name).

    data.gouv files are refused here: a general_results file has no candidates and a
    candidats_results file no turnout, so they only make sense as a pair
    (`load_datagouv_files`, `scrutin results tidy GENERAL CANDIDATS`).
    """
    path = Path(path)
    name = check_layout_name(layout) if layout else detect_file_layout(path)
    if name in DATAGOUV_LAYOUTS:
        raise SourceFormatError(
            path,
            1,
            None,
            f"{path.name} is a data.gouv {name.removeprefix('datagouv_')}_results file: it is read "
            "as a pair with its companion file (general_results + candidats_results)",
        )
    if name == LAYOUT_MININT_2024:
        return iter_results_2024(path)
    if name == results_city.LAYOUT_CITY_EXPORT:
        return results_city.iter_city_export(path)
    return iter_wide(path, name)


__all__ = [
    "BLOCK_FIELDS",
    "FIXED_COLUMNS",
    "LAYOUT_MININT_2024",
    "LAYOUT_TITLES",
    "BureauRecord",
    "CandidateRecord",
    "ParsedRow",
    "check_layout_name",
    "detect_file_layout",
    "detect_layout",
    "identity_issue",
    "iter_results",
    "iter_results_2024",
    "make_bureau_id",
    "normalise_code_bv",
]
