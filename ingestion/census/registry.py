"""The census registry: one entry per published file and vintage, so a new vintage needs a YAML
entry, not code.

`config/census_registry.yml` (and any landing folder's `manifest.yml`, same schema):

    version: 1
    defaults:
      geo_year_offset: 2          # geography year = vintage + 2 when an entry does not say
    files:
      - key: population-2021      # unique, free text
        theme: population         # one of THEMES
        vintage: 2021             # census year (Filosofi: income year)
        geo_year: 2023            # IRIS geography the file is published in (1 January of)
        url: https://www.insee.fr/fr/statistiques/fichier/8268806/base-ic-evol-struct-pop-2021_csv.zip
        sha256: null              # pin it after the first verified download (the ledger has it)
        member: 'base-ic-evol-struct-pop-2021\\.CSV'   # regex on the data member's name
        pynsee_id: null           # id in pynsee's file catalogue, tried before `url`
      - key: filosofi-2015-sample
        theme: filosofi
        vintage: 2015
        path: revenus-2015-extract.csv   # a local file (relative to the YAML's folder)
        format: filosofi-reexport        # insee-csv | filosofi-csv | filosofi-reexport
        decimal: ","                     # default: "." for base-ic, "," for Filosofi

Entries travel between Airflow tasks as plain dicts (`as_dict` / `spec_from_dict`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ingestion.paths import OutsideLandingFolderError, inside_folder
from scrutin.config import DEFAULT_CENSUS_REGISTRY

THEMES = (
    "population",
    "couples_familles_menages",
    "diplomes_formation",
    "logement",
    "activite_residents",
    "filosofi",
)
"""Stable theme names (they are values of `raw.census_iris*.theme`)."""

FORMATS = ("insee-csv", "filosofi-csv", "filosofi-reexport")
"""`insee-csv`: INSEE's `;` CSV (base-ic, decimal `.`); `filosofi-csv`: INSEE's `;` Filosofi CSV
(decimal `,`); `filosofi-reexport`: a `,`-separated spreadsheet re-export with quoted decimal
commas (such as the bundled Filosofi 2015 file)."""

DEFAULT_REGISTRY = DEFAULT_CENSUS_REGISTRY
DEFAULT_GEO_YEAR_OFFSET = 2

# File-name fragments of each theme, as INSEE names the zips and their members.
_THEME_NAMES: tuple[tuple[str, str], ...] = (
    ("evol-struct-pop", "population"),
    ("couples-familles-menages", "couples_familles_menages"),
    ("diplomes-formation", "diplomes_formation"),
    ("activite-residents", "activite_residents"),
    ("base-ic-logement", "logement"),
    ("filo", "filosofi"),
    ("revenus", "filosofi"),
)
_YEAR_IN_NAME = re.compile(r"(?<![0-9])(19[0-9]{2}|20[0-9]{2})(?![0-9])")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class RegistryError(ValueError):
    """The registry (or a landing manifest) is not usable: names the file and the entry."""


@dataclass(frozen=True)
class CensusFileSpec:
    """What one census file is and where it comes from.

    `dataset_key` (`<theme>:<vintage>`) is what a newer file replaces: loading another file of
    the same theme and vintage supersedes the earlier batch.
    """

    theme: str
    vintage: int
    geo_year: int
    source_format: str = "insee-csv"
    decimal: str = "."
    key: str | None = None
    path: Path | None = None
    url: str | None = None
    sha256: str | None = None
    member: str | None = None
    pynsee_id: str | None = None
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        if self.theme not in THEMES:
            raise ValueError(f"theme {self.theme!r} is not one of {', '.join(THEMES)}")
        if self.source_format not in FORMATS:
            raise ValueError(f"format {self.source_format!r} is not one of {', '.join(FORMATS)}")
        if self.decimal not in (".", ","):
            raise ValueError(f"decimal must be '.' or ',', got {self.decimal!r}")
        if not 1990 <= self.vintage <= 2100 or not 1990 <= self.geo_year <= 2100:
            raise ValueError(f"vintage/geo_year out of range: {self.vintage}/{self.geo_year}")

    @property
    def dataset_key(self) -> str:
        return f"{self.theme}:{self.vintage}"

    @property
    def label(self) -> str:
        return self.key or self.dataset_key

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "theme": self.theme,
            "vintage": self.vintage,
            "geo_year": self.geo_year,
            "format": self.source_format,
            "decimal": self.decimal,
            "encoding": self.encoding,
        }
        for name in ("key", "url", "sha256", "member", "pynsee_id"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.path is not None:
            out["path"] = str(self.path)
        return out


def default_format(theme: str) -> str:
    return "filosofi-csv" if theme == "filosofi" else "insee-csv"


def default_decimal(source_format: str) -> str:
    """INSEE's base-ic CSVs write `.`; Filosofi (and its re-exports) write `,`."""
    return "." if source_format == "insee-csv" else ","


