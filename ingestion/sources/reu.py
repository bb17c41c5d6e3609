"""Parser for INSEE's REU tables ("Bureaux de vote et adresses de leurs électeurs", data.gouv.fr).

Two tables are published (comma-separated UTF-8 CSV, also Parquet):
- `table-bv-reu`: one row per REU polling station (`id_brut_reu`, `code_commune`, `code`,
  `libelle_reu`, the station's address, `nb_adresses_initial`/`nb_adresses_final`, and in later
  releases `id_brut_insee` / `id_brut_miom`, the election-side keys);
- `table-adresses-reu`: one row per geocoded address point and bureau (`code_commune_ref`,
  `id_brut_bv_reu`, BAN geocoding result `id`/`geo_adresse`/`geo_type`/`geo_score`/`longitude`/
  `latitude`/`api_line`, `nb_bv_commune`, `nb_adresses`).
Column lists: docs/electoral-roll.md (with how each was checked).

Why it is written this way:
- Columns are chosen by name, never by position: the full tables and the subsets that circulate
  (InseeFrLab/mapvotr ships a 7-column extract of the address table) must load with the same
  code. A missing optional column gives NULL; a missing key column refuses the file at line 1.
- It streams (the national address table has ~14 million rows) and refuses instead of guessing,
  with the file, the physical line and the column, like the results parser.
- It builds the keys other sources join on: `bureau_id` is exactly the Ministry key of the
  results tables (`ingestion.sources.elections.make_bureau_id`), with the results' commune code
  for Paris/Lyon/Marseille, whose REU codes are arrondissements.
- It also holds the address normalisation shared with the roll loader (doors) and canvassing
  (building keys): one definition, so the hashes of one address agree across sources.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import gzip
import hashlib
import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from ingestion.blocks import BlockParser, NeedsLineReader, line_blocks
from ingestion.errors import SourceFormatError
from ingestion.sources.elections import make_bureau_id, normalise_code_bv
from ingestion.textlines import guarded_lines
from scrutin.vocabulary import COMMUNE_CODE_REGEX, unanchored

if TYPE_CHECKING:
    from _csv import Reader as _CsvReader

ReuTable = Literal["bv", "adresses"]
REU_TABLES: tuple[ReuTable, ...] = ("bv", "adresses")

ADDRESS_COLUMNS: tuple[str, ...] = (
    "code_commune_ref",
    "reconstitution_code_commune",
    "id_brut_bv_reu",
    "id",
    "geo_adresse",
    "geo_type",
    "geo_score",
    "longitude",
    "latitude",
    "api_line",
    "nb_bv_commune",
    "nb_adresses",
)
"""The published `table-adresses-reu` header, in file order."""

ADDRESS_KEY_COLUMNS: tuple[str, ...] = (
    "code_commune_ref",
    "id_brut_bv_reu",
    "longitude",
    "latitude",
    "nb_adresses",
)
"""Columns without which an address row means nothing (the 7-column subset has all of them)."""

BUREAU_COLUMNS: tuple[str, ...] = (
    "id_brut_reu",
    "id_brut_insee",
    "id_brut_miom",
    "code_commune",
    "code",
    "libelle_reu",
    "num_voie_reu",
    "voie_reu",
    "cp_reu",
    "commune_reu",
    "nb_adresses_initial",
    "nb_adresses_final",
)
"""The `table-bv-reu` columns this loader reads (order of our synthetic files; see the docs)."""

BUREAU_KEY_COLUMNS: tuple[str, ...] = ("id_brut_reu", "code_commune", "code")
# Some copies call the bureau table's key like the address table's: accept both spellings.
_BUREAU_ALIASES: dict[str, str] = {"id_brut_bv_reu": "id_brut_reu"}

_CODE_COMMUNE = re.compile(unanchored(COMMUNE_CODE_REGEX))
_CODE_BV = re.compile(r"[0-9A-Za-z]{1,8}")
_INT4_MAX = 2_147_483_647

# Paris, Lyon and Marseille: the REU (like IRIS) uses municipal-arrondissement codes, the
# results files use the commune's code.
_PLM: tuple[tuple[int, int, str], ...] = (
    (75101, 75120, "75056"),
    (69381, 69389, "69123"),
    (13201, 13216, "13055"),
)


def results_commune_code(code_commune: str) -> str:
    """The commune code of the results files for an INSEE code (arrondissement -> PLM commune)."""
    if code_commune.isdigit():
        number = int(code_commune)
        for low, high, city in _PLM:
            if low <= number <= high:
                return city
    return code_commune


def reu_bureau_id(code_commune: str, code: str) -> tuple[str, str, str]:
    """(code_commune_results, code_bv, bureau_id) for an REU commune and bureau code."""
    results_code = results_commune_code(code_commune)
    code_bv = normalise_code_bv(code)
    return results_code, code_bv, make_bureau_id(results_code, code_bv)


# ---- address normalisation (shared with roll doors and canvass building keys) ---------------

_NON_ALNUM = re.compile(r"[^0-9A-Z]+")
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "’": "'"})


def normalise_address(text: str) -> str:
    """Upper-case ASCII words separated by one space: `12, rue de Siam` -> `12 RUE DE SIAM`.

    Accents, punctuation, apostrophes and repeated spaces are what differ between two spellings of
    one address in the REU, the BAN and canvassing apps; abbreviations (`R.` for `RUE`) are not
    expanded, because a wrong expansion would merge two different doors.
    """
    if not text.isascii():
        # Ligatures first (NFKD keeps them), then accents dropped; in C, not per character in
        # Python: this runs once per row of the 14-million-row national address table.
        text = text.translate(_LIGATURES)
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM.sub(" ", text.upper()).strip()


_BAN_LABEL = re.compile(r"^(?P<street>.*?)\s+(?P<postcode>[0-9]{5})\s+(?P<city>\S.*)$")


def address_key(text: str) -> str | None:
    """Hex sha256 of the normalised address, or None when nothing is left after normalisation.

    A BAN label (`3 Rue de l'Église 29900 Concarneau`) is keyed exactly as the canvass loader
    keys an app's address (`ingestion.canvass.pseudonymise.normalise_address` of number + street
    and commune, postcode dropped), so a door knock finds its REU address and so its bureau.
    Other texts fall back to the plain normalisation above. A plain hash, not an HMAC: the REU
    address points are public open data; the key only makes joins cheap and spelling-proof.
    """
    from ingestion.canvass.pseudonymise import address_sha256
    from ingestion.canvass.pseudonymise import normalise_address as canvass_normalise

    label = _BAN_LABEL.match(text.strip())
    if label:
        normalised = canvass_normalise(None, label["street"], label["city"])
        if normalised:
            return address_sha256(normalised)
    plain = normalise_address(text)
    if not plain:
        return None
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


# ---- reading -----------------------------------------------------------------------------------


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it is gzip-compressed (by content, not by name)."""
    fh = path.open("rb")
    magic = fh.read(2)
    fh.seek(0)
    if magic == b"\x1f\x8b":
        fh.close()
        return cast("IO[bytes]", gzip.open(path, "rb"))
    return fh


