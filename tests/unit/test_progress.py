"""The live progress line of long loads: terminal only, after a delay, with rate and ETA."""

from __future__ import annotations

import io
from pathlib import Path

from scrutin.progress import Progress, estimate_rows


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_drawn_off_a_terminal() -> None:
    clock = Clock()
    log = io.StringIO()  # what an Airflow task log or a CI log is
    progress = Progress("a.csv", total=1000, stream=log, clock=clock)
    clock.now += 60
    progress.advance(500)
    progress.close()
    assert progress.done == 500
    assert log.getvalue() == ""


def test_a_short_load_stays_silent_then_a_long_one_shows_rows_rate_and_eta() -> None:
    clock = Clock()
    tty = Terminal()
    progress = Progress("a.csv", total=1000, stream=tty, clock=clock, delay=2.0, interval=0.5)
    clock.now += 1.0
    progress.advance(100)
    assert tty.getvalue() == ""
    clock.now += 3.0  # 4 s in, 400 rows: 100 rows/s, 600 left
    progress.advance(300)
    drawn = tty.getvalue()
    assert drawn.startswith("\r")
    assert "a.csv: 400 rows" in drawn and "100 rows/s" in drawn
    assert "~40%" in drawn and "ETA ~6 s" in drawn
    # Within the interval, no redraw; after it, one.
    clock.now += 0.1
    progress.advance(10)
    assert tty.getvalue() == drawn
    clock.now += 1.0
    progress.advance(10)
    assert tty.getvalue().count("\r") == 2
    progress.close()
    assert tty.getvalue().endswith("\r")


def test_an_underestimated_total_never_claims_done_before_the_end() -> None:
    clock = Clock()
    progress = Progress("big.csv", total=100, stream=Terminal(), clock=clock)
    clock.now += 10
    progress.done = 250
    line = progress.line()
    assert "~99%" in line and "ETA ~0 s" in line


def test_unknown_total_shows_rows_and_rate_only() -> None:
    clock = Clock()
    progress = Progress("pair", stream=Terminal(), clock=clock, unit="bureaux")
    clock.now += 5
    progress.done = 50
    assert progress.line() == "pair: 50 bureaux · 10 bureaux/s"


def test_long_durations_read_in_minutes_and_hours() -> None:
    clock = Clock()
    progress = Progress("n.csv", total=1_000_000, stream=Terminal(), clock=clock)
    clock.now += 10
    progress.done = 1000  # 100 rows/s, 999,000 left: 9,990 s
    assert "ETA ~2 h 46 min" in progress.line()
    progress.done = 100_000  # 10,000 rows/s: 90 s left
    assert "ETA ~1 min 30 s" in progress.line()


def test_row_estimate_exact_for_a_small_file_and_close_for_a_large_one(tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    small.write_text("h1;h2\n1;2\n3;4\n", encoding="utf-8")
    assert estimate_rows(small) == 2
    small.write_text("h1;h2\n1;2\n3;4", encoding="utf-8")  # no final newline
    assert estimate_rows(small) == 2
    large = tmp_path / "large.csv"
    large.write_text("code;voix\n" + "".join(f"{i:06d};{i % 97}\n" for i in range(40_000)))
    estimate = estimate_rows(large)
    assert estimate is not None and abs(estimate - 40_000) / 40_000 < 0.05
    assert estimate_rows(tmp_path / "missing.csv") is None
    assert estimate_rows(tmp_path) is None
    (tmp_path / "empty.csv").write_bytes(b"")
    assert estimate_rows(tmp_path / "empty.csv") is None
