"""The two ways a census file is loaded, shared by the CLI and the DAG.

- `load_path`: a local zip/CSV named by hand; what it is comes from the caller, the registry
  (by sha256) or the file itself (`ingestion.census.detect`).
- `load_entry`: a registry (or landing manifest) entry; a pinned file already loaded is skipped
  without fetching anything, otherwise it is acquired (`ingestion.census.acquire`) and loaded.
"""

from __future__ import annotations

from pathlib import Path

from ingestion.census.acquire import acquire
from ingestion.census.detect import resolve_local_spec
from ingestion.census.loader import (
    CensusLoadReport,
    census_load,
    census_report,
    load_census_file,
)
from ingestion.census.registry import (
    DEFAULT_REGISTRY,
    CensusFileSpec,
    RegistryError,
    read_registry,
)
from ingestion.errors import SourceFormatError, ledger_error
from scrutin.warehouse import ledger


def registry_entries(
    path: str | Path | None = None, *, vintage: int | None = None, theme: str | None = None
) -> list[CensusFileSpec]:
    """Registry entries, optionally of one vintage and theme (an error when none match)."""
    specs = read_registry(path)
    chosen = [
        s
        for s in specs
        if (vintage is None or s.vintage == vintage) and (theme is None or s.theme == theme)
    ]
    if not chosen:
        what = " ".join(str(x) for x in (theme, vintage) if x is not None) or "any file"
        raise RegistryError(f"{path or DEFAULT_REGISTRY}: no entry for {what}")
    return chosen


def load_path(
    url: str | None,
    path: str | Path,
    *,
    theme: str | None = None,
    vintage: int | None = None,
    geo_year: int | None = None,
    source_format: str | None = None,
    decimal: str | None = None,
    member: str | None = None,
    encoding: str | None = None,
    registry_path: str | Path | None = None,
) -> CensusLoadReport:
    """Load a local census file (zip, CSV or CSV.gz)."""
    path = Path(path)
    sha256 = ledger.file_sha256(path)
    registry_file = Path(registry_path) if registry_path else DEFAULT_REGISTRY
    registry = read_registry(registry_file) if registry_file.exists() else []
    try:
        spec = resolve_local_spec(
            path,
            sha256=sha256,
            registry=registry,
            theme=theme,
            vintage=vintage,
            geo_year=geo_year,
            source_format=source_format,
            decimal=decimal,
            member=member,
            encoding=encoding,
        )
    except SourceFormatError as exc:
        # Refused while reading what the file is (an empty or corrupt zip, no data member):
        # before any batch exists, so the attempt is recorded here (issue 14: every refusal
        # leaves its ledger row).
        _record_refusal(url, path, sha256, exc)
        raise
    return load_census_file(url, path, spec, sha256=sha256)


def _record_refusal(url: str | None, path: Path, sha256: str, exc: SourceFormatError) -> None:
    from scrutin.db import connect

    with connect(url) as conn:
        ledger.record_failure(
            conn,
            None,
            source="census",
            path=path,
            sha256=sha256,
            dataset_keys=[None],
            error=ledger_error(exc),
            duration_s=0.0,
        )


def _skip_pinned(url: str | None, spec: CensusFileSpec) -> CensusLoadReport | None:
    """A skipped report when the entry's pinned bytes are already loaded (nothing fetched)."""
    from scrutin.warehouse.batch import skip_if_loaded

    if spec.sha256 is None:
        return None
    name = spec.path.name if spec.path is not None else Path(str(spec.url)).name
    load = census_load(Path(name), spec, spec.sha256)
    outcome = skip_if_loaded(url, load, caller="load_entry")
    return None if outcome is None else census_report(outcome, spec)


def load_entry(
    url: str | None,
    spec: CensusFileSpec,
    *,
    use_pynsee: bool = True,
    session: object | None = None,
) -> CensusLoadReport:
    """Load one registry entry (skipped early when its pinned sha256 is already loaded)."""
    skipped = _skip_pinned(url, spec)
    if skipped is not None:
        return skipped
    got = acquire(spec, use_pynsee=use_pynsee, session=session)
    return load_census_file(url, got.path, spec, sha256=got.sha256)
