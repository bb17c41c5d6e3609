"""A real headless Chromium for the tests: the Debian package, driven by Playwright.

`make test` installs the browser first (scripts/ensure_test_tools.sh); Playwright never downloads
one. A test that needs the browser fails (it does not skip) when Chromium is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str:
    """The Chromium binary: $SCRUTIN_CHROMIUM, the Debian package, or `chromium` on PATH."""
    for candidate in (os.environ.get("SCRUTIN_CHROMIUM", ""), *CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    raise RuntimeError(
        "no Chromium found: run `bash scripts/ensure_test_tools.sh` (make test does) "
        "or set SCRUTIN_CHROMIUM"
    )


@dataclass
class PageWatch:
    """What a page did while a test looked at it: console errors and every request made."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def network_requests(self) -> list[str]:
        """Requests that left the page (anything but file:, data: and blob: URLs)."""
        local = ("file:", "data:", "blob:", "about:")
        return [url for url in self.requests if not url.startswith(local)]


@contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator[tuple[Any, PageWatch]]:
    """A fresh page in headless Chromium, with its console errors and requests recorded."""
    from playwright.sync_api import sync_playwright

    watch = PageWatch()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on(
                "console",
                lambda msg: watch.console_errors.append(msg.text) if msg.type == "error" else None,
            )
            page.on("pageerror", lambda exc: watch.page_errors.append(str(exc)))
            page.on("request", lambda req: watch.requests.append(req.url))
            yield page, watch
        finally:
            browser.close()
