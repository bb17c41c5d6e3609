"""Files named by a manifest stay inside its landing folder.

A manifest is data, often delivered by someone else: `path: ../../../../etc/passwd` must not make
a loader read (and quote, in its error) a file the folder's owner never meant to hand over. Every
`path` of a landing manifest is resolved against the manifest's folder, symlinks followed, and
refused when the result is not inside that folder (an absolute path is accepted only when it
points inside it). To load files kept elsewhere, point the source's landing variable
(SCRUTIN_ELECTIONS_DIR, SCRUTIN_CENSUS_DIR, SCRUTIN_GEO_DIR...) at their folder.
"""

from __future__ import annotations

from pathlib import Path


class OutsideLandingFolderError(ValueError):
    """A manifest path that resolves outside the manifest's folder."""


def inside_folder(folder: Path, value: object) -> Path:
    """`value` (relative to `folder`, or absolute) resolved; refused outside `folder`."""
    root = folder.resolve()
    raw = Path(str(value))
    path = (raw if raw.is_absolute() else root / raw).resolve()
    if not path.is_relative_to(root):
        raise OutsideLandingFolderError(
            f"path {str(value)!r} resolves outside the landing folder {root}: manifests may only "
            "name files inside their own folder (move the file there, or point the landing "
            "folder variable at the folder that holds it)"
        )
    return path