def theme_from_name(name: str) -> str | None:
    """The theme a file name announces (`base-ic-logement-2021_csv.zip` -> `logement`)."""
    lowered = name.lower()
    for fragment, theme in _THEME_NAMES:
        if fragment in lowered:
            return theme
    return None


def vintage_from_name(name: str) -> int | None:
    """The 4-digit year in a file name, if exactly one distinct year appears."""
    years = {int(y) for y in _YEAR_IN_NAME.findall(name)}
    return years.pop() if len(years) == 1 else None


def spec_from_dict(
    data: dict[str, Any], *, geo_year_offset: int = DEFAULT_GEO_YEAR_OFFSET
) -> CensusFileSpec:
    """Build a spec from a registry entry or an `as_dict` payload (defaults filled in)."""
    theme = str(data["theme"])
    vintage = int(data["vintage"])
    source_format = str(data.get("format") or default_format(theme))
    geo_year = data.get("geo_year")
    return CensusFileSpec(
        theme=theme,
        vintage=vintage,
        geo_year=int(geo_year) if geo_year is not None else vintage + geo_year_offset,
        source_format=source_format,
        decimal=str(data.get("decimal") or default_decimal(source_format)),
        key=str(data["key"]) if data.get("key") else None,
        path=Path(str(data["path"])) if data.get("path") else None,
        url=str(data["url"]) if data.get("url") else None,
        sha256=str(data["sha256"]).lower() if data.get("sha256") else None,
        member=str(data["member"]) if data.get("member") else None,
        pynsee_id=str(data["pynsee_id"]) if data.get("pynsee_id") else None,
        encoding=str(data.get("encoding") or "utf-8"),
    )


def _entry(registry: Path, i: int, item: Any, offset: int) -> CensusFileSpec:
    where = f"{registry}: entry {i}"
    if not isinstance(item, dict):
        raise RegistryError(f"{where}: expected a mapping with theme, vintage and path or url")
    label = f"{where} ({item.get('key')})" if item.get("key") else where
    missing = [k for k in ("theme", "vintage") if item.get(k) in (None, "")]
    if missing:
        raise RegistryError(f"{label}: missing {', '.join(missing)}")
    has_path, has_url = bool(item.get("path")), bool(item.get("url"))
    if has_path == has_url:
        raise RegistryError(f"{label}: give exactly one of 'path' or 'url'")
    sha = item.get("sha256")
    if sha and not _SHA256.match(str(sha).lower()):
        raise RegistryError(f"{label}: sha256 must be 64 hex digits, got {sha!r}")
    if item.get("member"):
        try:
            re.compile(str(item["member"]))
        except re.error as exc:
            raise RegistryError(f"{label}: member is not a valid regex: {exc}") from exc
    try:
        spec = spec_from_dict(item, geo_year_offset=offset)
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{label}: {exc}") from exc
    if spec.path is not None:
        try:
            spec = replace(spec, path=inside_folder(registry.parent, spec.path))
        except OutsideLandingFolderError as exc:
            raise RegistryError(f"{label}: key 'path': {exc}") from exc
    if spec.path is not None and not spec.path.exists():
        raise RegistryError(f"{label}: file {spec.path} does not exist")
    return spec


def read_registry(path: str | Path | None = None) -> list[CensusFileSpec]:
    """Entries of a registry YAML, validated (errors name the file and the entry)."""
    import yaml

    registry = Path(path) if path is not None else DEFAULT_REGISTRY
    if not registry.exists():
        raise RegistryError(f"{registry}: census registry not found")
    try:
        data = yaml.safe_load(registry.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"{registry}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise RegistryError(f"{registry}: expected a top-level 'files:' list")
    defaults = data.get("defaults") or {}
    offset = int(defaults.get("geo_year_offset", DEFAULT_GEO_YEAR_OFFSET))
    specs = [_entry(registry, i, item, offset) for i, item in enumerate(data["files"], start=1)]
    keys = [s.key for s in specs if s.key]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise RegistryError(f"{registry}: duplicated keys {duplicated}")
    return specs


def find_by_sha(specs: list[CensusFileSpec], sha256: str) -> CensusFileSpec | None:
    """The registry entry pinned to these exact bytes, if any."""
    return next((s for s in specs if s.sha256 == sha256), None)
