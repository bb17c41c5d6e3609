"""One mapper per canvassing app: each turns an export row into a canonical `FieldKnock`.

`MAPPERS` is the registry the loader and `--format` use. `detect()` recognises an export from its
header (CSV) or its first record (JSON) so an engineer can drop a file without naming its app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ingestion.canvass.mappers import ecanvasser, nationbuilder, osdi, pap, qomon
from ingestion.canvass.mappers.base import Mapper

MAPPERS: dict[str, Mapper] = {
    m.name: m
    for m in (qomon.MAPPER, ecanvasser.MAPPER, nationbuilder.MAPPER, osdi.MAPPER, pap.MAPPER)
}
CSV_MAPPERS = tuple(m for m in MAPPERS.values() if m.kind == "csv")
JSON_MAPPERS = tuple(m for m in MAPPERS.values() if m.kind == "json")


def get_mapper(name: str) -> Mapper:
    try:
        return MAPPERS[name]
    except KeyError:
        raise ValueError(
            f"unknown canvass format {name!r}: expected one of {', '.join(MAPPERS)}"
        ) from None


def detect_csv(header: Iterable[str]) -> Mapper | None:
    """The CSV mapper whose signature columns are all in `header`, if exactly one matches."""
    columns = set(header)
    matches = [m for m in CSV_MAPPERS if m.signature <= columns]
    return matches[0] if len(matches) == 1 else None


def detect_json(record: Mapping[str, Any]) -> Mapper | None:
    keys = set(record)
    matches = [m for m in JSON_MAPPERS if len(m.signature & keys) >= 2]
    return matches[0] if len(matches) == 1 else None


__all__ = [
    "CSV_MAPPERS",
    "JSON_MAPPERS",
    "MAPPERS",
    "Mapper",
    "detect_csv",
    "detect_json",
    "get_mapper",
]