class DecodedLines:
    """Decode a binary file line by line, so that a decoding error names its line and column.

    `show_content` puts a few bytes around the bad one in the message, which helps with public
    files; the roll loader turns it off, since its lines hold names and birth dates.
    """

    def __init__(
        self, fh: IO[bytes], path: Path, encoding: str, *, show_content: bool, hint: str = ""
    ) -> None:
        self._fh = fh
        self._path = path
        self._encoding = encoding
        self._show_content = show_content
        self._hint = hint
        self.delimiter = ","
        self.header: list[str] | None = None

    def __iter__(self) -> Iterator[str]:
        for line_no, raw in guarded_lines(self._fh, self._path, column_at=self._column_at):
            chunk = raw
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                chunk = raw[len(codecs.BOM_UTF8) :]
            try:
                yield chunk.decode(self._encoding)
            except UnicodeDecodeError as exc:
                raise self._decode_error(chunk, line_no, exc) from None

    def _column_at(self, chunk: bytes, position: int) -> str | None:
        """The header name of the field holding byte `position` of a data line, if known."""
        if self.header is None:
            return None
        prefix = chunk[:position].decode(self._encoding, "replace")
        index = len(next(csv.reader([prefix], delimiter=self.delimiter), [""])) - 1
        return self.header[index] if 0 <= index < len(self.header) else None

    def _decode_error(
        self, chunk: bytes, line_no: int, exc: UnicodeDecodeError
    ) -> SourceFormatError:
        column = self._column_at(chunk, exc.start)
        reason = (
            f"not valid {self._encoding}: byte 0x{chunk[exc.start]:02x} at byte {exc.start + 1}"
        )
        if self._show_content:
            near = chunk[max(0, exc.start - 12) : exc.start + 8]
            reason += f" near {near.decode(self._encoding, 'backslashreplace')!r}"
        else:
            reason += " (content not shown: the file holds personal data)"
        return SourceFormatError(self._path, line_no, column, reason + self._hint)


