"""Parse a census file into IRIS records: validated keys, attributes and long indicator values.

Rules (a file that breaks one is refused whole, with file, line and column):
- keys: `IRIS` is 9 characters (`<commune code><4 digits>`, Corsica `2A`/`2B`), `COM` is the
  5-character commune code, and the IRIS code starts with its commune code; each IRIS appears
  once;
- values: numbers in the file's decimal convention (`.` for base-ic, `,` for Filosofi). A number
  written with the other separator is refused (a wrong decimal setting would otherwise turn
  `22,6` into 226 or into a masked cell). Estimates are not integers and stay floats;
- masks: `s`, `ns`, `nd`, an empty cell and a lone `.` are *masked*: value NULL, `masked` true
  and the token kept in `mask_code` — never 0, which would read as "nobody" downstream.

Rows are yielded one at a time: a national file (~50,000 IRIS x 300 columns) never sits in
memory; only the set of IRIS codes already seen grows.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestion.census.columns import ATTRIBUTE_FIELDS, CensusHeader, classify_header
from ingestion.census.reader import OpenedSource, open_census_source
from ingestion.census.registry import CensusFileSpec
from ingestion.errors import SourceFormatError

MASK_TOKENS = frozenset({"s", "ns", "nd", "", "."})
"""Cells INSEE writes instead of a number (secret, not significant, not available, empty)."""

IRIS_CODE = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{7}$")
COMMUNE_CODE = re.compile(r"^(?:[0-9]{2}|2[AB])[0-9]{3}$")

_DOT_NUMBER = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")
_COMMA_NUMBER = re.compile(r"^[-+]?(?:[0-9]+(?:,[0-9]*)?|,[0-9]+)(?:[eE][-+]?[0-9]+)?$")

Value = tuple[str, str, float | None, bool, str | None]
"""(prefix, indicator, value, masked, mask_code) — one row of `raw.census_iris_values`."""


def delimiter_of(source_format: str) -> str:
    return "," if source_format == "filosofi-reexport" else ";"


@dataclass(frozen=True, slots=True)
class IrisRecord:
    """One IRIS of one file."""

    source_line: int
    code_iris: str
    code_commune: str
    attributes: tuple[str | None, ...]
    values: tuple[Value, ...]


@dataclass
class ParseStats:
    """Counters a load report and the ledger need."""

    rows: int = 0
    values: int = 0
    masked: int = 0
    masked_by_column: dict[str, int] = field(default_factory=dict)


def parse_number(text: str, decimal: str, where: tuple[Path, int, str]) -> float:
    """A number written with `decimal` as separator; the other separator is an error."""
    if decimal == ".":
        if _DOT_NUMBER.match(text):
            return float(text)
        if _COMMA_NUMBER.match(text):
            raise SourceFormatError(
                *where,
                f"{text!r} uses a decimal comma but this file is read with decimal '.': "
                "check the format (Filosofi files use ',')",
            )
    else:
        if _COMMA_NUMBER.match(text):
            return float(text.replace(",", "."))
        if _DOT_NUMBER.match(text):
            raise SourceFormatError(
                *where,
                f"{text!r} uses a decimal point but this file is read with decimal ',': "
                "check the format (base-ic files use '.')",
            )
    raise SourceFormatError(
        *where,
        f"expected a number (decimal {decimal!r}) or a mask token (s, ns, nd, empty), "
        f"found {text!r}",
    )


class CensusFile:
    """An open census file: `header` once opened, then iterate for `IrisRecord`s.

    Use as a context manager: `with CensusFile(path, spec) as f: for rec in f: ...`.
    """

    def __init__(self, path: str | Path, spec: CensusFileSpec) -> None:
        self.path = Path(path)
        self.spec = spec
        self.stats = ParseStats()
        self._context = open_census_source(self.path, member=spec.member, encoding=spec.encoding)
        self.source: OpenedSource | None = None
        self.header: CensusHeader | None = None
        self._reader: Any = None  # a csv.reader (its type is private to the csv module)

    @property
    def display_path(self) -> Path:
        return self.source.display_path if self.source else self.path

    def __enter__(self) -> CensusFile:
        self.source = self._context.__enter__()
        try:
            self._open_header()
        except BaseException as exc:
            # The with-statement does not call __exit__ when __enter__ fails: close the zip here.
            self._context.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def _open_header(self) -> None:
        assert self.source is not None
        delimiter = delimiter_of(self.spec.source_format)
        self._reader = csv.reader(
            self.source.stream, delimiter=delimiter, quotechar='"', strict=True
        )
        names = self._next_row()
        if names is None:
            raise SourceFormatError(self.display_path, 1, None, "empty file: no header")
        other = ";" if delimiter == "," else ","
        if len(names) == 1 and other in names[0]:
            raise SourceFormatError(
                self.display_path,
                1,
                None,
                f"the header is separated by {other!r}, not {delimiter!r}: wrong format "
                f"{self.spec.source_format!r} (INSEE CSVs use ';', Filosofi re-exports ',': "
                "format filosofi-reexport)",
            )
        self.header = classify_header(names, self.display_path, self.spec.vintage)

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(*exc)  # type: ignore[arg-type]

    def _line(self) -> int:
        """Physical lines read so far (the csv reader counts them, quoted newlines included)."""
        return int(self._reader.line_num) if self._reader is not None else 0

    def _next_row(self) -> list[str] | None:
        assert self._reader is not None
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise SourceFormatError(
                self.display_path, self._line(), None, f"malformed CSV: {exc}"
            ) from exc

    def __iter__(self) -> Iterator[IrisRecord]:
        header = self.header
        assert header is not None, "use CensusFile as a context manager"
        path = self.display_path
        decimal = self.spec.decimal
        iris_at = header.id_index["code_iris"]
        commune_at = header.id_index["code_commune"]
        attribute_at = [header.id_index.get(name) for name in ATTRIBUTE_FIELDS]
        indicators = header.indicators
        seen: dict[str, int] = {}
        stats = self.stats
        while (row := self._next_row()) is not None:
            line = self._line()
            if not row or (len(row) == 1 and not row[0].strip()):
                raise SourceFormatError(path, line, None, "blank line inside the data")
            if len(row) != header.width:
                raise SourceFormatError(
                    path, line, None, f"expected {header.width} fields, found {len(row)}"
                )
            code_iris = row[iris_at].strip()
            code_commune = row[commune_at].strip()
            if not COMMUNE_CODE.match(code_commune):
                raise SourceFormatError(
                    path,
                    line,
                    header.names[commune_at],
                    f"expected a 5-character commune code, found {code_commune!r}",
                )
            if not IRIS_CODE.match(code_iris):
                hint = " (leading zero lost?)" if re.fullmatch(r"[0-9]{8}", code_iris) else ""
                raise SourceFormatError(
                    path,
                    line,
                    header.names[iris_at],
                    f"expected a 9-character IRIS code, found {code_iris!r}{hint}",
                )
            if not code_iris.startswith(code_commune):
                raise SourceFormatError(
                    path,
                    line,
                    header.names[iris_at],
                    f"IRIS {code_iris} does not start with its commune code {code_commune}",
                )
            if code_iris in seen:
                raise SourceFormatError(
                    path,
                    line,
                    header.names[iris_at],
                    f"IRIS {code_iris} appears twice (first on line {seen[code_iris]})",
                )
            seen[code_iris] = line
            attributes = tuple(
                (row[i].strip() or None) if i is not None else None for i in attribute_at
            )
            values: list[Value] = []
            for column in indicators:
                cell = row[column.index].strip()
                if cell.lower() in MASK_TOKENS:
                    values.append((column.prefix, column.indicator, None, True, cell))
                    stats.masked += 1
                    stats.masked_by_column[column.name] = (
                        stats.masked_by_column.get(column.name, 0) + 1
                    )
                else:
                    number = parse_number(cell, decimal, (path, line, column.name))
                    values.append((column.prefix, column.indicator, number, False, None))
            stats.rows += 1
            stats.values += len(values)
            yield IrisRecord(line, code_iris, code_commune, attributes, tuple(values))
        if stats.rows == 0:
            raise SourceFormatError(path, 2, None, "no data row: expected at least one IRIS")


def peek_header(path: str | Path, *, member: str | None = None, encoding: str = "utf-8") -> str:
    """The first line of a source (for format, theme and vintage detection)."""
    with open_census_source(path, member=member, encoding=encoding) as source:
        first = next(source.stream, "")
        return first.rstrip("\r\n").lstrip("\ufeff")
