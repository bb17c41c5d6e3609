"""The mappers of the configured canvassing apps: one per YAML mapping of `config/canvass/`
(`SCRUTIN_CANVASS_MAPPINGS`), compiled once per version of the files.

`mappers()` is the registry the loader and `--format` use. `detect_csv()` / `detect_json()`
recognise an export from its header (CSV) or its first record (JSON) so an engineer can drop a
file without naming its app.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ingestion.canvass.mappers import osdi
from ingestion.canvass.mappers.base import Mapper
from ingestion.canvass.mapping import AppMapping, load_mappings, mappings_dir

# The Python halves of the JSON apps (`record:` in their YAML): see mapping.RECORD_HOOKS.
RECORD_HOOKS = {"osdi": osdi.flatten}


def mappers(directory: Path | str | None = None) -> dict[str, Mapper]:
    """{app: Mapper} for the mappings folder (default: the configured one)."""
    folder = Path(directory) if directory is not None else mappings_dir()
    loaded = load_mappings(folder)
    return {name: _mapper(m) for name, m in loaded.items()}


@functools.lru_cache(maxsize=64)
def _mapper(mapping: AppMapping) -> Mapper:
    # AppMapping is frozen and rebuilt when its file changes: one compiled mapper per version.
    hook = RECORD_HOOKS[mapping.record] if mapping.record else None
    return Mapper(mapping, hook)


def get_mapper(name: str, directory: Path | str | None = None) -> Mapper:
    found = mappers(directory)
    try:
        return found[name]
    except KeyError:
        folder = directory or mappings_dir()
        raise ValueError(
            f"unknown canvass app {name!r}: expected one of {', '.join(found)} "
            f"(the mappings of {folder}; a new app is a new <app>.yml there, docs/canvass.md)"
        ) from None


def csv_mappers(directory: Path | str | None = None) -> tuple[Mapper, ...]:
    return tuple(m for m in mappers(directory).values() if m.kind == "csv")


def detect_csv(header: Iterable[str], directory: Path | str | None = None) -> Mapper | None:
    """The CSV mapper whose detection columns are all in `header`, if exactly one matches."""
    columns = set(header)
    matches = [m for m in csv_mappers(directory) if m.signature <= columns]
    return matches[0] if len(matches) == 1 else None


def detect_json(record: Mapping[str, Any], directory: Path | str | None = None) -> Mapper | None:
    """The JSON mapper at least two of whose detection keys the record has, if exactly one."""
    keys = set(record)
    matches = [
        m for m in mappers(directory).values() if m.kind == "json" and len(m.signature & keys) >= 2
    ]
    return matches[0] if len(matches) == 1 else None


__all__ = ["Mapper", "csv_mappers", "detect_csv", "detect_json", "get_mapper", "mappers"]