def sniff_delimiter(header_line: str) -> str:
    """`;` or `,`, whichever the header uses more (official files use `,`, re-saves `;`)."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def normalise_header_name(name: str) -> str:
    """NFC, no BOM, trimmed, lower-case: how the published headers are written."""
    return unicodedata.normalize("NFC", name.replace("\ufeff", "")).strip().lower()


def read_header(path: Path, reader: _CsvReader) -> list[str]:
    try:
        return next(reader)
    except StopIteration:
        raise SourceFormatError(
            path, 1, None, "the file is empty: expected the header line"
        ) from None
    except csv.Error as exc:
        raise SourceFormatError(path, 1, None, f"malformed CSV header: {exc}") from None


_REU_ENCODING_HINT = (
    "; the REU tables are published in UTF-8 (a latin-1/cp1252 file is a spreadsheet re-save: "
    "convert it with `iconv -f cp1252 -t utf-8`)"
)


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each known column sits in this file's header (None: absent -> NULL)."""

    table: ReuTable
    header: tuple[str, ...]
    positions: dict[str, int | None]


def detect_table(header: Sequence[str], path: Path | None = None) -> ReuTable:
    """Which REU table a header belongs to, from its column names."""
    names = {normalise_header_name(h) for h in header}
    # Lenient on purpose: a file that is recognisably one table but lacks a key column must be
    # refused naming that column, not as "unknown file".
    if "id_brut_bv_reu" in names and names & {"code_commune_ref", "longitude", "nb_adresses"}:
        return "adresses"
    if {"code_commune", "code"} <= names:
        return "bv"
    raise SourceFormatError(
        path,
        1,
        None,
        "not an REU table: expected the columns of table-adresses-reu (id_brut_bv_reu, "
        "longitude, latitude, nb_adresses, ...) or of table-bv-reu (id_brut_reu, code_commune, "
        "code, ...)",
    )


def _layout(raw_header: Sequence[str], path: Path, table: ReuTable | None) -> _Layout:
    header = [normalise_header_name(h) for h in raw_header]
    detected = detect_table(header, path)
    if table is not None and table != detected:
        raise SourceFormatError(
            path,
            1,
            None,
            f"--table {table} was asked but the header is the one of table "
            f"{'table-adresses-reu' if detected == 'adresses' else 'table-bv-reu'}",
        )
    columns, keys = (
        (ADDRESS_COLUMNS, ADDRESS_KEY_COLUMNS)
        if detected == "adresses"
        else (BUREAU_COLUMNS, BUREAU_KEY_COLUMNS)
    )
    positions: dict[str, int | None] = dict.fromkeys(columns)
    for i, name in enumerate(header):
        canonical = _BUREAU_ALIASES.get(name, name) if detected == "bv" else name
        if canonical in positions:
            if positions[canonical] is not None:
                raise SourceFormatError(
                    path, 1, name, f"column appears twice (fields {positions[canonical]} and {i})"
                )
            positions[canonical] = i
    for key in keys:
        if positions[key] is None:
            raise SourceFormatError(
                path,
                1,
                key,
                f"key column missing: the {detected} table needs {', '.join(keys)}; "
                f"the header has {', '.join(header)}",
            )
    return _Layout(detected, tuple(header), positions)


# ---- records -----------------------------------------------------------------------------------


@dataclass(slots=True)
class BureauRow:
    """One `table-bv-reu` row with its normalised keys."""

    source_line: int
    id_brut_reu: str
    id_brut_insee: str | None
    id_brut_miom: str | None
    code_commune: str
    code_commune_results: str
    code: str
    code_bv: str
    bureau_id: str
    libelle_reu: str | None
    num_voie_reu: str | None
    voie_reu: str | None
    cp_reu: str | None
    commune_reu: str | None
    nb_adresses_initial: int | None
    nb_adresses_final: int | None


