"""Aggregate the campaign's electoral-roll extract (liste électorale, article L37) while reading it.

The extract a candidate obtains from the commune (an export of the REU, INSEE's single electoral
register, e.g. `ListesElecteursActifs-com29061-10-06-2024-09h30.csv`) lists every elector with
name, birth date and address. Scrutin only needs counts, so this module turns the file into:
- voters per (commune, bureau, list type, age band, sex), ages taken at a reference date;
- doors per (commune, bureau): distinct normalised addresses.

Privacy by construction (GDPR; docs/privacy.md rule 1):
- Only the mapped fields are looked at (bureau, list type, sex, birth date, address parts);
  name columns are never mapped, so never read. Each line lives in memory while it is read; what
  outlives a line until the file is done is a memo of single categorical cells (list type, sex,
  bureau code) and of single address parts as the mapping names them (a street name, a postcode;
  a mapping whose address is one column makes that whole column a part), never a whole line or a
  birth date; the memos are dropped with the file.
- An address is normalised and hashed in memory; the hash only decides whether a door was already
  counted in its bureau and is dropped with the set when the file is done. Nothing but counts
  leaves this module.
- Errors name the file, the line and the column, never a cell value: a shifted column would
  otherwise put a name into a message, a log and the ledger. Decoding errors say which byte,
  not what is around it.

Why the reference date matters: an age band is only true at a date. It is the extract's own date
(`--as-of`, else the date in the REU export's file name), never "today", so reloading the same
file next year gives the same counts.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from ingestion.errors import SourceFormatError
from ingestion.sources.reu import (
    DecodedLines,
    normalise_address,
    open_binary,
    reu_bureau_id,
)
from ingestion.textlines import BROKEN_STREAM, MAX_LINE_BYTES, broken_stream
from scrutin.vocabulary import AGE_BANDS, BUREAU_ID_REGEX, COMMUNE_CODE_REGEX, unanchored

EXPORT_COLUMNS: tuple[str, ...] = (
    "code du l'ugle",
    "libellé de l'ugle",
    "libellé du type de liste",
    "nom de naissance",
    "nom d'usage",
    "prénoms",
    "sexe",
    "date de naissance",
    "code commune de naissance",
    "libellé commune de naissance",
    "code département de naissance",
    "pays de naissance",
    "libellé nationalité",
    "numéro de voie",
    "libellé de voie",
    "complément 1",
    "complément 2",
    "lieu-dit",
    "code postal",
    "commune",
    "pays",
    "code du bureau de vote",
    "libellé du bureau de vote",
    "code circonscription législative du bureau de vote",
    "libellé canton du bureau de vote",
    "libellé circonscription métropolitaine du bureau de vote",
    "numéro d'ordre dans le bureau de vote",
)
"""The 27 columns of the REU export ("ListesElecteursActifs"), in file order. The reader
maps columns by name (the mapping above), so this order is for writers only: the sample
generator (scripts/generate_sample_roll.py) and the test fixtures write it.
"""

FIELDS: tuple[str, ...] = (
    "commune_code",
    "bureau_code",
    "list_type",
    "sex",
    "birth_date",
    "street_number",
    "street",
    "complement_1",
    "complement_2",
    "locality",
    "postcode",
    "commune_name",
)
"""Every field a mapping may name; nothing else in the file is ever read."""

ADDRESS_FIELDS: tuple[str, ...] = (
    "street_number",
    "street",
    "complement_1",
    "complement_2",
    "locality",
    "postcode",
    "commune_name",
)

DEFAULT_MAPPING: Mapping[str, Any] = MappingProxyType(
    {
        "version": 1,
        "encoding": "auto",
        "separator": "auto",
        "fields": {
            "commune_code": [
                "code du l'ugle",
                "code de l'ugle",
                "code de la commune",
                "code commune",
            ],
            "bureau_code": ["code du bureau de vote", "code bureau de vote", "code du bv"],
            "list_type": ["libellé du type de liste", "type de liste"],
            "sex": ["sexe"],
            "birth_date": ["date de naissance"],
            "street_number": ["numéro de voie"],
            "street": ["libellé de voie", "type et libellé de voie"],
            "complement_1": ["complément 1"],
            "complement_2": ["complément 2"],
            "locality": ["lieu-dit"],
            "postcode": ["code postal"],
            "commune_name": ["commune", "libellé de la commune"],
        },
        "required": ["bureau_code", "sex", "birth_date"],
        "door_key": ["street_number", "street", "locality", "postcode", "commune_name"],
    }
)
"""The mapping used when config/roll_mapping.yml is absent (an installed package)."""

SEXES: tuple[str, ...] = ("F", "M", "X")
LIST_TYPES: tuple[str, ...] = ("LP", "LCM", "LCE")
"""Principal list, complementary lists for municipal and European elections (EU nationals)."""

ENCODINGS: tuple[str, ...] = ("auto", "utf-8", "cp1252")
SEPARATORS: tuple[str, ...] = ("auto", ";", ",")
MAX_AGE = 120
_SNIFF_BYTES = 1 << 16

_CODE_COMMUNE = re.compile(unanchored(COMMUNE_CODE_REGEX))
# The Ministry polling-station key (vars.bureau_id_pattern), French people abroad (ZZ) included.
_BUREAU_ID = re.compile(unanchored(BUREAU_ID_REGEX))
_CODE_BV = re.compile(r"[0-9A-Za-z]{1,8}")
_NAME_COMMUNE = re.compile(r"com([0-9][0-9AB][0-9]{3})", re.IGNORECASE)
_NAME_DATE_DMY = re.compile(r"(?<![0-9])([0-9]{2})-([0-9]{2})-([0-9]{4})(?![0-9])")
_NAME_DATE_ISO = re.compile(r"(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})(?![0-9])")
_DATE_DMY = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_DATE_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DATE_YEAR = re.compile(r"[0-9]{4}")

_LIST_TYPES = {
    "lp": "LP",
    "liste principale": "LP",
    "lcm": "LCM",
    "liste complementaire municipale": "LCM",
    "lce": "LCE",
    "liste complementaire europeenne": "LCE",
}
_SEX = {"f": "F", "feminin": "F", "femme": "F", "m": "M", "masculin": "M", "homme": "M"}

NOT_SHOWN = "(value not shown: the roll holds personal data)"


class MappingError(ValueError):
    """A column-mapping file is not valid (names the file and the key)."""


# ---- mapping -----------------------------------------------------------------------------------


def normalise_header(name: str) -> str:
    """How header names are compared: trimmed, lower-case, one space, ’ as '."""
    text = unicodedata.normalize("NFC", name.replace("\ufeff", "")).replace("’", "'")
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class RollMapping:
    """Which header names feed which field, what is required, what makes a door."""

    fields: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...]
    door_key: tuple[str, ...]
    encoding: str = "auto"
    separator: str = "auto"
    origin: str = "built-in default"

    @classmethod
    def from_dict(  # noqa: PLR0912 -- one branch per documented key, kept in one place
        cls, data: Mapping[str, Any], origin: str
    ) -> RollMapping:
        """Validate a mapping document (YAML loaded) and build the mapping; errors name `origin`."""

        def fail(key: str, reason: str) -> MappingError:
            return MappingError(f"{origin}: {key}: {reason}")

        if not isinstance(data, Mapping):
            raise fail("(top level)", "expected a mapping with `fields`, `required`, `door_key`")
        if data.get("version", 1) != 1:
            raise fail("version", f"only version 1 is known, got {data.get('version')!r}")
        raw_fields = data.get("fields")
        if not isinstance(raw_fields, Mapping) or not raw_fields:
            raise fail("fields", "expected a mapping of field -> list of header names")
        fields: dict[str, tuple[str, ...]] = {}
        for name, value in raw_fields.items():
            if name not in FIELDS:
                raise fail(f"fields.{name}", f"unknown field; known fields: {', '.join(FIELDS)}")
            headers = [value] if isinstance(value, str) else value
            if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
                raise fail(f"fields.{name}", "expected a list of header names")
            fields[name] = tuple(normalise_header(h) for h in headers if h.strip())
        required = tuple(data.get("required") or ())
        door_key = tuple(data.get("door_key") or ())
        for key, names, allowed in (
            ("required", required, FIELDS),
            ("door_key", door_key, ADDRESS_FIELDS),
        ):
            unknown = [n for n in names if n not in allowed or n not in fields]
            if unknown:
                raise fail(key, f"{unknown} are not mapped fields among {', '.join(allowed)}")
        for needed in ("bureau_code", "sex", "birth_date"):
            if needed not in fields:
                raise fail(f"fields.{needed}", "this field must be mapped")
        if not door_key:
            raise fail("door_key", "expected at least one address field")
        encoding = str(data.get("encoding", "auto")).lower()
        separator = str(data.get("separator", "auto"))
        if encoding not in ENCODINGS:
            raise fail("encoding", f"expected one of {ENCODINGS}, got {encoding!r}")
        if separator not in SEPARATORS:
            raise fail("separator", f"expected one of {SEPARATORS}, got {separator!r}")
        return cls(
            fields=MappingProxyType(fields),
            required=required,
            door_key=door_key,
            encoding=encoding,
            separator=separator,
            origin=origin,
        )


