"""The results landing folder and its manifest: which file (or URL) is which election.

`<SCRUTIN_ELECTIONS_DIR>/manifest.yml`:

    files:
      - path: circos23-tour1.csv          # a file in the folder (relative) or an absolute path
        election_id: 2024_legi_t1
      - url: https://example.org/resultats-burvot-t1.txt   # or a published URL ...
        sha256: 6e5521...                 # ... with its checksum (required for URLs)
        election_id: 2022_pres_t1
        layout: minint_2017_2022          # optional: overrides header detection

URL entries are fetched through the cache of `ingestion.download` (never twice, checksum
verified, short timeouts), so a re-run costs nothing and a changed file is refused loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrutin.config import landing_dir

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    pass


@dataclass(frozen=True)
class ManifestEntry:
    election_id: str
    path: Path | None = None
    url: str | None = None
    sha256: str | None = None
    layout: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"election_id": self.election_id}
        for key in ("url", "sha256", "layout"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.path is not None:
            out["path"] = str(self.path)
        return out

    def local_path(self) -> Path:
        """The file to load: the local path, or the URL fetched into the cache."""
        if self.path is not None:
            return self.path
        from ingestion.download import fetch

        assert self.url is not None
        return fetch(self.url, sha256=self.sha256).path


def elections_dir() -> Path:
    return landing_dir("elections")


def _entry(manifest: Path, folder: Path, i: int, item: Any) -> ManifestEntry:
    where = f"{manifest}: entry {i}"
    if not isinstance(item, dict) or "election_id" not in item:
        raise ManifestError(f"{where}: needs 'election_id' and one of 'path' or 'url'")
    has_path, has_url = "path" in item, "url" in item
    if has_path == has_url:
        raise ManifestError(f"{where}: give exactly one of 'path' or 'url'")
    layout = str(item["layout"]) if item.get("layout") else None
    if has_path:
        path = Path(str(item["path"]))
        path = (path if path.is_absolute() else folder / path).resolve()
        if not path.exists():
            raise ManifestError(f"{where}: file {path} does not exist")
        return ManifestEntry(str(item["election_id"]), path=path, layout=layout)
    sha = str(item.get("sha256") or "").lower()
    if not _SHA256.match(sha):
        raise ManifestError(f"{where}: a URL entry needs its 'sha256' (64 hex digits)")
    return ManifestEntry(str(item["election_id"]), url=str(item["url"]), sha256=sha, layout=layout)


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
    return [_entry(manifest, folder, i, item) for i, item in enumerate(items, start=1)]


def entry_from_dict(data: dict[str, str]) -> ManifestEntry:
    """Inverse of `as_dict` (entries travel between DAG tasks as XCom dicts)."""
    return ManifestEntry(
        election_id=data["election_id"],
        path=Path(data["path"]) if data.get("path") else None,
        url=data.get("url"),
        sha256=data.get("sha256"),
        layout=data.get("layout"),
    )
