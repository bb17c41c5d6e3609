"""The results landing folder and its manifest: which file (or URL, or registry id) is which
election.

`<SCRUTIN_ELECTIONS_DIR>/manifest.yml`:

    registry: ../config/results_registry.yml   # optional: the results registry the `registry:`
                                               # entries name (default config/results_registry.yml)
    files:
      - path: circos23-tour1.csv          # a file inside the folder (relative, or absolute)
        election_id: 2024_legi_t1
      - url: https://example.org/resultats-burvot-t1.txt   # or a published URL ...
        sha256: 6e5521...                 # ... with its checksum (required for URLs)
        election_id: 2022_pres_t1
        layout: minint_2017_pres          # optional: overrides header detection
      - registry: 2022_legi_t1            # or an election of the results registry: its URL,
        from: pair                        # layout and sha256 come from there; `from: file|pair`
                                          # optional (default: the Ministry's file when listed)
      - general: general_results.csv      # or a data.gouv GENERAL/CANDIDATS pair on disk ...
        candidats: candidats_results.csv
        only: [2022_pres_t1, 2021_dep_t1] # ... optionally restricted to these elections

URL entries are fetched through the cache of `ingestion.download` (never twice, checksum
verified, short timeouts), so a re-run costs nothing and a changed file is refused loudly.
Registry entries are fetched, checked and landed by `ingestion.loaders.results_fetch` exactly
as `scrutin fetch results ID` does. Every entry is validated when the manifest is read: a
registry id the registry does not list fails discovery, before anything is fetched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingestion.paths import OutsideLandingFolderError, inside_folder
from scrutin.config import landing_dir

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KINDS = {
    "path": frozenset({"path", "election_id", "layout"}),
    "url": frozenset({"url", "sha256", "election_id", "layout"}),
    "registry": frozenset({"registry", "from"}),
    "pair": frozenset({"general", "candidats", "only"}),
}


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class ManifestEntry:
    """One entry: a wide file (`path` or `url`, with `election_id`), a data.gouv pair on disk
    (`general` + `candidats`, optional `only`), or a results-registry id (`registry_id`)."""

    election_id: str | None = None
    path: Path | None = None
    url: str | None = None
    sha256: str | None = None
    layout: str | None = None
    general: Path | None = None
    candidats: Path | None = None
    only: tuple[str, ...] | None = None
    registry_id: str | None = None
    source: str | None = None
    registry_path: Path | None = None

    @property
    def label(self) -> str:
        """What the entry is, for logs and task reports."""
        if self.registry_id is not None:
            return f"registry {self.registry_id}" + (f" ({self.source})" if self.source else "")
        if self.general is not None and self.candidats is not None:
            return f"pair {self.general.name} + {self.candidats.name}"
        return f"{self.path or self.url} as {self.election_id}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (entries travel between DAG tasks as XCom dicts)."""
        out: dict[str, Any] = {}
        for key in ("election_id", "url", "sha256", "layout", "registry_id", "source"):
            value = getattr(self, key)
            if value:
                out[key] = value
        for key in ("path", "general", "candidats", "registry_path"):
            value = getattr(self, key)
            if value is not None:
                out[key] = str(value)
        if self.only is not None:
            out["only"] = list(self.only)
        return out

    def local_path(self) -> Path:
        """The wide file to load: the local path, or the URL fetched into the cache."""
        if self.path is not None:
            return self.path
        from ingestion.download import fetch

        if self.url is None:
            raise ManifestError(f"{self.label}: not a single-file entry")
        return fetch(self.url, sha256=self.sha256).path


def elections_dir() -> Path:
    return landing_dir("elections")


def _kind(where: str, item: dict[str, Any]) -> str:
    present = [k for k in ("path", "url", "registry") if k in item]
    if "general" in item or "candidats" in item:
        present.append("pair")
    if len(present) != 1:
        if not present and "election_id" not in item:
            raise ManifestError(
                f"{where}: needs 'election_id' and one of 'path' or 'url', or 'registry', or "
                "'general' + 'candidats'"
            )
        raise ManifestError(
            f"{where}: give exactly one of 'path' or 'url' (with 'election_id'), 'registry', "
            "or 'general' + 'candidats'"
        )
    kind = present[0]
    unknown = sorted(set(item) - _KINDS[kind])
    if unknown:
        raise ManifestError(
            f"{where}: key '{unknown[0]}' does not belong to a {kind} entry "
            f"(expected: {', '.join(sorted(_KINDS[kind]))})"
        )
    return kind


def _local(folder: Path, where: str, value: Any, key: str) -> Path:
    try:
        path = inside_folder(folder, value)
    except OutsideLandingFolderError as exc:
        raise ManifestError(f"{where}: key '{key}': {exc}") from exc
    if not path.exists():
        raise ManifestError(f"{where}: key '{key}': file {path} does not exist")
    return path