def default_mapping_path() -> Path:
    from scrutin.config import DEFAULT_ROLL_MAPPING

    return DEFAULT_ROLL_MAPPING


def load_mapping(path: str | Path | None = None) -> RollMapping:
    """The mapping in `path`, else config/roll_mapping.yml, else the built-in default."""
    import yaml

    if path is None:
        candidate = default_mapping_path()
        if not candidate.exists():
            return RollMapping.from_dict(DEFAULT_MAPPING, "built-in default")
        path = candidate
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping: {exc}") from None
    # A campaign loads one extract per commune (~35,000 nationally) with the same mapping: parse
    # the YAML once per content of the file, not once per extract.
    key = (str(path), text)
    cached = _MAPPINGS.get(key)
    if cached is not None:
        return cached
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise MappingError(f"{path}{where}: the mapping is not valid YAML ({problem})") from None
    mapping = _MAPPINGS[key] = RollMapping.from_dict(data, str(path))
    return mapping


_MAPPINGS: dict[tuple[str, str], RollMapping] = {}


# ---- file name, dates, ages --------------------------------------------------------------------


def reference_date_from_name(name: str) -> dt.date | None:
    """The extract date written in an REU export's file name (`…-DD-MM-YYYY-…`), if any."""
    for pattern, order in ((_NAME_DATE_DMY, (3, 2, 1)), (_NAME_DATE_ISO, (1, 2, 3))):
        for match in pattern.finditer(name):
            year, month, day = (int(match.group(i)) for i in order)
            try:
                return dt.date(year, month, day)
            except ValueError:
                continue
    return None


