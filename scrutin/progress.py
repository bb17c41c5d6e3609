"""Progress of a long load: a live line on a terminal, nothing extra in a log file.

A national results file takes a minute or more; an engineer at a terminal wants to see that it
moves, how fast, and when it will end. Airflow task logs and CI logs are not terminals: there
the loads already log one line when they start and one when they end (scrutin.warehouse.batch),
and a line every N rows would only bury them, so `Progress` writes nothing unless its stream
is a terminal.

On a terminal, nothing is shown for the first `delay` seconds (a short load stays silent), then
one line, rewritten in place at most every `interval` seconds:

    results_2024.csv: 412,000 rows · 61,800 rows/s · 38% · ETA 11 s

The total is an estimate when the caller only knows the file's size (`estimate_rows`), so the
share and the ETA are shown as such, and capped below 100% until the load ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

SAMPLE_BYTES = 1 << 16


def estimate_rows(path: Path | str) -> int | None:
    """An estimate of a text file's data rows: its size times the line density of its start.

    None when the path is not a regular file (a pair of files, a stream) or is empty.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file() or size == 0:
            return None
        with p.open("rb") as handle:
            sample = handle.read(SAMPLE_BYTES)
    except OSError:
        return None
    lines = sample.count(b"\n")
    if len(sample) == size:  # the whole file was read: an exact count
        return max(lines - 1 + (0 if sample.endswith(b"\n") else 1), 0)
    if lines <= 1:
        return None
    return max(int(size * lines / len(sample)) - 1, 1)


def _format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """Rows done, rate and ETA of one load, drawn on `stream` when it is a terminal."""

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "rows",
        stream: TextIO | None = None,
        delay: float = 2.0,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        started: float | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.interval = interval
        self.clock = clock
        self.started = clock() if started is None else started
        self.done = 0
        self._drawn_at: float | None = None
        self._width = 0
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())

    def advance(self, rows: int = 1) -> None:
        self.done += rows
        if not self.enabled:
            return
        now = self.clock()
        if now - self.started < self.delay:
            return
        if self._drawn_at is not None and now - self._drawn_at < self.interval:
            return
        self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The progress line as it would be drawn at `now`."""
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.label}: {self.done:,} {self.unit}", f"{rate:,.0f} {self.unit}/s"]
        if self.total:
            share = min(self.done / self.total, 0.99)
            parts.append(f"~{share:.0%}")
            if rate > 0:
                remaining = max(self.total - self.done, 0) / rate
                parts.append(f"ETA ~{_format_duration(remaining)}")
        return " · ".join(parts)

    def _draw(self, now: float) -> None:
        text = self.line(now)
        pad = max(self._width - len(text), 0)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)
        self._drawn_at = now

    def close(self) -> None:
        """Erase the live line (the caller logs the summary)."""
        if self.enabled and self._drawn_at is not None:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._drawn_at = None
