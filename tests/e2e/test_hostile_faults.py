"""Injected faults (tests/hostile/faults.py) on the demo warehouse: `scrutin build` must refuse
each one, record the refusal, and leave `mart` byte-identical.

The baseline is the tier's demo publication (tests/e2e/conftest.py), shared rather than rebuilt
(CI time is a budget). For each fault: the touched raw tables are saved, the fault injected,
`scrutin build --json` run in-process; it must exit 4 (refused) naming the failed check, with an
`ops.gate_runs` row `refused` and no `ops.publication_log` row for its run; every published table
keeps its fingerprint (scripts/mart_fingerprint.py); the rows are then restored.

The publication stage is replaced by a tripwire for these builds: a fault the gate does not catch
(the strict xfail ones, until their checks are merged) fails its test at the publication instead
of publishing broken figures into the mart the other tests of the tier read.

Refused builds rebuild the intermediate tables from the broken rows: the module runs after every
other e2e test (`leaves_demo_intermediates_stale`) and drops `mart_audit` when done.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.e2e.conftest import DemoWarehouse, assert_demo_baseline
from tests.hostile.faults import FAULTS, Fault

pytestmark = [pytest.mark.db, pytest.mark.slow, pytest.mark.leaves_demo_intermediates_stale]


class PublicationReached(AssertionError):
    """The gate passed a fault: the build got to the publication stage."""


def _params() -> list[Any]:
    return [
        pytest.param(
            fault,
            id=fault.id,
            marks=[pytest.mark.xfail(strict=True, reason=fault.xfail)] if fault.xfail else [],
        )
        for fault in FAULTS
    ]


@pytest.fixture(scope="module")
def published(demo_warehouse: DemoWarehouse) -> Iterator[dict[str, str]]:
    """The demo's published fingerprint, checked against the baseline once; `mart_audit` is
    dropped at the end (it holds what the last refused build made of a broken row)."""
    prints = assert_demo_baseline(demo_warehouse.url)
    yield prints
    with psycopg.connect(demo_warehouse.url, autocommit=True) as conn:
        conn.execute("drop schema if exists mart_audit cascade")


def _save(conn: psycopg.Connection, tables: tuple[str, ...]) -> dict[str, str]:
    saved = {}
    for i, table in enumerate(tables):
        copy = f"hostile_saved_{i}"
        conn.execute(f"drop table if exists pg_temp.{copy}")
        conn.execute(f"create temporary table {copy} as select * from {table}")
        saved[table] = copy
    return saved


def _restore(conn: psycopg.Connection, saved: dict[str, str]) -> None:
    with conn.transaction():
        for table, copy in saved.items():
            conn.execute(f"delete from {table}")
            conn.execute(f"insert into {table} select * from pg_temp.{copy}")


@pytest.mark.parametrize("fault", _params())
def test_the_gate_refuses_the_fault_and_keeps_mart(
    fault: Fault,
    published: dict[str, str],
    demo_env: DemoWarehouse,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pipeline import gate
    from pipeline.cli import main
    from scripts.mart_fingerprint import fingerprint

    def tripwire(url: str, run_id: str, summary: dict[str, Any]) -> dict[str, int]:
        raise PublicationReached(f"the gate passed fault {fault.id}: run {run_id} would publish")

    monkeypatch.setattr(gate, "publish_audited", tripwire)
    run_id = f"hostile-{fault.id}"
    with psycopg.connect(demo_env.url, autocommit=True) as conn:
        saved = _save(conn, fault.tables)
        try:
            with conn.transaction():
                for statement in fault.sql:
                    assert conn.execute(statement).rowcount > 0, statement
            code = main(["build", "--json", "--run-id", run_id])
        finally:
            _restore(conn, saved)
        out = capsys.readouterr().out
        assert code == 4, f"scrutin build exited {code}, not 4 (refused)"
        report = json.loads(out.strip().splitlines()[-1])  # dbt may log on stdout before it
        assert report["status"] == "refused"
        checks = "\n".join(report["failed_checks"])
        assert fault.check in checks, checks
        gate_run = conn.execute(
            "select status, failed_checks from ops.gate_runs where run_id = %s", (run_id,)
        ).fetchone()
        assert gate_run is not None and gate_run[0] == "refused"
        assert gate_run[1] == report["failed_checks"]
        assert conn.execute(
            "select count(*) from ops.publication_log where run_id = %s", (run_id,)
        ).fetchone() == (0,)
    assert fingerprint(demo_env.url) == published, "mart changed after a refused build"


def test_there_are_fifteen_faults() -> None:
    """Issue 14, build item 9: at least 15 injected faults, each its own id."""
    assert len(FAULTS) >= 15
    assert len({f.id for f in FAULTS}) == len(FAULTS)