def commune_from_name(name: str) -> str | None:
    """The commune of an REU export's file name (`…-com29061-…`), if any."""
    match = _NAME_COMMUNE.search(name)
    return match.group(1).upper() if match else None


def _band_upper_bounds() -> tuple[tuple[int, str], ...]:
    """(first age past the band, band) for every closed band `LOW-HIGH` of the vocabulary."""
    bounds = []
    for band in AGE_BANDS[:-1]:
        low, _, high = band.partition("-")
        if not (low.isdigit() and high.isdigit()):
            raise ValueError(f"age band {band!r}: every band but the last must read LOW-HIGH")
        bounds.append((int(high) + 1, band))
    if not AGE_BANDS[-1].endswith("+"):
        raise ValueError(f"age band {AGE_BANDS[-1]!r}: the last band must read LOW+")
    return tuple(bounds)


_BAND_BOUNDS = _band_upper_bounds()


def age_band(age: int) -> str:
    """The band of an age in whole years (bands: scrutin.vocabulary.AGE_BANDS). Under 18 goes to
    the first band: the REU registers people who turn 18 before the next election, so they are
    electors of that election."""
    for past_band, band in _BAND_BOUNDS:
        if age < past_band:
            return band
    return AGE_BANDS[-1]


def parse_birth_date(  # noqa: PLR0911 -- one return per accepted form reads best
    text: str,
) -> tuple[int, int | None, int | None] | None:
    """(year, month, day) with None for unknown parts, or None when it is not a date.

    The REU writes `DD/MM/YYYY`; people born abroad may have `00/00/YYYY` or `00/MM/YYYY`
    (unknown day or month), some exports write the year alone; ISO `YYYY-MM-DD` is accepted too.
    """
    value = text.strip()
    if match := _DATE_DMY.fullmatch(value):
        day, month, year = (int(g) for g in match.groups())
    elif match := _DATE_ISO.fullmatch(value):
        year, month, day = (int(g) for g in match.groups())
    elif _DATE_YEAR.fullmatch(value):
        return int(value), None, None
    else:
        return None
    if month == 0:
        return (year, None, None) if day == 0 else None
    if not 1 <= month <= 12:
        return None
    if day == 0:
        return year, month, None
    try:
        dt.date(year, month, day)
    except ValueError:
        return None
    return year, month, day


