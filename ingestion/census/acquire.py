"""Get the bytes of a registry entry: a local path, pynsee's catalogue, or the registry URL.

Order: a `path` entry is read where it is (its pinned sha256, if any, must match). A `url` entry
asks pynsee's catalogue first when it names a `pynsee_id` and the catalogue lists the same file
(same file name: pynsee's IRIS catalogue mostly lists old spreadsheet editions, which Scrutin
does not parse); otherwise, or when the catalogue is unreachable, the registry URL is used.
The bytes always come through `ingestion.download.fetch`: cached under
`$SCRUTIN_CACHE_DIR/census`, checked against the registry's sha256 when pinned, short timeouts
and a bounded number of retries, never an empty or partial file in the cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from ingestion.census.registry import CensusFileSpec
from ingestion.download import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, DownloadRefused
from scrutin.warehouse import ledger

log = logging.getLogger("scrutin.ingestion.census.acquire")


@dataclass(frozen=True)
class Acquired:
    """Where the file to load is, and how it was obtained (for the report and the logs)."""

    path: Path
    sha256: str
    via: Literal["local", "pynsee", "registry-url"]
    url: str | None = None
    from_cache: bool = False
    note: str | None = None


def _file_name(url: str) -> str:
    return Path(urlsplit(url).path).name.lower()


def acquire(
    spec: CensusFileSpec,
    *,
    use_pynsee: bool = True,
    session: object | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    pynsee_retries: int = 0,
) -> Acquired:
    """The local file of `spec` (downloaded into the cache when it is a URL entry)."""
    if spec.path is not None:
        digest = ledger.file_sha256(spec.path)
        if spec.sha256 is not None and digest != spec.sha256:
            raise DownloadRefused(
                f"{spec.path}: sha256 {digest} does not match the registry's {spec.sha256} "
                "(the file changed: check it, then update the registry)"
            )
        return Acquired(spec.path, digest, "local")
    assert spec.url is not None, "a registry entry has a path or a url"
    url, via, note = spec.url, "registry-url", None
    if use_pynsee and spec.pynsee_id:
        from ingestion.census.pynsee_catalogue import CatalogueUnavailable, find_file

        try:
            hit = find_file(spec.pynsee_id, spec.vintage, retries=pynsee_retries)
        except CatalogueUnavailable as exc:
            note = f"{exc}: using the registry URL"
        else:
            if hit is None:
                note = f"{spec.pynsee_id} {spec.vintage} is not in pynsee's catalogue"
            elif _file_name(hit.link) == _file_name(spec.url):
                url, via = hit.link, "pynsee"
            else:
                note = (
                    f"pynsee's catalogue has {_file_name(hit.link)} for {spec.pynsee_id}, not "
                    f"{_file_name(spec.url)}: using the registry URL"
                )
        if note:
            log.info("%s: %s", spec.label, note)
    from ingestion.download import cache_dir, fetch

    got = fetch(
        url,
        sha256=spec.sha256,
        folder=cache_dir() / "census",
        timeout_s=timeout_s,
        retries=retries,
        session=session,
    )
    if spec.sha256 is None:
        log.warning(
            "%s: no sha256 pinned in the registry; the fetched file has sha256 %s "
            "(pin it once checked)",
            spec.label,
            got.sha256,
        )
    return Acquired(got.path, got.sha256, via, url, got.from_cache, note)  # type: ignore[arg-type]
