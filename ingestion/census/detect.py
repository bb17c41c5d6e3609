"""What a local census file is, when nobody said: registry by checksum, then name, then header.

Order of precedence for each attribute of the spec: what the caller says (CLI options), then
the registry entry pinned to the file's sha256, then the file name (`base-ic-logement-2021...`),
then the header (`DISP_` columns mean Filosofi; the `P<yy>_` year gives the vintage). The
geography year falls back to the registry entry of the same theme and vintage, then to
`vintage + geo_year_offset` (INSEE publishes census year N in the geography of 1 January N+2).
Anything that stays unknown is an error that says which option to give.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingestion.census.columns import indicator_of, indicator_years
from ingestion.census.parser import peek_header
from ingestion.census.registry import (
    DEFAULT_GEO_YEAR_OFFSET,
    THEMES,
    CensusFileSpec,
    default_decimal,
    find_by_sha,
    theme_from_name,
    vintage_from_name,
)
from ingestion.errors import SourceFormatError


def _split_header(line: str) -> tuple[str, list[str]]:
    separator = ";" if ";" in line else ","
    names = next(csv.reader([line], delimiter=separator, quotechar='"'))
    return separator, [n.strip() for n in names]


def resolve_local_spec(
    path: str | Path,
    *,
    sha256: str,
    registry: list[CensusFileSpec] | None = None,
    theme: str | None = None,
    vintage: int | None = None,
    geo_year: int | None = None,
    source_format: str | None = None,
    decimal: str | None = None,
    member: str | None = None,
    encoding: str | None = None,
) -> CensusFileSpec:
    """The spec to load `path` with (see the module docstring for the precedence)."""
    path = Path(path)
    registry = registry or []
    pinned = find_by_sha(registry, sha256)
    if pinned is not None:
        overrides: dict[str, Any] = {
            "theme": theme,
            "vintage": vintage,
            "geo_year": geo_year,
            "source_format": source_format,
            "decimal": decimal,
            "member": member,
            "encoding": encoding,
        }
        return replace(pinned, path=path, **{k: v for k, v in overrides.items() if v is not None})

    line = peek_header(path, member=member, encoding=encoding or "utf-8")
    separator, names = _split_header(line)
    filosofi = any(
        (c := indicator_of(n)) is not None and c.prefix in ("DISP", "DEC") for n in names
    )
    if source_format is None:
        if separator == ",":
            if not filosofi:
                raise SourceFormatError(
                    path,
                    1,
                    None,
                    "comma-separated header without Filosofi (DISP_/DEC_) columns: INSEE census "
                    "files are ';'-separated; give the format explicitly",
                )
            source_format = "filosofi-reexport"
        else:
            source_format = "filosofi-csv" if filosofi else "insee-csv"
    if theme is None:
        theme = theme_from_name(path.name) or ("filosofi" if filosofi else None)
        if theme is None:
            raise ValueError(
                f"{path.name}: cannot tell the census theme from the name or the header: "
                f"give it explicitly (one of {', '.join(THEMES)})"
            )
    if vintage is None:
        vintage = vintage_from_name(path.name)
        if vintage is None:
            years = indicator_years(names)
            if len(years) != 1:
                raise SourceFormatError(
                    path,
                    1,
                    None,
                    f"cannot tell the vintage (indicator years {sorted(years) or 'none'}): "
                    "give it explicitly",
                )
            vintage = years.pop()
    if geo_year is None:
        same = next((s for s in registry if s.theme == theme and s.vintage == vintage), None)
        geo_year = same.geo_year if same is not None else vintage + DEFAULT_GEO_YEAR_OFFSET
    return CensusFileSpec(
        theme=theme,
        vintage=vintage,
        geo_year=geo_year,
        source_format=source_format,
        decimal=decimal or default_decimal(source_format),
        path=path,
        member=member,
        encoding=encoding or "utf-8",
    )
