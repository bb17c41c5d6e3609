"""Which header columns are keys, IRIS attributes or indicators — by name, never by position.

INSEE adds, drops and reorders columns between vintages (the 2020+ base-ic files keep only
`IRIS;COM;TYP_IRIS;LAB_IRIS` as identifiers; older ones carry REG, DEP, UU2010, LIBIRIS...; the
2022 census replaced `_CS1..CS8` by `_STAT_GSEC..`). Naming rules are what stays stable:

- base-ic indicators: `P<yy>_<NAME>` (main exploitation) and `C<yy>_<NAME>` (complementary);
- Filosofi indicators: `DISP_<NAME><yy>` (disposable income), `DEC_<NAME><yy>` (declared);
- identifiers and attributes: a fixed vocabulary (`ID_COLUMNS`).

Indicators are stored without the year (`P21_POP1529` -> prefix `P`, indicator `POP1529`), so one
dbt model reads every vintage. Columns of another year than the vintage (evolution columns) are
left out and reported, never silently mixed in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import SourceFormatError

ID_COLUMNS: dict[str, str] = {
    "IRIS": "code_iris",
    "CODE_IRIS": "code_iris",
    "COM": "code_commune",
    "DEPCOM": "code_commune",
    "LIBIRIS": "libiris",
    "LIB_IRIS": "libiris",
    "LIBCOM": "libcom",
    "TYP_IRIS": "typ_iris",
    "LAB_IRIS": "lab_iris",
    "MODIF_IRIS": "modif_iris",
    "GRD_QUART": "grd_quart",
    "TRIRIS": "triris",
    "REG": "reg",
    "DEP": "dep",
    "UU2010": "unite_urbaine",
    "UU2020": "unite_urbaine",
}
"""Header name -> column of `raw.census_iris`."""

ATTRIBUTE_FIELDS: tuple[str, ...] = (
    "libiris",
    "libcom",
    "typ_iris",
    "lab_iris",
    "modif_iris",
    "grd_quart",
    "triris",
    "reg",
    "dep",
    "unite_urbaine",
)
"""IRIS attributes kept in `raw.census_iris`, in its column order (NULL when a file lacks one)."""

BASE_IC_INDICATOR = re.compile(r"^(P|C)([0-9]{2})_([A-Z0-9][A-Z0-9_]*)$")
FILOSOFI_INDICATOR = re.compile(r"^(DISP|DEC)_([A-Z0-9_]+?)([0-9]{2})$")


@dataclass(frozen=True, slots=True)
class IndicatorColumn:
    """One indicator column: where it is and how it is stored."""

    index: int
    name: str
    prefix: str
    year2: int
    indicator: str


@dataclass(frozen=True)
class CensusHeader:
    """A classified header. `indicators` are the columns of the chosen vintage only."""

    names: tuple[str, ...]
    id_index: dict[str, int]
    indicators: tuple[IndicatorColumn, ...]
    vintage: int
    other_years: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return len(self.names)

    @property
    def is_filosofi(self) -> bool:
        return any(c.prefix in ("DISP", "DEC") for c in self.indicators)


def indicator_of(name: str) -> IndicatorColumn | None:
    """The indicator a column name denotes (index -1), or None for a non-indicator column."""
    match = BASE_IC_INDICATOR.match(name)
    if match:
        return IndicatorColumn(-1, name, match.group(1), int(match.group(2)), match.group(3))
    match = FILOSOFI_INDICATOR.match(name)
    if match:
        return IndicatorColumn(-1, name, match.group(1), int(match.group(3)), match.group(2))
    return None


def year_of(year2: int) -> int:
    """Census and Filosofi years are all in this century."""
    return 2000 + year2


def indicator_years(names: Sequence[str]) -> set[int]:
    """The full years of the indicator columns of a header."""
    years = set()
    for name in names:
        column = indicator_of(name.strip())
        if column is not None:
            years.add(year_of(column.year2))
    return years


def classify_header(names: Sequence[str], path: Path, vintage: int | None) -> CensusHeader:
    """Classify a header; refuse it when keys are missing, names repeat or no indicator is left.

    `vintage=None` takes the single year the indicator names carry (an error if several).
    """
    clean = tuple(n.strip().lstrip("\ufeff") for n in names)
    seen: dict[str, int] = {}
    for i, name in enumerate(clean):
        if not name:
            raise SourceFormatError(path, 1, f"#{i + 1}", "empty column name in the header")
        if name in seen:
            raise SourceFormatError(
                path, 1, name, f"column appears twice (positions {seen[name] + 1} and {i + 1})"
            )
        seen[name] = i
    id_index: dict[str, int] = {}
    for i, name in enumerate(clean):
        target = ID_COLUMNS.get(name.upper())
        if target is not None and target not in id_index:
            id_index[target] = i
    for key, label in (("code_iris", "IRIS"), ("code_commune", "COM")):
        if key not in id_index:
            raise SourceFormatError(
                path,
                1,
                label,
                f"missing key column {label!r} "
                f"({'the 9-character IRIS code' if key == 'code_iris' else 'the commune code'}); "
                f"header starts with {', '.join(clean[:6])}",
            )
    candidates = [
        IndicatorColumn(i, name, c.prefix, c.year2, c.indicator)
        for i, name in enumerate(clean)
        if (c := indicator_of(name)) is not None
    ]
    years = sorted({year_of(c.year2) for c in candidates})
    if vintage is None:
        if len(years) != 1:
            raise SourceFormatError(
                path,
                1,
                None,
                f"cannot tell the vintage from the header (indicator years {years or 'none'}): "
                "give it explicitly",
            )
        vintage = years[0]
    chosen = tuple(c for c in candidates if year_of(c.year2) == vintage)
    if not chosen:
        raise SourceFormatError(
            path,
            1,
            None,
            f"no indicator column for vintage {vintage}: expected names such as "
            f"P{vintage % 100:02d}_POP, C{vintage % 100:02d}_MEN or DISP_MED{vintage % 100:02d}; "
            f"indicator years found: {years or 'none'}",
        )
    other_years = tuple(c.name for c in candidates if year_of(c.year2) != vintage)
    known = set(id_index.values()) | {c.index for c in candidates}
    ignored = tuple(name for i, name in enumerate(clean) if i not in known)
    return CensusHeader(
        names=clean,
        id_index=id_index,
        indicators=chosen,
        vintage=vintage,
        other_years=other_years,
        ignored=ignored,
    )
