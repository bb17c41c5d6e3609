"""The canvass drop zone: a folder (local, or any fsspec URL) where app exports are delivered.

    <root>/                 deliveries: every regular file here is an export to load
    <root>/processed/       loaded or already-loaded files, moved here after their commit
    <root>/failed/          refused files, each with <name>.reason.txt (file, line, column, why);
                            `scrutin canvass requeue --force` offers them again (requeue.py)

The root is `SCRUTIN_CANVASS_DROP`, default `var/canvass-drop/` in the checkout. A URL such as
`s3://bucket/canvass/` or `gs://…` works through fsspec when its filesystem package and
credentials are installed (fsspec's usual environment/config); `memory://` serves the tests.

Exactly once: a file is loaded in one transaction and identified by its sha256 in the ledger, so a
crash between the commit and the move only means the next run finds the file again, sees its
sha256 already loaded, records a `skipped` batch and moves it. Re-delivering the same bytes under
any name does nothing more than that. A file is only moved to `failed/` for a problem of the file
itself (`SourceFormatError`); infrastructure problems (database unreachable, no secret) leave it
in place for the next run.

Writers should upload under a temporary name and rename when complete: names starting with `.`
or `_`, and names ending with `.part`, `.tmp`, `.crdownload` or `.filepart` are ignored.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import posixpath
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ingestion.errors import SourceFormatError
from scrutin.config import DEFAULT_CANVASS_DROP, sample_dir

if TYPE_CHECKING:
    from ingestion.canvass.loader import CanvassLoadReport
    from scrutin.campaign import Campaign

log = logging.getLogger("scrutin.ingestion.canvass.drop")

DROP_ENV = "SCRUTIN_CANVASS_DROP"
DEFAULT_DROP = DEFAULT_CANVASS_DROP
PROCESSED = "processed"
FAILED = "failed"
IGNORED_PREFIXES = (".", "_")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".filepart", ".reason.txt", ".md")


@dataclass(frozen=True)
class DropResult:
    """What happened to one delivered file."""

    name: str
    outcome: Literal["loaded", "skipped", "failed"]
    moved_to: str
    report: CanvassLoadReport | None = None
    reason: str | None = None

    @property
    def new_rows(self) -> int:
        return self.report.rows_loaded if self.report and self.outcome == "loaded" else 0


def drop_root() -> str:
    """`SCRUTIN_CANVASS_DROP`, else `var/canvass-drop/` under the checkout."""
    return os.environ.get(DROP_ENV) or str(DEFAULT_DROP)


class DropZone:
    """The drop folder through fsspec (a plain local path works too)."""

    def __init__(self, root: str | Path | None = None) -> None:
        import fsspec

        self.url = str(root) if root is not None else drop_root()
        fs, path = fsspec.core.url_to_fs(self.url)
        self.fs: Any = fs
        self.root = path.rstrip("/") or "/"
        self.local = "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))

    def ensure(self) -> None:
        """Create root, processed/ and failed/; keep the default local folder out of git."""
        for sub in ("", PROCESSED, FAILED):
            self.fs.makedirs(self._join(sub) if sub else self.root, exist_ok=True)
        if self.local and Path(self.root).resolve() == DEFAULT_DROP.resolve():
            ignore = Path(self.root) / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# deliveries may hold personal data: never commit them\n*\n")

    def _join(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def path_of(self, folder: str, name: str) -> str:
        """The path of `name` in `folder` ("" for the root)."""
        return self._join(folder, name) if folder else self._join(name)

    def deliveries(self, folder: str = "") -> list[str]:
        """Names of the files waiting at the root (or in `folder`, e.g. failed/), in name order."""
        names = []
        base = self._join(folder) if folder else self.root
        if folder and not self.fs.exists(base):
            return []
        for entry in self.fs.ls(base, detail=True):
            if entry.get("type") != "file":
                continue
            name = posixpath.basename(str(entry["name"]).rstrip("/"))
            if name.startswith(IGNORED_PREFIXES) or name.endswith(IGNORED_SUFFIXES):
                continue
            names.append(name)
        return sorted(names)

    @contextmanager
    def local_copy(self, name: str, folder: str = "") -> Iterator[Path]:
        """A local path to read the delivery from (the file itself when the zone is local)."""
        if self.local:
            yield Path(self.path_of(folder, name))
            return
        with tempfile.TemporaryDirectory(prefix="scrutin-canvass-") as tmp:
            target = Path(tmp) / name
            self.fs.get(self.path_of(folder, name), str(target))
            yield target

    def _free_name(self, folder: str, name: str, tag: str) -> str:
        candidate = self._join(folder, name)
        if not self.fs.exists(candidate):
            return candidate
        stem, dot, suffix = name.partition(".")
        return self._join(folder, f"{stem}-{tag}{dot}{suffix}")

    def move(self, name: str, folder: str, tag: str, *, from_folder: str = "") -> str:
        """Move a delivery (from the root, or `from_folder`) into `folder` (a rename on one
        filesystem: atomic)."""
        target = self._free_name(folder, name, tag)
        self.fs.mv(self.path_of(from_folder, name), target)
        return target

    def write_reason(self, moved_to: str, text: str) -> None:
        with self.fs.open(moved_to + ".reason.txt", "w", encoding="utf-8") as fh:
            fh.write(text)

    def remove_reason(self, path: str) -> None:
        """Drop the reason file of a refused file that has now loaded."""
        if self.fs.exists(path + ".reason.txt"):
            self.fs.rm(path + ".reason.txt")


def process_drop_zone(
    url: str | None = None,
    root: str | Path | None = None,
    *,
    campaign: Campaign | None = None,
    secret: str | None = None,
    now: dt.datetime | None = None,
) -> list[DropResult]:
    """Load every waiting delivery, one transaction each, and move it to processed/ or failed/.

    Raises (leaving the remaining files in place) on anything that is not a problem of the
    file: an unreachable warehouse, a missing secret.
    """
    from ingestion.canvass.loader import failure_reason, load_canvass_file
    from ingestion.canvass.mapping import load_mappings
    from ingestion.canvass.pseudonymise import resolve_secret
    from scrutin.campaign import load_campaign

    # A broken app mapping is a configuration error, not a bad delivery: raise (MappingError)
    # before any file is read, so the deliveries wait in place instead of moving to failed/.
    load_mappings()
    zone = DropZone(root)
    zone.ensure()
    campaign = campaign or load_campaign()
    secret = secret or resolve_secret()
    results: list[DropResult] = []
    for name in zone.deliveries():
        try:
            with zone.local_copy(name) as path:
                report = load_canvass_file(
                    url, path, campaign=campaign, secret=secret, now=now, file_name=name
                )
        except SourceFormatError as exc:
            moved = zone.move(name, FAILED, dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S"))
            reason = failure_reason(exc)
            zone.write_reason(
                moved,
                f"{name} was refused at {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}"
                f" and nothing of it was loaded.\n\n{reason}\n\n"
                "Fix the export (or re-export it from the app) and drop it again; or, when the "
                "export is right and the app mapping is not (config/canvass/<app>.yml, "
                "docs/canvass.md), fix the mapping and run `scrutin canvass requeue --force`.\n",
            )
            log.warning("canvass delivery %s refused: %s", name, reason)
            results.append(DropResult(name, "failed", moved, reason=reason))
            continue
        moved = zone.move(name, PROCESSED, str(report.batch_id))
        # A canvass file always writes its batch (every row may be quarantined): never "empty".
        skipped = report.status == "skipped"
        results.append(DropResult(name, "skipped" if skipped else "loaded", moved, report=report))
    loaded = sum(1 for r in results if r.outcome == "loaded")
    log.info(
        "canvass drop zone %s: %d file(s): %d loaded, %d skipped, %d refused",
        zone.url,
        len(results),
        loaded,
        sum(1 for r in results if r.outcome == "skipped"),
        sum(1 for r in results if r.outcome == "failed"),
    )
    return results


def seed_demo_deliveries(root: str | Path | None = None) -> list[str]:
    """Copy the bundled sample exports into a local drop zone that has never seen them.

    Used in demo mode only, so `make demo` shows the canvass path end to end; a file already
    delivered (present in the root, processed/ or failed/) is not copied again. When the demo
    campaign has been moved forward (`scrutin.campaign.demo_clock_shift`: the clock is near or past
    the end of its retention), the same sample is regenerated with its dates moved by as much,
    under names that say so (`qomon_actions_2026-11+364d.csv`).
    """
    zone = DropZone(root)
    zone.ensure()
    if not zone.local:
        raise ValueError("demo deliveries are only seeded into a local drop zone")
    seen = set(zone.deliveries())
    for folder in (PROCESSED, FAILED):
        for entry in Path(zone._join(folder)).iterdir():
            seen.add(entry.name)
    copied = []
    for sample, name in _demo_sample_files():
        if sample.name.endswith(IGNORED_SUFFIXES) or name in seen:
            continue
        shutil.copyfile(sample, Path(zone.root) / name)
        copied.append(name)
    return copied


def _demo_sample_files() -> list[tuple[Path, str]]:
    """The demo's exports and the names they are delivered under, moved with the demo campaign."""
    from scrutin.campaign import demo_shift_today

    shift = demo_shift_today()
    bundled = sorted(p for p in sample_dir("canvass").iterdir() if p.suffix != ".md")
    if not shift:
        return [(p, p.name) for p in bundled]
    from ingestion.canvass.sample import DEFAULT_ANCHOR, demo_sample
    from scrutin.config import cache_dir

    folder = cache_dir() / "demo-canvass" / f"plus-{shift.days}d"
    if not all((folder / p.name).is_file() for p in bundled):
        log.info("demo campaign moved by %s days: regenerating the canvass sample", shift.days)
        building = folder.with_name(f"{folder.name}.{os.getpid()}.part")
        demo_sample(building, anchor=DEFAULT_ANCHOR + shift)
        try:
            building.rename(folder)
        except OSError:  # another process got there first: its copy is the same bytes
            shutil.rmtree(building, ignore_errors=True)
    return [(folder / p.name, f"{p.stem}+{shift.days}d{p.suffix}") for p in bundled]