def age_at(birth: tuple[int, int | None, int | None], as_of: dt.date) -> int:
    """Whole years at `as_of`; an unknown month counts as 1 July, an unknown day as the 15th."""
    year, month, day = birth
    month = month if month is not None else 7
    day = day if day is not None else (15 if birth[1] is not None else 1)
    age = as_of.year - year
    if (as_of.month, as_of.day) < (month, day):
        age -= 1
    return age


# ---- aggregation -------------------------------------------------------------------------------

CountKey = tuple[str, str, str, str, str]
"""(code_commune, code_bv, list_type, age_band, sex)"""
BureauKey = tuple[str, str]
"""(code_commune, code_bv)"""


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A line left out of the counts, and why (never its content)."""

    line: int
    column: str | None
    reason: str


@dataclass
class RollAggregate:
    """Everything that leaves the file: counts, doors, and bookkeeping numbers."""

    reference_date: dt.date
    reference_date_source: str
    counts: Counter[CountKey] = field(default_factory=Counter)
    doors: dict[BureauKey, int] = field(default_factory=dict)
    electors_read: int = 0
    electors_counted: int = 0
    electors_without_address: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def communes(self) -> tuple[str, ...]:
        return tuple(sorted({key[0] for key in self.counts}))

    @property
    def bureaux(self) -> tuple[BureauKey, ...]:
        return tuple(sorted({(key[0], key[1]) for key in self.counts}))

    def count_rows(self) -> Iterator[tuple[str, str, str, str, str, str, str, int]]:
        """(code_commune, code_commune_results, code_bv, bureau_id, list_type, age_band, sex, n)"""
        for (commune, code_bv, list_type, band, sex), voters in sorted(self.counts.items()):
            results_code, _, bureau_id = reu_bureau_id(commune, code_bv)
            yield commune, results_code, code_bv, bureau_id, list_type, band, sex, voters

    def door_rows(self) -> Iterator[tuple[str, str, str, str, int]]:
        """(code_commune, code_commune_results, code_bv, bureau_id, doors)"""
        for (commune, code_bv), doors in sorted(self.doors.items()):
            results_code, _, bureau_id = reu_bureau_id(commune, code_bv)
            yield commune, results_code, code_bv, bureau_id, doors


def _detect_encoding(fh: IO[bytes], wanted: str) -> str:
    if wanted != "auto":
        return wanted
    sample = fh.read(_SNIFF_BYTES)
    fh.seek(0)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    # Cut at the last newline: a multi-byte character may straddle the end of the sample.
    cut = sample.rfind(b"\n")
    sample = sample[: cut + 1] if cut >= 0 and len(sample) == _SNIFF_BYTES else sample
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _detect_separator(fh: IO[bytes], wanted: str) -> str:
    if wanted != "auto":
        return wanted
    header = fh.readline(MAX_LINE_BYTES)
    fh.seek(0)
    return ";" if header.count(b";") >= header.count(b",") else ","


@dataclass(frozen=True)
class _Columns:
    """Position of each mapped field in this file's header (None: absent)."""

    positions: Mapping[str, int | None]
    header: tuple[str, ...]

    def name(self, field_name: str) -> str:
        i = self.positions[field_name]
        return self.header[i] if i is not None else field_name


