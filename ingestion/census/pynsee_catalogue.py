"""pynsee's file catalogue, with bounded retries and no cached failure.

Why only the catalogue (`pynsee.download.get_file_list`) and not `download_file`: the latter
reads the file into a pandas DataFrame with pynsee's own options (masks become NaN, so `s` and
`nd` can no longer be told apart from a real gap), holds a national file in memory, and caches
the frame on disk for 90 days — an all-NaN frame included when the network failed. Scrutin asks
the catalogue where the file is, then fetches the bytes with `ingestion.download` (cache,
sha256, short timeouts) and parses them with its own streaming parser.

pynsee 0.3 retries every request 7 times with exponential back-off (~126 s before an error) and,
when its catalogue is unreachable, raises a misleading `UnboundLocalError`. `catalogue()` mounts
an adapter with `retries` retries for the duration of the call, turns any failure into
`CatalogueUnavailable`, and clears pynsee's in-process caches so a failure (or an empty
catalogue) is never served again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("scrutin.ingestion.census.pynsee")

DEFAULT_RETRIES = 0


class CatalogueUnavailable(RuntimeError):
    """pynsee's catalogue could not be read (network, empty answer): use the registry URL."""


@dataclass(frozen=True)
class CatalogueHit:
    pynsee_id: str
    link: str
    md5: str | None
    date_ref: str | None


@contextmanager
def bounded_pynsee_retries(retries: int = DEFAULT_RETRIES) -> Iterator[None]:
    """Within the block, pynsee sessions retry `retries` times (instead of 7) and skip the
    per-API SQLite rate limiters (the catalogue and insee.fr files are static files)."""
    from pynsee.utils import requests_session
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session_class = requests_session.PynseeAPISession
    original = session_class._mount_adapters

    def mount(self: Any) -> None:
        retry = Retry(total=retries, backoff_factor=0.2, status_forcelist=[429, 502, 503, 504])
        adapter = HTTPAdapter(max_retries=retry)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    session_class._mount_adapters = mount
    try:
        yield
    finally:
        session_class._mount_adapters = original


def _clear_caches() -> None:
    from pynsee.download import get_file_list
    from pynsee.download._get_dict_data_source import _get_dict_data_source

    get_file_list.cache_clear()
    _get_dict_data_source.cache_clear()


def catalogue(retries: int = DEFAULT_RETRIES) -> Any:
    """pynsee's file list (a DataFrame with id, link, md5, date_ref...), read once per call."""
    from pynsee.download import get_file_list

    _clear_caches()
    try:
        with bounded_pynsee_retries(retries):
            frame = get_file_list()
    except Exception as exc:  # pynsee surfaces network failures as UnboundLocalError
        _clear_caches()
        raise CatalogueUnavailable(
            f"pynsee's file catalogue is unreachable ({type(exc).__name__}: {exc})"
        ) from exc
    if frame is None or len(frame) == 0:
        _clear_caches()
        raise CatalogueUnavailable("pynsee's file catalogue answered an empty list")
    return frame


def find_file(
    pynsee_id: str, vintage: int, *, retries: int = DEFAULT_RETRIES
) -> CatalogueHit | None:
    """The catalogue entry `pynsee_id` of `vintage` (ids are `<name>` or `<name>_<year>`)."""
    frame = catalogue(retries)
    wanted = {pynsee_id, f"{pynsee_id}_{vintage}"}
    for record in frame.to_dict("records"):
        if str(record.get("id")) not in wanted and str(record.get("name")) not in wanted:
            continue
        date_ref = str(record.get("date_ref") or "")
        year = re.search(r"[0-9]{4}", date_ref)
        if year is not None and int(year.group(0)) != vintage:
            continue
        link = str(record.get("link") or "")
        if not link:
            continue
        md5 = record.get("md5")
        return CatalogueHit(pynsee_id, link, str(md5) if md5 else None, date_ref or None)
    return None
