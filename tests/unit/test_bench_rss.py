"""The national benchmark's peak memory of a build is the build's own, not its parent's.

Linux carries a parent's peak resident set over fork and exec into the child's `ru_maxrss`: a
benchmark that had loaded 4 GB reported every build it started at 4 GB. `_PeakWatch` polls the
child's VmHWM instead, which starts again at exec.
"""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.bench_national import _PeakWatch, _rss_peak_mb

CHILD_MB = 60
PARENT_MB = 400
# the child holds its memory long enough for several polls
CHILD = (
    f"import time; b = bytearray({CHILD_MB} * 2**20); b[::4096] = b'x' * len(b[::4096]); "
    "time.sleep(1)"
)


def test_a_child_peak_is_its_own_not_its_parents() -> None:
    ballast = bytearray(PARENT_MB * 2**20)
    ballast[::4096] = b"y" * len(ballast[::4096])  # touched: resident
    own = _rss_peak_mb("self")
    assert own is not None and own >= PARENT_MB
    proc = subprocess.Popen([sys.executable, "-c", CHILD])
    watch = _PeakWatch(proc.pid)
    _, status, _ = os.wait4(proc.pid, 0)
    peak = watch.stop()
    assert os.waitstatus_to_exitcode(status) == 0
    assert peak is not None and CHILD_MB <= peak < PARENT_MB
    del ballast


def test_a_process_that_is_gone_has_no_peak() -> None:
    assert _rss_peak_mb(2**22 + 1) is None  # above the highest pid Linux gives