def _resolve_columns(raw_header: Sequence[str], mapping: RollMapping, path: Path) -> _Columns:
    header = tuple(h.replace("\ufeff", "").strip() for h in raw_header)
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(normalise_header(name), i)
    positions: dict[str, int | None] = {}
    for name in FIELDS:
        accepted = mapping.fields.get(name, ())
        positions[name] = next((index[h] for h in accepted if h in index), None)
    for name in mapping.required:
        if positions[name] is None:
            raise SourceFormatError(
                path,
                1,
                None,
                f"no column for the required field {name!r}: expected one of "
                f"{list(mapping.fields.get(name, ()))} (mapping: {mapping.origin}; pass "
                "--mapping FILE for another export layout); the header has "
                f"{', '.join(repr(h) for h in header)}",
            )
    if not any(positions[name] is not None for name in mapping.door_key):
        raise SourceFormatError(
            path,
            1,
            None,
            f"no address column: doors need one of {list(mapping.door_key)} "
            f"(mapping: {mapping.origin})",
        )
    return _Columns(MappingProxyType(positions), header)


def resolve_reference_date(path: str | Path, as_of: dt.date | None) -> tuple[dt.date, str]:
    """(date, where it came from): `as_of` when given, else the date in the file name."""
    path = Path(path)
    if as_of is not None:
        return as_of, "option"
    found = reference_date_from_name(path.name)
    if found is None:
        raise SourceFormatError(
            path,
            None,
            None,
            "no reference date for the ages: pass --as-of YYYY-MM-DD (the extract's date), "
            "or keep the REU export's file name, which ends with -DD-MM-YYYY-HHhMM",
        )
    return found, "file name"


def aggregate_roll(
    path: str | Path,
    *,
    mapping: RollMapping | None = None,
    as_of: dt.date | None = None,
    known_bureaux: Container[str] | None = None,
) -> RollAggregate:
    """Read a roll extract once and return its counts; see the module docstring.

    `known_bureaux`: the polling-station keys of the bureau reference (REU, results). A line
    whose bureau is not among them is left out and reported in `rejected` (line and column, never
    the value): a surname typed into the bureau column must not become a published bureau.

    Refuses the file (`SourceFormatError`, no cell value in the message) on a missing required
    column, a decoding error, a malformed or truncated line, or an unreadable birth date, sex or
    bureau code. A line without a bureau code is left out and reported in `rejected`: such an
    elector cannot be placed, and one of them must not block the whole roll.
    """
    path = Path(path)
    mapping = mapping or load_mapping()
    reference_date, source = resolve_reference_date(path, as_of)
    result = RollAggregate(reference_date=reference_date, reference_date_source=source)
    name_commune = commune_from_name(path.name)
    doors: defaultdict[BureauKey, set[bytes]] = defaultdict(set)

    with open_binary(path) as fh:
        try:
            encoding = _detect_encoding(fh, mapping.encoding)
            delimiter = _detect_separator(fh, mapping.separator)
        except BROKEN_STREAM as exc:
            raise broken_stream(path, None, exc) from None
        lines = DecodedLines(
            fh,
            path,
            encoding,
            show_content=False,
            hint="; set `encoding:` in the mapping if the file is not UTF-8 or cp1252",
        )
        lines.delimiter = delimiter
        reader = csv.reader(lines, delimiter=delimiter, quotechar='"', strict=True)
        try:
            raw_header = next(reader)
        except StopIteration:
            raise SourceFormatError(
                path, 1, None, "the file is empty: expected the header line"
            ) from None
        except csv.Error:
            raise SourceFormatError(path, 1, None, "malformed CSV header") from None
        columns = _resolve_columns(raw_header, mapping, path)
        lines.header = list(columns.header)
        if columns.positions["commune_code"] is None and name_commune is None:
            raise SourceFormatError(
                path,
                1,
                None,
                "no commune: map `commune_code` to a column, or keep the REU export's file "
                "name, which holds `com<INSEE code>`",
            )
        _aggregate_lines(
            reader,
            columns,
            mapping=mapping,
            path=path,
            name_commune=name_commune,
            result=result,
            doors=doors,
            known_bureaux=known_bureaux,
        )
    result.doors = {key: len(hashes) for key, hashes in doors.items()}
    if result.electors_read == 0:
        raise SourceFormatError(path, 2, None, "no data row: expected at least one elector")
    return result


