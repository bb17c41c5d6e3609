"""`kill -9` of a results load in the middle of its transaction (issue 14, build item 9).

A real `scrutin ingest elections` process replaces an election already loaded. The test holds
a lock on the candidate table, so the load stops inside its transaction right after it wrote its
`running` ledger row, at the deletion of the rows it replaces; then the process is killed (SIGKILL:
no handler, no rollback of its own). What must hold: the previous version of the election is
whole, no ledger row says `running` forever, the next load goes through; and (issue 14: "killed
loads leave no record of the attempt") the ledger records the killed attempt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from scrutin.config import warehouse_environment
from tests.conftest import ROOT, TEST_DB, TOUR1, TOUR2, drop_warehouse, fresh_warehouse

pytestmark = pytest.mark.db

WAREHOUSE = f"{TEST_DB}_hostile_kills"
ELECTION = "2017_legi_t1"
WAIT_S = 120.0
SCRUTIN = str(Path(sys.executable).with_name("scrutin"))


@dataclass(frozen=True)
class KilledLoad:
    url: str
    before: tuple[int, int, int]
    file_name: str
    exit_code: int


def _election(conn: psycopg.Connection) -> tuple[int, int, int]:
    row = conn.execute(
        "select (select count(*) from raw.election_results_bureau where election_id = %(e)s), "
        "(select coalesce(sum(inscrits), 0) from raw.election_results_bureau "
        " where election_id = %(e)s), "
        "(select count(*) from raw.election_results_candidate where election_id = %(e)s)",
        {"e": ELECTION},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _wait_for(conn: psycopg.Connection, pid: int, what: str) -> None:
    """Until the load's backend waits on the lock the test holds."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        row = conn.execute(
            "select count(*) from pg_locks l join pg_class c on c.oid = l.relation "
            "where not l.granted and c.relname = 'election_results_candidate' and l.pid <> %s",
            (pid,),
        ).fetchone()
        if row and row[0]:
            return
        time.sleep(0.2)
    raise AssertionError(f"the load never reached {what} within {WAIT_S:.0f} s")


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KilledLoad]:
    from ingestion.loaders.elections import load_results_file

    url = fresh_warehouse(WAREHOUSE)
    load_results_file(url, TOUR1, ELECTION)
    # A copy under its own name, so the ledger row of the attempt is told from the first load's.
    second = tmp_path_factory.mktemp("killed-load") / "second-version.csv"
    second.write_bytes(TOUR2.read_bytes())
    env = {**os.environ, **warehouse_environment(url), "PYTHONPATH": str(ROOT)}
    with psycopg.connect(url, autocommit=True) as conn:
        before = _election(conn)
        with conn.transaction():
            conn.execute("lock table raw.election_results_candidate in access exclusive mode")
            backend = conn.info.backend_pid
            load = subprocess.Popen(
                [SCRUTIN, "ingest", "elections", str(second), "--election-id", ELECTION],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_for(conn, backend, "the candidate table")
                os.kill(load.pid, signal.SIGKILL)
                code = load.wait(30)
            finally:
                if load.poll() is None:
                    load.kill()
                    load.wait(30)
    yield KilledLoad(url, before, second.name, code)
    drop_warehouse(WAREHOUSE)


def test_a_killed_load_leaves_the_previous_version_whole(killed: KilledLoad) -> None:
    assert killed.exit_code == -signal.SIGKILL
    with psycopg.connect(killed.url, autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while (
            conn.execute(  # the server notices the dead client and rolls its transaction back
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and backend_type = 'client backend' and pid <> pg_backend_pid()"
            ).fetchone()
            != (0,)
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        assert killed.before[0] == 201
        assert _election(conn) == killed.before
        ledger = conn.execute(
            "select file_name, status from raw.batch_ledger order by batch_id"
        ).fetchall()
        assert (TOUR1.name, "loaded") in ledger
        assert not [row for row in ledger if row[1] == "running"], ledger
        assert (killed.file_name, "loaded") not in ledger


def test_the_next_load_after_a_kill_goes_through(killed: KilledLoad) -> None:
    from ingestion.loaders.elections import load_results_file

    report = load_results_file(killed.url, TOUR2, ELECTION)
    assert report.status == "loaded" and report.superseded


def test_a_killed_load_is_recorded_in_the_ledger(killed: KilledLoad) -> None:
    """Once a later load ran (the test above), the attempt is on record as failed or abandoned:
    never missing, never `running` forever."""
    from ingestion.loaders.elections import load_results_file

    load_results_file(killed.url, TOUR2, ELECTION)  # a later load (skipped if the test above ran)
    with psycopg.connect(killed.url) as conn:
        rows = conn.execute(
            "select status from raw.batch_ledger where file_name = %s", (killed.file_name,)
        ).fetchall()
    assert rows, "the killed attempt left no ledger row"
    assert {status for (status,) in rows} <= {"failed", "abandoned"}, rows
