"""Retention of the raw exports kept in the drop zone (`processed/`, `failed/`).

The warehouse never holds a name, phone, e-mail or note: the loader keeps only pseudonymised
keys and categorical answers. The exports themselves do hold them, and `processed/` and `failed/`
used to keep them forever. The retention purge now deletes them:

- `processed/`: files already in the warehouse (loaded, or recognised by sha256 as loaded). They
  are kept `SCRUTIN_CANVASS_KEEP_PROCESSED_DAYS` days (default 7, for troubleshooting a load),
  counted from the file's modification time, then deleted.
- `failed/`: refused files wait for a fix and `scrutin canvass requeue`; they are deleted after
  `SCRUTIN_CANVASS_KEEP_FAILED_DAYS` days (default 30), with their `.reason.txt`.
- Once every campaign known to the warehouse is past its retention, both folders are emptied
  whatever the files' age.

The files at the root (deliveries not yet loaded) are never touched: they are the next load's.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from ingestion.canvass.dropzone import FAILED, PROCESSED, DropZone

log = logging.getLogger("scrutin.ingestion.canvass.purge")

KEEP_PROCESSED_ENV = "SCRUTIN_CANVASS_KEEP_PROCESSED_DAYS"
KEEP_FAILED_ENV = "SCRUTIN_CANVASS_KEEP_FAILED_DAYS"
DEFAULT_KEEP_PROCESSED_DAYS = 7
DEFAULT_KEEP_FAILED_DAYS = 30
REASON_SUFFIX = ".reason.txt"


@dataclass(frozen=True)
class DropZonePurge:
    """What the purge did to the drop zone (names only: a file name holds no personal data)."""

    url: str
    dry_run: bool
    deleted: tuple[str, ...] = field(default_factory=tuple)
    kept: int = 0

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"drop zone {self.url}: {verb} {len(self.deleted)} export(s) from processed/ and "
            f"failed/, kept {self.kept} still within their retention"
        )


def keep_days(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        days = int(raw)
    except ValueError as exc:
        raise ValueError(f"{variable}={raw!r}: expected a whole number of days") from exc
    if days < 0:
        raise ValueError(f"{variable}={raw!r}: expected 0 or more days")
    return days


def _modified(entry: dict[str, Any]) -> dt.datetime | None:
    """The modification time fsspec reports (local `mtime`, S3 `LastModified`...)."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = entry.get(key)
        if isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value, dt.UTC)
        if isinstance(value, dt.datetime):
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def purge_drop_zone(
    root: str | None,
    *,
    now: dt.datetime,
    all_campaigns_expired: bool,
    dry_run: bool = False,
) -> DropZonePurge:
    """Delete the exports of processed/ and failed/ past their retention (module docstring)."""
    zone = DropZone(root)
    limits = {
        PROCESSED: dt.timedelta(days=keep_days(KEEP_PROCESSED_ENV, DEFAULT_KEEP_PROCESSED_DAYS)),
        FAILED: dt.timedelta(days=keep_days(KEEP_FAILED_ENV, DEFAULT_KEEP_FAILED_DAYS)),
    }
    deleted: list[str] = []
    kept = 0
    for folder, limit in limits.items():
        base = posixpath.join(zone.root, folder)
        if not zone.fs.exists(base):
            continue
        for entry in zone.fs.ls(base, detail=True):
            if entry.get("type") != "file":
                continue
            path = str(entry["name"])
            name = posixpath.basename(path.rstrip("/"))
            if name.endswith(REASON_SUFFIX):
                continue  # goes with its export
            modified = _modified(entry)
            # An unknown age counts as old: keeping personal data needs a reason, not the reverse.
            due = all_campaigns_expired or modified is None or now - modified >= limit
            if not due:
                kept += 1
                continue
            deleted.append(f"{folder}/{name}")
            if not dry_run:
                zone.fs.rm(path)
                if zone.fs.exists(path + REASON_SUFFIX):
                    zone.fs.rm(path + REASON_SUFFIX)
    result = DropZonePurge(zone.url, dry_run, tuple(deleted), kept)
    log.info("%s", result.summary())
    return result
