"""One build at a time, and run records that never stay `running` for a dead run (issue 14).

Before: two `scrutin build` at once both rebuilt `mart_audit` (run B published tables carrying
run A's fit; only the swap was locked), and every killed build left `ops.gate_runs` at `running`
forever, a published one included. Here the stages are driven directly (no dbt): the lock is
what is under test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from pipeline.build_lock import BuildBusy, BuildLockLost, build_stage, stage_alive
from pipeline.cli import status_payload
from pipeline.publish import publish
from tests.conftest import ROOT

pytestmark = pytest.mark.db


def _gate(conn: psycopg.Connection, run_id: str) -> tuple[str, str | None]:
    row = conn.execute(
        "select status, stage from ops.gate_runs where run_id = %s", (run_id,)
    ).fetchone()
    assert row is not None, run_id
    return row[0], row[1]


def _start(conn: psycopg.Connection, run_id: str) -> None:
    conn.execute(
        "insert into ops.gate_runs (run_id, status) values (%s, 'running') "
        "on conflict (run_id) do update set status = 'running', finished_at = null",
        (run_id,),
    )


@pytest.fixture
def lock(conn: psycopg.Connection, warehouse_url: str) -> Iterator[str]:
    def reset() -> None:
        conn.execute(
            "update ops.build_lock set run_id = null, stage = null, acquired_at = null, "
            "stage_ended_at = null"
        )
        conn.execute("delete from ops.gate_runs where run_id like 'lock-%%'")

    reset()
    yield warehouse_url
    reset()


def test_a_second_build_is_refused_while_a_stage_runs(lock: str, conn: psycopg.Connection) -> None:
    with build_stage(lock, "lock-a", "dbt_build_audit", first=True):
        _start(conn, "lock-a")
        assert stage_alive(conn)
        started = time.monotonic()
        with (
            pytest.raises(BuildBusy, match=r"lock-a.*dbt_build_audit.*--wait") as busy,
            build_stage(lock, "lock-b", "dbt_build_audit", first=True, wait_seconds=0),
        ):
            pytest.fail("run B must not start while run A's stage runs")
        assert time.monotonic() - started < 5
        assert "Nothing of run lock-b was started" in str(busy.value)
    assert not stage_alive(conn)
    row = conn.execute("select count(*) from ops.gate_runs where run_id = 'lock-b'").fetchone()
    assert row == (0,)


def test_between_stages_the_owner_keeps_the_build_until_it_is_idle_too_long(
    lock: str, conn: psycopg.Connection
) -> None:
    with build_stage(lock, "lock-a", "dbt_build_audit", first=True):
        _start(conn, "lock-a")
    # Between A's stages: nobody holds the stage lock, but A owns the build.
    assert not stage_alive(conn)
    with (
        pytest.raises(BuildBusy, match=r"lock-a finished stage 'dbt_build_audit'"),
        build_stage(lock, "lock-b", "dbt_build_audit", first=True),
    ):
        pass
    with build_stage(lock, "lock-a", "fit_scores"):  # A goes on
        assert _gate(conn, "lock-a") == ("running", "fit_scores")

    # A goes silent for longer than the idle window: B takes the build, A is abandoned.
    conn.execute("update ops.build_lock set stage_ended_at = now() - interval '2 hours'")
    with build_stage(lock, "lock-b", "dbt_build_audit", first=True):
        _start(conn, "lock-b")
        status, _ = _gate(conn, "lock-a")
        assert status == "abandoned"
    failed = conn.execute(
        "select failed_checks from ops.gate_runs where run_id = 'lock-a'"
    ).fetchone()
    assert failed is not None and "taken over by lock-b" in json.dumps(failed[0])
    # A wakes up: it may not build on B's tables.
    with (
        pytest.raises(BuildLockLost, match="owned by lock-b"),
        build_stage(lock, "lock-a", "dbt_build_scores"),
    ):
        pass


def test_a_failing_stage_releases_the_build(lock: str, conn: psycopg.Connection) -> None:
    with (
        pytest.raises(RuntimeError, match="dbt exploded"),
        build_stage(lock, "lock-a", "dbt_build_audit", first=True),
    ):
        raise RuntimeError("dbt exploded")
    assert conn.execute("select run_id from ops.build_lock").fetchone() == (None,)
    with build_stage(lock, "lock-b", "dbt_build_audit", first=True, last=True):
        pass


def test_a_second_build_waits_when_asked(lock: str, conn: psycopg.Connection) -> None:
    released = threading.Event()

    def run_a() -> None:
        with build_stage(lock, "lock-a", "publish_audited", first=True, last=True):
            entered.set()
            time.sleep(3)
        released.set()

    entered = threading.Event()
    thread = threading.Thread(target=run_a)
    thread.start()
    assert entered.wait(30)
    with build_stage(lock, "lock-b", "dbt_build_audit", first=True, wait_seconds=60, last=True):
        assert released.is_set()  # B started only once A had released the build
    thread.join()


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pipeline.build_lock import build_stage
    url = sys.argv[1]
    with build_stage(url, "lock-killed", "dbt_build_audit", first=True):
        print("holding", flush=True)
        time.sleep(600)
    """
)