@dataclass(slots=True)
class AddressRow:
    """One `table-adresses-reu` row with its normalised keys."""

    source_line: int
    code_commune_ref: str
    reconstitution_code_commune: str | None
    id_brut_bv_reu: str
    code_commune: str
    code_commune_results: str
    code_bv: str
    bureau_id: str
    ban_id: str | None
    geo_adresse: str | None
    geo_type: str | None
    geo_score: float | None
    longitude: float
    latitude: float
    api_line: str | None
    nb_bv_commune: int | None
    nb_adresses: int
    address_key: str | None


class _Row:
    """Typed access to the fields of one data line, by column name; errors name the column."""

    __slots__ = ("fields", "layout", "line", "path")

    def __init__(self, fields: list[str], layout: _Layout, path: Path, line: int) -> None:
        self.fields = fields
        self.layout = layout
        self.path = path
        self.line = line

    def text(self, column: str) -> str | None:
        i = self.layout.positions[column]
        if i is None:
            return None
        value = self.fields[i].strip()
        return value or None

    def required(self, column: str) -> str:
        value = self.text(column)
        if value is None:
            raise self.error(column, "expected a value, got an empty field")
        return value

    def commune(self, column: str) -> str:
        value = self.required(column).upper()
        if not _CODE_COMMUNE.fullmatch(value):
            raise self.error(
                column,
                f"expected a 5-character INSEE commune code (5 digits, or 2A/2B + 3 "
                f"digits), got {value!r}",
            )
        return value

    def integer(self, column: str, *, required: bool = False) -> int | None:
        value = self.required(column) if required else self.text(column)
        if value is None:
            return None
        text = value[:-2] if value.endswith(".0") else value  # Parquet->CSV exports write 3.0
        if not (text.isascii() and text.isdigit()) or int(text) > _INT4_MAX:
            raise self.error(column, f"expected a non-negative integer, got {value!r}")
        return int(text)

    def number(self, column: str, *, required: bool = False) -> float | None:
        value = self.required(column) if required else self.text(column)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise self.error(column, f"expected a decimal number written with '.', got {value!r}")
        return number

    def error(self, column: str, reason: str) -> SourceFormatError:
        return SourceFormatError(self.path, self.line, column, reason)


def _split_reu_id(row: _Row, column: str) -> tuple[str, str]:
    """`29039_1` -> (`29039`, `1`): the commune prefix and the REU bureau code."""
    value = row.required(column)
    commune, sep, code = value.partition("_")
    commune = commune.upper()
    if not (sep and _CODE_COMMUNE.fullmatch(commune) and _CODE_BV.fullmatch(code)):
        raise row.error(
            column, f"expected '<commune code>_<bureau code>' such as '29039_1', got {value!r}"
        )
    return commune, code


def _bureau_row(row: _Row) -> BureauRow:
    code_commune = row.commune("code_commune")
    code = row.required("code")
    if not _CODE_BV.fullmatch(code):
        raise row.error("code", f"expected a bureau code of 1-8 letters or digits, got {code!r}")
    id_commune, _ = _split_reu_id(row, "id_brut_reu")
    if id_commune != code_commune:
        raise row.error(
            "id_brut_reu",
            f"commune prefix {id_commune!r} differs from code_commune {code_commune!r}",
        )
    results_code, code_bv, bureau_id = reu_bureau_id(code_commune, code)
    return BureauRow(
        source_line=row.line,
        id_brut_reu=row.required("id_brut_reu"),
        id_brut_insee=row.text("id_brut_insee"),
        id_brut_miom=row.text("id_brut_miom"),
        code_commune=code_commune,
        code_commune_results=results_code,
        code=code,
        code_bv=code_bv,
        bureau_id=bureau_id,
        libelle_reu=row.text("libelle_reu"),
        num_voie_reu=row.text("num_voie_reu"),
        voie_reu=row.text("voie_reu"),
        cp_reu=row.text("cp_reu"),
        commune_reu=row.text("commune_reu"),
        nb_adresses_initial=row.integer("nb_adresses_initial"),
        nb_adresses_final=row.integer("nb_adresses_final"),
    )


