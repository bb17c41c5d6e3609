"""`scrutin airflow stop` on real processes: a component that ignores SIGTERM, with a child in
its process group, is killed after the grace period, and stop returns only once both are gone
(the e2e test of the real services once saw the scheduler alive right after "stopped")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from pipeline.airflow_services import (
    INSTANCE_VARIABLE,
    ServiceState,
    group_members,
    pid_alive,
    run_dir,
    stop,
)

STUBBORN = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "child = subprocess.Popen([sys.executable, '-c', "
    "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(120)\n"
)


def test_stop_kills_what_ignores_sigterm_and_returns_once_it_is_gone(tmp_path: Path) -> None:
    instance = "test-stop-instance"
    leader = subprocess.Popen(
        [sys.executable, "-c", STUBBORN],
        start_new_session=True,  # a group leader, as `start` launches each component
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, INSTANCE_VARIABLE: instance},
    )
    try:
        assert leader.stdout is not None
        child = int(leader.stdout.readline())
        assert group_members({leader.pid}) == {leader.pid, child}
        folder = run_dir(tmp_path)
        folder.mkdir(parents=True)
        ServiceState("http://127.0.0.1:1", instance, {"scheduler": leader.pid}, str(tmp_path)).save(
            folder
        )
        started = time.monotonic()
        targets = stop(tmp_path, grace=0.5)
        took = time.monotonic() - started
        assert leader.pid in targets
        # Gone when stop returns, not a moment later: neither alive nor left in the group.
        assert not pid_alive(leader.pid) and not pid_alive(child)
        assert group_members({leader.pid}) == set()
        assert 0.5 <= took < 10  # it waited out the grace period (SIGTERM ignored), then killed
        assert not (folder / "state.json").exists()
    finally:
        if leader.poll() is None:
            leader.kill()
        leader.wait(timeout=10)