def _registry_file(folder: Path, where: str, value: Any) -> Path:
    """The results registry a manifest names: a YAML file, which may live outside the landing
    folder (it is configuration, `../config/results_registry.yml` by convention)."""
    path = Path(str(value))
    path = (path if path.is_absolute() else folder / path).resolve()
    if path.suffix not in (".yml", ".yaml"):
        raise ManifestError(f"{where}: key 'registry': {value!r} is not a .yml registry file")
    if not path.is_file():
        raise ManifestError(f"{where}: key 'registry': file {path} does not exist")
    return path


def _registry_entry(where: str, item: dict[str, Any], registry: Path | None) -> ManifestEntry:
    from ingestion.sources.results_registry import (
        SOURCES,
        ResultsRegistryError,
        read_results_registry,
    )

    source = item.get("from")
    if source is not None and source not in SOURCES:
        raise ManifestError(f"{where}: key 'from': expected file or pair, got {source!r}")
    try:
        entry = read_results_registry(registry).entry(str(item["registry"]))
        entry.source(source)
    except ResultsRegistryError as exc:
        raise ManifestError(f"{where}: key 'registry': {exc}") from exc
    return ManifestEntry(registry_id=entry.election_id, source=source, registry_path=registry)


def _pair_entry(where: str, folder: Path, item: dict[str, Any]) -> ManifestEntry:
    from ingestion.sources.election_types import validate_election_id

    if "general" not in item or "candidats" not in item:
        raise ManifestError(f"{where}: a data.gouv pair needs both 'general' and 'candidats'")
    only = item.get("only")
    if only is not None:
        if isinstance(only, str):
            only = [only]
        if not isinstance(only, list) or not only:
            raise ManifestError(f"{where}: key 'only': expected a list of election ids")
        try:
            only = tuple(validate_election_id(str(e)) for e in only)
        except ValueError as exc:
            raise ManifestError(f"{where}: key 'only': {exc}") from exc
    return ManifestEntry(
        general=_local(folder, where, item["general"], "general"),
        candidats=_local(folder, where, item["candidats"], "candidats"),
        only=only,
    )


def _entry(manifest: Path, folder: Path, i: int, item: Any, registry: Path | None) -> ManifestEntry:
    where = f"{manifest}: entry {i}"
    if not isinstance(item, dict):
        raise ManifestError(f"{where}: expected a mapping (see ingestion/manifest.py)")
    kind = _kind(where, item)
    if kind == "registry":
        return _registry_entry(where, item, registry)
    if kind == "pair":
        return _pair_entry(where, folder, item)
    if "election_id" not in item:
        raise ManifestError(f"{where}: needs 'election_id' with its '{kind}'")
    election_id = str(item["election_id"])
    layout = str(item["layout"]) if item.get("layout") else None
    if kind == "path":
        path = _local(folder, where, item["path"], "path")
        return ManifestEntry(election_id, path=path, layout=layout)
    sha = str(item.get("sha256") or "").lower()
    if not _SHA256.match(sha):
        raise ManifestError(f"{where}: a URL entry needs its 'sha256' (64 hex digits)")
    return ManifestEntry(election_id, url=str(item["url"]), sha256=sha, layout=layout)


def read_elections_manifest(folder: Path | None = None) -> list[ManifestEntry]:
    """Entries of `<folder>/manifest.yml`, validated (clear errors naming the entry)."""
    import yaml

    folder = folder or elections_dir()
    manifest = folder / "manifest.yml"
    if not manifest.exists():
        raise ManifestError(f"{manifest}: no manifest.yml in the results folder")
    try:
        data = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ManifestError(f"{manifest}: not valid YAML: {exc}") from exc
    items = data.get("files") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ManifestError(f"{manifest}: expected a top-level 'files:' list")
    registry = None
    if data.get("registry"):
        registry = _registry_file(folder, str(manifest), data["registry"])
    return [_entry(manifest, folder, i, item, registry) for i, item in enumerate(items, start=1)]


def entry_from_dict(data: dict[str, Any]) -> ManifestEntry:
    """Inverse of `as_dict` (entries travel between DAG tasks as XCom dicts)."""

    def path(key: str) -> Path | None:
        return Path(data[key]) if data.get(key) else None

    only = data.get("only")
    return ManifestEntry(
        election_id=data.get("election_id"),
        path=path("path"),
        url=data.get("url"),
        sha256=data.get("sha256"),
        layout=data.get("layout"),
        general=path("general"),
        candidats=path("candidats"),
        only=tuple(only) if only is not None else None,
        registry_id=data.get("registry_id"),
        source=data.get("source"),
        registry_path=path("registry_path"),
    )
