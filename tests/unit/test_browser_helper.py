"""The headless-Chromium helper the page tests rely on records what a page did."""

from __future__ import annotations

from pathlib import Path

from tests.browser import browser_page


def test_records_console_errors_and_network_requests(tmp_path: Path) -> None:
    page_file = tmp_path / "page.html"
    page_file.write_text(
        "<html><body><h1>Scrutin</h1>"
        "<img src='http://127.0.0.1:9/pixel.png'>"
        "<script>console.error('broken card')</script></body></html>",
        encoding="utf-8",
    )
    with browser_page() as (page, watch):
        page.goto(page_file.as_uri())
        assert page.inner_text("h1") == "Scrutin"
        shot = tmp_path / "shot.png"
        page.screenshot(path=str(shot))
    assert "broken card" in watch.console_errors
    assert watch.network_requests() == ["http://127.0.0.1:9/pixel.png"]
    assert shot.stat().st_size > 1000
