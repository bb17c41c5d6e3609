"""`kill -9` during the publication, on the demo warehouse (issue 14, build item 9).

A build process owns the build (its stage 1 recorded the gate run `running`) and calls the
publication stage on an audited schema that differs from `mart` (one row fewer), so a swap that
committed would show in the fingerprint. The test holds the publication's advisory lock, so the
process stops inside the publish transaction; it is killed there (SIGKILL). What must hold:
`mart` is the demo's publication, byte for byte; no publication is logged for the run; `scrutin
status` never shows the dead run as running; the next build marks it `abandoned`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import DemoWarehouse, assert_demo_baseline

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.leaves_demo_intermediates_stale]

RUN_ID = f"hostile-kill-during-publish-{uuid.uuid4().hex[:6]}"  # a run of its own, always the last
WAIT_S = 120.0

# Stage 1's bookkeeping (own the build, record the run `running`), then the real publication.
_PUBLISHER = textwrap.dedent(
    """
    import sys
    from pipeline.build_lock import build_stage
    from pipeline.gate import publish_audited
    url, run_id = sys.argv[1:3]
    with build_stage(url, run_id, "dbt_build_audit", first=True, release_on_error=False):
        pass  # the first stage records the gate run `running`
    print("publishing", flush=True)
    publish_audited(url, run_id, {"hostile": "killed during publish"})
    """
)


@pytest.fixture
def audited(demo_env: DemoWarehouse) -> Iterator[psycopg.Connection]:
    """`mart_audit` as a copy of `mart` with one published row fewer; dropped afterwards."""
    with psycopg.connect(demo_env.url, autocommit=True) as conn:
        conn.execute("drop schema if exists mart_audit cascade")
        conn.execute("create schema mart_audit")
        tables = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'mart' and table_type = 'BASE TABLE'"
            )
        ]
        for table in tables:
            conn.execute(f"create table mart_audit.{table} as select * from mart.{table}")
        conn.execute(
            "delete from mart_audit.polling_station_results where ctid = "
            "(select min(ctid) from mart_audit.polling_station_results)"
        )
        yield conn
        conn.execute("drop schema if exists mart_audit cascade")


def test_a_build_killed_during_publish_leaves_mart_and_its_run_record_honest(
    demo_env: DemoWarehouse, audited: psycopg.Connection
) -> None:
    from pipeline.build_lock import build_stage, stage_alive
    from pipeline.cli import status_payload
    from scripts.mart_fingerprint import fingerprint

    conn = audited
    before = assert_demo_baseline(demo_env.url)
    with psycopg.connect(demo_env.url, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(hashtext('pipeline.publish'))")
        publisher = subprocess.Popen(
            [sys.executable, "-c", _PUBLISHER, demo_env.url, RUN_ID],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert publisher.stdout is not None
            assert publisher.stdout.readline().strip() == "publishing"
            deadline = time.monotonic() + WAIT_S
            while conn.execute(
                "select count(*) from pg_locks where locktype = 'advisory' and not granted "
                "and database = (select oid from pg_database where datname = current_database())"
            ).fetchone() == (0,):
                assert time.monotonic() < deadline, "the publication never reached its lock"
                time.sleep(0.2)
            os.kill(publisher.pid, signal.SIGKILL)
            assert publisher.wait(30) == -signal.SIGKILL
        finally:
            if publisher.poll() is None:
                publisher.kill()
                publisher.wait(30)
            holder.execute("select pg_advisory_unlock_all()")
    deadline = time.monotonic() + 30
    while stage_alive(conn) and time.monotonic() < deadline:
        time.sleep(0.2)  # the server notices the dead connection and frees the stage lock

    assert fingerprint(demo_env.url) == before, "mart changed by a killed publication"
    assert conn.execute(
        "select count(*) from ops.publication_log where run_id = %s", (RUN_ID,)
    ).fetchone() == (0,)
    assert conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'mart_audit'"
    ).fetchone() != (0,), "the audited schema was swapped in"
    shown = status_payload()["last_gate_run"]
    assert shown["run_id"] == RUN_ID and shown["status"] == "abandoned", shown
    with build_stage(demo_env.url, "hostile-after-the-kill", "claimed", first=True, last=True):
        status = conn.execute(
            "select status from ops.gate_runs where run_id = %s", (RUN_ID,)
        ).fetchone()
    assert status == ("abandoned",)
