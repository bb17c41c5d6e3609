"""The geography landing folder and its manifest: which contour file is which kind.

`<SCRUTIN_GEO_DIR>/manifest.yml` (default folder: the bundled sample `data/sample/geo/`):

    files:
      - path: BureauxVoteBrest.geojson      # relative to the folder, or absolute
        kind: bureau                        # iris | bureau | commune
        commune_field: DEPCO                # optional: detected when omitted
        id_field: BVOTE
      - path: CONTOURS-IRIS.gpkg
        kind: iris
        layer: contours_iris                # optional: GeoPackage layer
        crs: EPSG:2154                      # optional: only for files that declare no CRS
        geo_year: 2024                      # optional: IRIS geography vintage
      - url: https://example.org/contours-bureaux.geojson   # or a published URL ...
        sha256: 6e5521...                   # ... with its checksum (required for URLs)
        kind: bureau

URL entries are fetched through `ingestion.download` (cache, checksum, bounded retries).
Archives (the IGN ships 7z) must be extracted first: pyogrio reads GeoJSON, GeoPackage and
Shapefile (a `.zip` holding a Shapefile works too).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ingestion.geo.layouts import KINDS
from ingestion.paths import OutsideLandingFolderError, inside_folder
from scrutin.config import landing_dir

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_OPTIONAL_TEXT = ("id_field", "commune_field", "crs", "layer")


class GeoManifestError(ValueError):
    pass


@dataclass(frozen=True)
class GeoEntry:
    kind: str
    path: str | None = None
    url: str | None = None
    sha256: str | None = None
    id_field: str | None = None
    commune_field: str | None = None
    crs: str | None = None
    layer: str | None = None
    geo_year: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Travels between DAG tasks as an XCom dict (None values dropped)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def local_path(self) -> Path:
        """The file to load: the local path, or the URL fetched into the cache."""
        if self.path is not None:
            return Path(self.path)
        from ingestion.download import fetch

        assert self.url is not None
        return fetch(self.url, sha256=self.sha256).path


def geo_dir() -> Path:
    return landing_dir("geo")


def _entry(manifest: Path, folder: Path, i: int, item: Any) -> GeoEntry:
    where = f"{manifest}: entry {i}"
    if not isinstance(item, dict) or "kind" not in item:
        raise GeoManifestError(f"{where}: needs 'kind' ({', '.join(KINDS)}) and 'path' or 'url'")
    kind = str(item["kind"])
    if kind not in KINDS:
        raise GeoManifestError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    unknown = set(item) - {"kind", "path", "url", "sha256", "geo_year", *_OPTIONAL_TEXT}
    if unknown:
        raise GeoManifestError(f"{where}: unknown keys {sorted(unknown)}")
    options: dict[str, Any] = {k: str(item[k]) for k in _OPTIONAL_TEXT if item.get(k)}
    if item.get("geo_year") is not None:
        try:
            options["geo_year"] = int(item["geo_year"])
        except (TypeError, ValueError) as exc:
            raise GeoManifestError(f"{where}: geo_year must be a year such as 2024") from exc
    has_path, has_url = "path" in item, "url" in item
    if has_path == has_url:
        raise GeoManifestError(f"{where}: give exactly one of 'path' or 'url'")
    if has_path:
        try:
            path = inside_folder(folder, item["path"])
        except OutsideLandingFolderError as exc:
            raise GeoManifestError(f"{where}: key 'path': {exc}") from exc
        if not path.exists():
            raise GeoManifestError(f"{where}: file {path} does not exist")
        return GeoEntry(kind, path=str(path), **options)
    sha = str(item.get("sha256") or "").lower()
    if not _SHA256.match(sha):
        raise GeoManifestError(f"{where}: a URL entry needs its 'sha256' (64 hex digits)")
    return GeoEntry(kind, url=str(item["url"]), sha256=sha, **options)


def read_geo_manifest(folder: Path | None = None) -> list[GeoEntry]:
    """Entries of `<folder>/manifest.yml`, validated (errors name the entry)."""
    import yaml

    folder = folder or geo_dir()
    manifest = folder / "manifest.yml"
    if not manifest.exists():
        raise GeoManifestError(f"{manifest}: no manifest.yml in the geography folder")
    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise GeoManifestError(f"{manifest}: not valid YAML: {exc}") from exc
    items = data.get("files") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise GeoManifestError(f"{manifest}: expected a top-level 'files:' list")
    return [_entry(manifest, folder, i, item) for i, item in enumerate(items, start=1)]


def entry_from_dict(data: dict[str, Any]) -> GeoEntry:
    """Inverse of `as_dict`."""
    return GeoEntry(**data)