def _aggregate_lines(  # noqa: PLR0912, PLR0915 -- the per-line loop, kept flat for speed
    reader: Any,
    columns: _Columns,
    *,
    mapping: RollMapping,
    path: Path,
    name_commune: str | None,
    result: RollAggregate,
    doors: defaultdict[BureauKey, set[bytes]],
    known_bureaux: Container[str] | None = None,
) -> None:
    """Count each line. This runs once per elector (~57 million nationally), so the work a
    line repeats is looked up, not redone: the categorical cells (list type, sex, bureau code
    with its commune) are decided once per distinct value of the file, and each address part
    (street, postcode, commune name: shared by many doors) is normalised once. Those memos are
    local to the file and hold no line: a bureau code, a sex, a street name alone identify nobody.
    Birth dates and whole addresses are still handled line by line and kept nowhere."""
    pos = columns.positions
    width = len(columns.header)
    door_positions = [i for f in mapping.door_key if (i := pos[f]) is not None]
    as_of = result.reference_date
    commune_at, bureau_at, list_at, sex_at, birth_at = (
        pos["commune_code"],
        pos["bureau_code"],
        pos["list_type"],
        pos["sex"],
        pos["birth_date"],
    )
    bureau_column = columns.name("bureau_code")
    list_types: dict[str, str] = {}
    sexes: dict[str, str] = {}
    bureaux: dict[tuple[str, str], tuple[str, str, str | None]] = {}
    address_parts: dict[str, str] = {}
    counts = result.counts
    rejected = result.rejected
    sha256 = hashlib.sha256
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            # csv's message can quote the line: never pass it on.
            raise SourceFormatError(path, line, None, "malformed CSV line (quotes)") from None
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) != width:
            raise SourceFormatError(
                path, line, None, f"expected {width} fields as in the header, got {len(fields)}"
            )
        result.electors_read += 1
        code_bv_raw = fields[bureau_at].strip() if bureau_at is not None else ""
        commune_raw = fields[commune_at].strip() if commune_at is not None else ""
        decided = bureaux.get((code_bv_raw, commune_raw))
        if decided is None:
            commune = (
                _commune(commune_raw, name_commune, path, line, columns) if code_bv_raw else ""
            )
            code_bv, left_out = _bureau(
                code_bv_raw,
                commune,
                path=path,
                line=line,
                columns=columns,
                known_bureaux=known_bureaux,
            )
            decided = bureaux[(code_bv_raw, commune_raw)] = (commune, code_bv, left_out)
        commune, code_bv, left_out = decided
        if left_out is not None:
            rejected.append(RejectedRow(line, bureau_column, left_out))
            continue
        list_raw = fields[list_at] if list_at is not None else ""
        list_type = list_types.get(list_raw)
        if list_type is None:
            list_type = list_types[list_raw] = _list_type(list_raw.strip(), path, line, columns)
        sex_raw = fields[sex_at] if sex_at is not None else ""
        sex = sexes.get(sex_raw)
        if sex is None:
            sex = sexes[sex_raw] = _SEX.get(_fold(sex_raw.strip()), "X")
        birth_raw = fields[birth_at].strip() if birth_at is not None else ""
        birth = parse_birth_date(birth_raw)
        if birth is None:
            raise SourceFormatError(
                path,
                line,
                columns.name("birth_date"),
                f"expected a birth date DD/MM/YYYY (00 for an unknown day or month) {NOT_SHOWN}",
            )
        age = age_at(birth, as_of)
        if age < 0 or age > MAX_AGE:
            raise SourceFormatError(
                path,
                line,
                columns.name("birth_date"),
                f"birth date gives an age outside 0-{MAX_AGE} at the reference date "
                f"{as_of.isoformat()} {NOT_SHOWN}",
            )
        counts[(commune, code_bv, list_type, age_band(age), sex)] += 1
        result.electors_counted += 1
        # normalise_address of the parts joined by spaces is the normalised parts joined by
        # spaces, empty ones left out (it maps character by character, folding separators).
        words = []
        for i in door_positions:
            part = fields[i]
            normalised = address_parts.get(part)
            if normalised is None:
                normalised = address_parts[part] = normalise_address(part)
            if normalised:
                words.append(normalised)
        if words:
            doors[(commune, code_bv)].add(sha256(" ".join(words).encode("utf-8")).digest())
        else:
            result.electors_without_address += 1


