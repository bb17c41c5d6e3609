"""No process left behind (issue 15): a `scrutin` command stops its children before it exits.

dbt creates its locks in a `spawn` multiprocessing context; the first one starts Python's
resource tracker, which outlived `scrutin build` in its process group (and stayed a zombie where
PID 1 does not reap). The cheap proof, without a warehouse: a process in its own group creates
the lock the way dbt does, then runs a `scrutin` command through `pipeline.cli.main`; once it has
exited, nothing of its group is left. (`scrutin build` itself was checked the same way on a
small warehouse: docs/performance.md.)
"""

from __future__ import annotations

import subprocess
import sys

from scrutin.config import PROJECT_ROOT

CHILD = """
import sys
from multiprocessing import resource_tracker

from dbt.mp_context import get_mp_context

lock = get_mp_context().RLock()  # what dbt does: starts the resource tracker
print(resource_tracker._resource_tracker._pid, flush=True)

from pipeline.cli import main

sys.exit(main(["results", "layouts"]))
"""


def _group(pgid: int) -> list[str]:
    ps = subprocess.run(
        ["ps", "-eo", "pid=,pgid=,stat=,args="], capture_output=True, text=True, check=True
    )
    return [line for line in ps.stdout.splitlines() if line.split()[1] == str(pgid)]


def test_a_command_leaves_no_process_in_its_group() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=PROJECT_ROOT,
        start_new_session=True,  # its own process group, whose id is its pid
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    tracker = out.splitlines()[0]
    assert tracker.isdigit(), "the resource tracker was running while the command ran"
    assert _group(proc.pid) == []
    assert "leaked" not in err