def _address_row(row: _Row) -> AddressRow:
    code_commune_ref = row.commune("code_commune_ref")
    code_commune, code = _split_reu_id(row, "id_brut_bv_reu")
    results_code, code_bv, bureau_id = reu_bureau_id(code_commune, code)
    geo_adresse = row.text("geo_adresse")
    longitude = row.number("longitude", required=True)
    latitude = row.number("latitude", required=True)
    nb_adresses = row.integer("nb_adresses", required=True)
    assert longitude is not None and latitude is not None and nb_adresses is not None
    return AddressRow(
        source_line=row.line,
        code_commune_ref=code_commune_ref,
        reconstitution_code_commune=row.text("reconstitution_code_commune"),
        id_brut_bv_reu=row.required("id_brut_bv_reu"),
        code_commune=code_commune,
        code_commune_results=results_code,
        code_bv=code_bv,
        bureau_id=bureau_id,
        ban_id=row.text("id"),
        geo_adresse=geo_adresse,
        geo_type=row.text("geo_type"),
        geo_score=row.number("geo_score"),
        longitude=longitude,
        latitude=latitude,
        api_line=row.text("api_line"),
        nb_bv_commune=row.integer("nb_bv_commune"),
        nb_adresses=nb_adresses,
        address_key=address_key(geo_adresse) if geo_adresse else None,
    )


@dataclass(frozen=True, slots=True)
class ReuFile:
    """A parsed header: which table, which of the known columns are present."""

    table: ReuTable
    columns_present: tuple[str, ...]
    columns_missing: tuple[str, ...]
    columns_ignored: tuple[str, ...]


def _open_reader(path: Path) -> tuple[IO[bytes], DecodedLines, _CsvReader, list[str]]:
    fh = open_binary(path)
    try:
        first = next(guarded_lines(fh, path), (1, b""))[1]
        fh.seek(0)
        lines = DecodedLines(fh, path, "utf-8", show_content=True, hint=_REU_ENCODING_HINT)
        lines.delimiter = sniff_delimiter(first.decode("utf-8", "replace"))
        # strict: a stray quote inside a field is an error, not a silently merged field.
        reader = csv.reader(lines, delimiter=lines.delimiter, quotechar='"', strict=True)
        raw_header = read_header(path, reader)
    except BaseException:
        fh.close()
        raise
    return fh, lines, reader, raw_header


def describe_file(path: str | Path, table: ReuTable | None = None) -> ReuFile:
    """Read only the header: the table and the columns found (for dispatch and reports)."""
    path = Path(path)
    fh, _, _, raw_header = _open_reader(path)
    with fh:
        layout = _layout(raw_header, path, table)
    known = set(layout.positions)
    return ReuFile(
        table=layout.table,
        columns_present=tuple(c for c, i in layout.positions.items() if i is not None),
        columns_missing=tuple(c for c, i in layout.positions.items() if i is None),
        columns_ignored=tuple(
            h for h in layout.header if h not in known and _BUREAU_ALIASES.get(h) not in known
        ),
    )


def detect_file_table(path: str | Path) -> ReuTable:
    """`bv` or `adresses`, from the file's header."""
    return describe_file(path).table


def iter_reu_rows(
    path: str | Path, table: ReuTable | None = None
) -> Iterator[BureauRow | AddressRow]:
    """Stream the rows of an REU table file (CSV, optionally gzipped).

    Raises `SourceFormatError` at the first problem (rows before it were yielded: a loader must
    treat the file as all or nothing). Blank lines are skipped.
    """
    path = Path(path)
    fh, lines, reader, raw_header = _open_reader(path)
    with fh:
        layout = _layout(raw_header, path, table)
        lines.header = list(layout.header)
        width = len(layout.header)
        make = _address_row if layout.table == "adresses" else _bureau_row
        while True:
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise SourceFormatError(path, line, None, f"malformed CSV: {exc}") from None
            if not fields:
                continue
            if len(fields) != width:
                column = layout.header[len(fields)] if len(fields) < width else None
                raise SourceFormatError(
                    path,
                    line,
                    column,
                    f"expected {width} fields as in the header, got {len(fields)}",
                )
            yield make(_Row(fields, layout, path, line))


# ---- the address table in column batches (the loader's fast path) -----------------------------