def _bureau(
    code_bv_raw: str,
    commune: str,
    *,
    path: Path,
    line: int,
    columns: _Columns,
    known_bureaux: Container[str] | None,
) -> tuple[str, str | None]:
    """The line's normalised bureau code, and why the line is left out (None: it is counted).

    Refuses the file on a code that cannot be one (never quoting it): a mapping pointed at the
    wrong column would otherwise replace the commune's bureaux with made-up ones.
    """
    if not code_bv_raw:
        return "", "no bureau code: not counted"
    if not _CODE_BV.fullmatch(code_bv_raw):
        raise SourceFormatError(
            path,
            line,
            columns.name("bureau_code"),
            f"expected a bureau code of 1-8 letters or digits {NOT_SHOWN}",
        )
    _, code_bv, bureau_id = reu_bureau_id(commune, code_bv_raw)
    if not _BUREAU_ID.fullmatch(bureau_id):
        # e.g. a mapping that points `bureau_code` at the postal code.
        raise SourceFormatError(
            path,
            line,
            columns.name("bureau_code"),
            "does not give a polling-station key (expected up to 4 digits, or letters and "
            f"digits): check the column mapping {NOT_SHOWN}",
        )
    if known_bureaux is not None and bureau_id not in known_bureaux:
        return (
            code_bv,
            f"bureau not in the bureau reference (REU, results): not counted {NOT_SHOWN}",
        )
    return code_bv, None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split()).lower()


def _commune(value: str, from_name: str | None, path: Path, line: int, columns: _Columns) -> str:
    if not value:
        if from_name is None:
            raise SourceFormatError(
                path,
                line,
                columns.name("commune_code"),
                "expected a commune code, got an empty field",
            )
        return from_name
    code = value.upper()
    if code.startswith("COM"):
        code = code[3:]
    if not _CODE_COMMUNE.fullmatch(code):
        raise SourceFormatError(
            path,
            line,
            columns.name("commune_code"),
            f"expected a 5-character INSEE commune code {NOT_SHOWN}",
        )
    return code


def _list_type(value: str, path: Path, line: int, columns: _Columns) -> str:
    if columns.positions["list_type"] is None:
        return "LP"
    found = _LIST_TYPES.get(_fold(value))
    if found is None:
        raise SourceFormatError(
            path,
            line,
            columns.name("list_type"),
            "expected 'Liste principale', 'Liste complémentaire municipale' or 'Liste "
            f"complémentaire européenne' (or LP/LCM/LCE) {NOT_SHOWN}",
        )
    return found