def test_a_killed_build_is_never_shown_running_and_the_next_build_marks_it(
    lock: str, conn: psycopg.Connection
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, lock],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        shown = status_payload()["last_gate_run"]
        assert (shown["run_id"], shown["status"], shown["stage"]) == (
            "lock-killed",
            "running",
            "dbt_build_audit",
        )
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(30)
        deadline = time.monotonic() + 30
        while stage_alive(conn) and time.monotonic() < deadline:
            time.sleep(0.2)  # the server notices the dead connection
        # Its row still says `running`; status tells the truth before anyone repairs it.
        assert _gate(conn, "lock-killed")[0] == "running"
        assert status_payload()["last_gate_run"]["status"] == "abandoned"
        # The next build takes over at once (its owner was in a stage, and no stage is alive).
        with build_stage(lock, "lock-next", "dbt_build_audit", first=True, last=True):
            assert _gate(conn, "lock-killed")[0] == "abandoned"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)


def test_publication_marks_the_run_passed_in_its_own_transaction(
    lock: str, conn: psycopg.Connection
) -> None:
    """Before: `passed` was written after the swap committed; a kill in between left a
    published run `running` forever."""
    for schema in ("mart_audit", "mart_prev"):
        conn.execute(f"drop schema if exists {schema} cascade")
    conn.execute("create schema if not exists mart")
    conn.execute("create schema mart_audit")
    conn.execute("create table mart_audit.lock_probe (x int)")
    _start(conn, "lock-pub")
    with psycopg.connect(lock) as pub:
        publish(pub, "lock-pub", {})
    assert _gate(conn, "lock-pub")[0] == "passed"
    conn.execute("drop table if exists mart.lock_probe")


def test_a_build_of_another_warehouse_on_the_server_is_not_ours(
    lock: str, conn: psycopg.Connection
) -> None:
    """Advisory locks belong to a database. Before: `stage_alive` read every database's locks,
    so while another warehouse of the same server built (the two test tiers, a demo next to a
    campaign warehouse), this warehouse's dead runs looked alive and its builds were refused."""
    from pipeline.build_lock import BUILD_LOCK_CLASS, BUILD_LOCK_ID
    from scrutin.config import with_database

    with psycopg.connect(with_database(lock, "postgres"), autocommit=True) as other:
        other.execute("select pg_advisory_lock(%s, %s)", (BUILD_LOCK_CLASS, BUILD_LOCK_ID))
        try:
            assert not stage_alive(conn)
            with build_stage(lock, "lock-beside", "dbt_build_audit", first=True, last=True):
                assert stage_alive(conn)
        finally:
            other.execute("select pg_advisory_unlock(%s, %s)", (BUILD_LOCK_CLASS, BUILD_LOCK_ID))