FAST_CHUNK_BYTES = 8 << 20
"""Bytes of CSV parsed per batch (~60,000 address rows): memory stays bounded on the national
file, and each batch is large enough for the column operations to dwarf their fixed cost."""


ADDRESS_BATCH_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(AddressRow))
"""The columns of an `AddressRow`, in its order: what `iter_address_batches` yields."""

# The commune pattern of the vocabulary, case-insensitive like _CODE_COMMUNE's use in the line
# reader (RE2 syntax, for pyarrow): one definition, so both readers accept the same codes.
_COMMUNE_CI = f"(?i:{unanchored(COMMUNE_CODE_REGEX)})"


def iter_address_batches(
    path: str | Path, *, chunk_bytes: int = FAST_CHUNK_BYTES
) -> Iterator[dict[str, Any]]:
    """The rows of a `table-adresses-reu` file, as pyarrow arrays per batch of lines.

    Yields dicts of the `ADDRESS_BATCH_COLUMNS` (pyarrow arrays of one length) with exactly the
    values `iter_reu_rows` gives, line numbers included. Raises `NeedsLineReader` at the first
    thing it does not handle; rows of earlier batches were yielded (the caller rolls them back).
    Parsing, trimming, checks and typing are column operations (pyarrow's CSV reader, RE2, casts);
    only the distinct bureau ids and distinct (street, commune) pairs of a batch go through Python.
    """
    path = Path(path)
    fh, lines, reader, raw_header = _open_reader(path)
    with fh:
        layout = _layout(raw_header, path, "adresses")
        if reader.line_num != 1:
            raise NeedsLineReader("the header spans several lines")
        parse = BlockParser(len(layout.header), lines.delimiter)
        line = 2
        for block in line_blocks(fh, chunk_bytes):
            table = parse(block)
            yield _address_columns(table, layout, line)
            line += table.num_rows


