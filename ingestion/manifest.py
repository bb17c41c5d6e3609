"""The results landing folder and its manifest (which file is which election)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from scrutin.config import SAMPLE_DATA_DIR


@dataclass(frozen=True)
class ManifestEntry:
    path: Path
    election_id: str

    def as_dict(self) -> dict[str, str]:
        return {"path": str(self.path), "election_id": self.election_id}


class ManifestError(ValueError):
    pass


def elections_dir() -> Path:
    return Path(os.environ.get("SCRUTIN_ELECTIONS_DIR", SAMPLE_DATA_DIR / "elections"))


def read_elections_manifest(folder: Path | None = None) -> list[ManifestEntry]:
    """Entries of `<folder>/manifest.yml`: `files: [{path: ..., election_id: ...}]`."""
    import yaml

    folder = folder or elections_dir()
    manifest = folder / "manifest.yml"
    if not manifest.exists():
        raise ManifestError(f"{manifest}: no manifest.yml in the results folder")
    data = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    entries: list[ManifestEntry] = []
    for i, item in enumerate(data.get("files") or [], start=1):
        if not isinstance(item, dict) or "path" not in item or "election_id" not in item:
            raise ManifestError(f"{manifest}: entry {i} needs 'path' and 'election_id'")
        path = (folder / str(item["path"])).resolve()
        if not path.exists():
            raise ManifestError(f"{manifest}: entry {i}: file {path} does not exist")
        entries.append(ManifestEntry(path, str(item["election_id"])))
    return entries
