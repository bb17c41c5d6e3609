"""A small, strict downloader for published files (INSEE, data.gouv, Ministry).

Why not just `requests.get`: a pipeline that runs unattended needs a cache (never fetch twice),
a checksum (never load a file that changed under the same URL without saying so), short timeouts
and a bounded number of retries (a network failure must surface in seconds, not minutes), and
atomic writes (never leave a half file, or an empty one, in the cache).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scrutin.config import cache_dir

log = logging.getLogger("scrutin.ingestion.download")

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 2


class DownloadError(RuntimeError):
    """The file could not be fetched (network, server): nothing was cached; worth a retry later."""


class DownloadRefused(DownloadError):
    """The server answered, but the file is not acceptable (4xx, empty, checksum mismatch)."""


class ChecksumMismatch(DownloadRefused):
    """The bytes at `url` are not the pinned ones: the publisher replaced the file, or the
    registry is wrong. Never retried, never cached; callers name their registry entry."""

    def __init__(self, url: str, expected: str, actual: str) -> None:
        self.url = url
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{url}: sha256 {actual} does not match the registry's {expected} "
            "(the publisher may have replaced the file: check it, then update the registry)"
        )


@dataclass(frozen=True)
class Downloaded:
    path: Path
    sha256: str
    from_cache: bool


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_path(url: str, sha256: str | None, folder: Path, name: str | None = None) -> Path:
    name = name or Path(urlsplit(url).path).name or "download"
    key = sha256 or hashlib.sha256(url.encode()).hexdigest()
    return folder / key[:16] / name


def fetch(
    url: str,
    *,
    sha256: str | None = None,
    folder: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    session: object | None = None,
    name: str | None = None,
) -> Downloaded:
    """The file at `url`, from the cache when present and valid, else downloaded once.

    With `sha256`, a cached or downloaded file whose digest differs is refused (and not cached).
    Retries only on connection errors, timeouts and 5xx answers, with a short back-off.
    `name`: the cached file's name, for URLs that carry none (data.gouv's `/datasets/r/<uuid>`).
    """
    import requests

    folder = folder or cache_dir()
    target = _cache_path(url, sha256, folder, name)
    if target.exists() and target.stat().st_size > 0:
        cached = _sha256(target)
        if sha256 is None or cached == sha256:
            log.info("cache hit for %s (%s)", url, target)
            return Downloaded(target, cached, True)
        log.warning(
            "cached copy of %s has sha256 %s, expected %s: fetching again", url, cached, sha256
        )
        target.unlink()

    http = session or requests.Session()
    last_error: str = ""
    for attempt in range(retries + 1):
        try:
            response = http.get(url, timeout=timeout_s, stream=True)  # type: ignore[attr-defined]
            if response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                raise requests.ConnectionError(last_error)
            if response.status_code != 200:
                raise DownloadRefused(f"{url}: HTTP {response.status_code} (not retried)")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            digest = hashlib.sha256()
            size = 0
            with partial.open("wb") as fh:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            if size == 0:
                partial.unlink(missing_ok=True)
                raise DownloadRefused(f"{url}: empty response (not cached)")
            if sha256 is not None and digest.hexdigest() != sha256:
                partial.unlink(missing_ok=True)
                raise ChecksumMismatch(url, sha256, digest.hexdigest())
            partial.replace(target)
            log.info("downloaded %s (%d bytes) to %s", url, size, target)
            return Downloaded(target, digest.hexdigest(), False)
        except (requests.ConnectionError, requests.Timeout) as exc:
            last_error = str(exc) or type(exc).__name__
            if attempt < retries:
                delay = 0.5 * (2**attempt)
                log.warning(
                    "fetching %s failed (%s); retry %d/%d in %.1f s",
                    url,
                    last_error,
                    attempt + 1,
                    retries,
                    delay,
                )
                time.sleep(delay)
    raise DownloadError(f"{url}: could not be fetched after {retries + 1} attempts: {last_error}")
