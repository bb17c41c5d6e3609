"""Fetch an election named in the results registry, check it, and land it in `raw`.

`scrutin fetch results 2022_pres_t1` and a manifest's `- registry: 2022_pres_t1` entry run the
same three steps, in this order, so that nothing is loaded unless every step passed:

1. **fetch** every file of the chosen source (the Ministry's file, or both files of a data.gouv
   pair) through `ingestion.download.fetch` (cache under `$SCRUTIN_CACHE_DIR/results`, pinned
   sha256 checked, short timeouts, bounded retries): a checksum mismatch is refused naming the
   registry entry, the expected and the actual sha256;
2. **check** that the bytes are what the registry says: a wide file's header and first row parse
   with the declared layout, and the layout can hold the election's type; a pair's two files are
   a data.gouv general_results and candidats_results;
3. **land** through the existing loaders (`load_results_file`, `load_datagouv_files` restricted
   to the election), which keep their semantics: idempotent by sha256, a new version replaces
   the election, all or nothing.

Bad bytes (`FetchRefused`, `SourceFormatError`) are the publisher's or the registry's problem;
a network failure (`DownloadError`) or a database that is down is infrastructure: callers tell
them apart (exit codes 3 and 5 in the CLI, no retry vs retry in Airflow).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingestion.download import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    ChecksumMismatch,
    DownloadRefused,
    fetch,
)
from ingestion.errors import SourceFormatError
from ingestion.loaders.elections import LoadReport, load_datagouv_files, load_results_file
from ingestion.manifest import ManifestEntry
from ingestion.sources.elections import (
    check_layout_matches_election,
    detect_file_layout,
    iter_results,
)
from ingestion.sources.results_datagouv import LAYOUT_DATAGOUV_CANDIDATS, LAYOUT_DATAGOUV_GENERAL
from ingestion.sources.results_registry import (
    RemoteFile,
    ResultsEntry,
    Source,
    read_results_registry,
)
from scrutin.config import cache_dir

log = logging.getLogger("scrutin.ingestion.results_fetch")


class FetchRefused(ValueError):
    """The fetched bytes are not what the registry declares (checksum, layout, refused by the
    server): nothing was loaded. The message names the registry entry."""


@dataclass(frozen=True)
class FetchedFile:
    """One file of a fetch: its role (`file`, `general`, `candidats`), where it came from, where
    it is now, its sha256 and whether that sha256 was pinned in the registry."""

    role: str
    url: str
    path: Path
    sha256: str
    pinned: bool
    from_cache: bool


@dataclass
class FetchReport:
    """What `fetch_results` did: the files fetched and the loader's reports."""

    election_id: str
    source: Source
    layout: str
    files: list[FetchedFile] = field(default_factory=list)
    loads: list[LoadReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (paths as strings), for `--json` and Airflow's XCom."""
        return {
            "election_id": self.election_id,
            "source": self.source,
            "layout": self.layout,
            "files": [{**asdict(f), "path": str(f.path)} for f in self.files],
            "loads": [asdict(r) for r in self.loads],
        }


def results_cache_dir() -> Path:
    """Results downloads live beside the census ones, in their own folder."""
    return cache_dir() / "results"


def _remotes(entry: ResultsEntry, source: Source) -> list[tuple[str, RemoteFile]]:
    if source == "file":
        assert entry.file is not None
        return [("file", entry.file)]
    assert entry.pair is not None
    return [("general", entry.pair.general), ("candidats", entry.pair.candidats)]


def acquire(
    entry: ResultsEntry,
    source: Source,
    *,
    session: object | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
) -> list[FetchedFile]:
    """Every file of `source`, from the cache or downloaded; refused bytes raise FetchRefused."""
    files = []
    for role, remote in _remotes(entry, source):
        try:
            got = fetch(
                remote.url,
                sha256=remote.sha256,
                folder=results_cache_dir(),
                timeout_s=timeout_s,
                retries=retries,
                session=session,
                name=remote.file_name,
            )
        except ChecksumMismatch as exc:
            raise FetchRefused(
                f"{entry.label}: checksum mismatch for the {role} file {remote.url}: expected "
                f"sha256 {exc.expected}, got {exc.actual}. Nothing was loaded. The publisher may "
                "have replaced the file: check it, then update the registry's sha256."
            ) from exc
        except DownloadRefused as exc:
            raise FetchRefused(f"{entry.label}: {exc}. Nothing was loaded.") from exc
        if remote.sha256 is None:
            log.warning(
                "%s: no sha256 pinned for the %s file; it has sha256 %s (pin it once checked)",
                entry.label,
                role,
                got.sha256,
            )
        files.append(
            FetchedFile(
                role, remote.url, got.path, got.sha256, remote.sha256 is not None, got.from_cache
            )
        )
    return files


def check(entry: ResultsEntry, source: Source, files: list[FetchedFile]) -> str:
    """Refuse bytes that do not parse as the registry declares; the layout they parse as."""
    if source == "pair":
        expected = {"general": LAYOUT_DATAGOUV_GENERAL, "candidats": LAYOUT_DATAGOUV_CANDIDATS}
        for f in files:
            try:
                found = detect_file_layout(f.path)
            except SourceFormatError as exc:
                raise FetchRefused(
                    f"{entry.label}: the {f.role} file is unreadable: {exc}"
                ) from exc
            if found != expected[f.role]:
                raise FetchRefused(
                    f"{entry.label}: the pair's {f.role} file ({f.url}) reads as {found}, "
                    f"expected {expected[f.role]}. Nothing was loaded."
                )
        return "datagouv"
    (only,) = files
    assert entry.layout is not None
    try:
        check_layout_matches_election(only.path, entry.layout, entry.election_id)
        next(iter(iter_results(only.path, entry.layout)), None)  # the header and a first row
    except SourceFormatError as exc:
        hint = (
            " (the entry's data.gouv pair is the alternative: `--from pair`, or `from: pair` "
            "in a manifest)"
            if entry.pair
            else ""
        )
        raise FetchRefused(
            f"{entry.label}: {only.url} does not parse with the declared layout "
            f"{entry.layout}: {exc}. Nothing was loaded{hint}."
        ) from exc
    return entry.layout


def land(
    url_or_conn: str | None,
    entry: ResultsEntry,
    source: Source,
    files: list[FetchedFile],
    *,
    max_rejected: int | None = None,
) -> list[LoadReport]:
    """Load checked files through the existing loaders (idempotent, replacing, all or nothing)."""
    if source == "pair":
        general, candidats = (f.path for f in files)
        return load_datagouv_files(
            url_or_conn, general, candidats, only=[entry.election_id], max_rejected=max_rejected
        )
    (only,) = files
    return [
        load_results_file(
            url_or_conn,
            only.path,
            entry.election_id,
            layout=entry.layout,
            max_rejected=max_rejected,
        )
    ]


def fetch_results(
    url_or_conn: str | None,
    election_id: str,
    *,
    registry: str | Path | None = None,
    source: Source | None = None,
    session: object | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    max_rejected: int | None = None,
) -> FetchReport:
    """Fetch, check and land `election_id` from the results registry (default
    `config/results_registry.yml`); `source` picks the Ministry's `file` or the data.gouv `pair`.
    """
    entry = read_results_registry(registry).entry(election_id)
    chosen = entry.source(source)
    files = acquire(entry, chosen, session=session, timeout_s=timeout_s, retries=retries)
    layout = check(entry, chosen, files)
    report = FetchReport(entry.election_id, chosen, layout, files)
    report.loads = land(url_or_conn, entry, chosen, files, max_rejected=max_rejected)
    return report


def land_manifest_entry(url_or_conn: str | None, item: ManifestEntry) -> list[LoadReport]:
    """Load one landing-manifest entry, whatever its kind (the `ingest_elections` DAG's task)."""
    if item.registry_id is not None:
        return fetch_results(
            url_or_conn,
            item.registry_id,
            registry=item.registry_path,
            source=item.source,  # type: ignore[arg-type]
        ).loads
    if item.general is not None and item.candidats is not None:
        return load_datagouv_files(url_or_conn, item.general, item.candidats, only=item.only)
    assert item.election_id is not None
    return [load_results_file(url_or_conn, item.local_path(), item.election_id, layout=item.layout)]