def _address_columns(table: Any, layout: _Layout, first_line: int) -> dict[str, Any]:
    """Check and type one batch of address lines (trimmed text columns), as `_address_row`
    does line by line; anything it would refuse raises NeedsLineReader."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    positions = layout.positions
    nulls = pa.nulls(n, pa.string())

    def text(column: str) -> pa.Array:
        i = positions[column]
        if i is None:
            return nulls
        values = pc.utf8_trim_whitespace(table.column(i)).combine_chunks()
        return pc.if_else(pc.equal(values, ""), None, values)

    def required(column: str) -> pa.Array:
        values = text(column)
        if values.null_count:
            raise NeedsLineReader(f"empty {column}")
        return values

    def number(column: str, *, must: bool = False) -> pa.Array:
        values = required(column) if must else text(column)
        try:
            numbers = pc.cast(values, pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise NeedsLineReader(f"not a number in {column}") from None
        if pc.any(pc.invert(pc.is_finite(numbers))).as_py():
            raise NeedsLineReader(f"not a finite number in {column}")
        return numbers

    def integer(column: str, *, must: bool = False) -> pa.Array:
        values = required(column) if must else text(column)
        if pc.any(pc.invert(pc.match_substring_regex(values, r"^[0-9]+(?:\.0)?$"))).as_py():
            raise NeedsLineReader(f"not an integer in {column}")
        digits = pc.replace_substring_regex(values, r"\.0$", "")
        try:
            numbers = pc.cast(digits, pa.int64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise NeedsLineReader(f"integer out of range in {column}") from None
        if pc.any(pc.greater(numbers, _INT4_MAX)).as_py():
            raise NeedsLineReader(f"integer out of range in {column}")
        return pc.cast(numbers, pa.int32())

    commune_ref = required("code_commune_ref")
    if not pc.all(pc.match_substring_regex(commune_ref, f"^{_COMMUNE_CI}$")).as_py():
        raise NeedsLineReader("bad code_commune_ref")
    id_bv = required("id_brut_bv_reu")
    if not pc.all(pc.match_substring_regex(id_bv, f"^{_COMMUNE_CI}_[0-9A-Za-z]{{1,8}}$")).as_py():
        raise NeedsLineReader("bad id_brut_bv_reu")
    # The bureau keys, once per distinct id of the batch (a few hundred for 60,000 lines).
    encoded = pc.dictionary_encode(id_bv)
    keys = []
    for reu_id in encoded.dictionary.to_pylist():
        commune, _, code = reu_id.partition("_")
        keys.append((commune.upper(), *reu_bureau_id(commune.upper(), code)))
    indices = encoded.indices
    code_commune, results_code, code_bv, bureau_id = (
        pc.take(pa.array([k[i] for k in keys], pa.string()), indices) for i in range(4)
    )
    geo_adresse = text("geo_adresse")
    longitude = number("longitude", must=True)
    latitude = number("latitude", must=True)
    nb_adresses = integer("nb_adresses", must=True)
    return {
        "source_line": pa.array(np.arange(first_line, first_line + n, dtype=np.int64)),
        "code_commune_ref": pc.ascii_upper(commune_ref),
        "reconstitution_code_commune": text("reconstitution_code_commune"),
        "id_brut_bv_reu": id_bv,
        "code_commune": code_commune,
        "code_commune_results": results_code,
        "code_bv": code_bv,
        "bureau_id": bureau_id,
        "ban_id": text("id"),
        "geo_adresse": geo_adresse,
        "geo_type": text("geo_type"),
        "geo_score": number("geo_score"),
        "longitude": longitude,
        "latitude": latitude,
        "api_line": text("api_line"),
        "nb_bv_commune": integer("nb_bv_commune"),
        "nb_adresses": nb_adresses,
        "address_key": address_keys(geo_adresse),
    }


_BAN_LABEL_RE2 = r"^(?P<street>.*?)\s+(?P<postcode>[0-9]{5})\s+(?P<city>\S.*)$"
_LEADING_NUMBER_RE2 = r"^(?P<number>[0-9]+)\s+(?P<rest>.*)$"


def address_keys(labels: Any) -> Any:
    """`address_key` of each label (a pyarrow string array; null gives null), equal to calling
    `address_key` on each, for a whole batch: the BAN label split and the house-number split are
    RE2 column operations, the street and the commune are normalised once per distinct value
    (a few thousand street names and communes for 60,000 labels), and a label the splits do not
    fit goes through `address_key` itself.

    Why the pieces give the same string as `canvass.normalise_address(None, street, city)`:
    that function is the street's words (folded, abbreviations expanded) joined by spaces, then
    the folded commune, or None when either folds to nothing. So with `x` (a word that folds to
    itself and abbreviates nothing) `normalise_address(None, street, "x")` is the street's words
    followed by " x", and `normalise_address(None, "x", city)` is "x " followed by the commune.
    A leading house number (ASCII digits) folds to itself and is one more word, so
    "12 " + the rest's words is what the whole street gives. The caller guarantees the labels
    hold no whitespace beyond tab and space (`ingestion.blocks.has_odd_bytes`), so RE2's `\\s`
    and Python's agree.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from ingestion.canvass.pseudonymise import normalise_address as canvass_normalise

    def per_distinct(values: Any, convert: Any) -> Any:
        encoded = pc.dictionary_encode(values)
        distinct = [convert(v) for v in encoded.dictionary.to_pylist()]
        return pc.take(pa.array(distinct, pa.string()), encoded.indices)

    def street_words(street: str) -> str | None:
        words = canvass_normalise(None, street, "x")
        return words[:-2] if words else None

    def commune_words(city: str) -> str | None:
        words = canvass_normalise(None, "x", city)
        return words[2:] if words else None

    ban = pc.extract_regex(labels, _BAN_LABEL_RE2)  # null where it does not match
    street = pc.struct_field(ban, [0])
    numbered = pc.extract_regex(street, _LEADING_NUMBER_RE2)
    has_number = pc.is_valid(numbered)
    rest = pc.if_else(has_number, pc.struct_field(numbered, [1]), street)
    folded = pc.binary_join_element_wise(
        per_distinct(rest, street_words),
        per_distinct(pc.struct_field(ban, [2]), commune_words),
        " ",
    )
    full = pc.if_else(
        has_number,
        pc.binary_join_element_wise(pc.struct_field(numbered, [0]), folded, " "),
        folded,
    )
    sha = hashlib.sha256
    hashes = [None if v is None else sha(v.encode("utf-8")).hexdigest() for v in full.to_pylist()]
    if full.null_count:
        for i, label in enumerate(labels.to_pylist()):
            if hashes[i] is None and label:
                hashes[i] = address_key(label)
    return pa.array(hashes, pa.string())
