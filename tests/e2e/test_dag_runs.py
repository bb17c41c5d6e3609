"""The ingestion DAG for results, run for real with `dag.test()` on the demo warehouse.

The demo's own runs (tests/e2e/conftest.py) showed the DAGs load and publish; these runs show
what a scheduled run does with files it has already seen, and with a bad file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scrutin.config import DAGS_DIR
from tests.conftest import write_bad_results_landing
from tests.e2e.conftest import DemoWarehouse

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture(scope="module")
def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture
def conn(demo_env: DemoWarehouse) -> Iterator[psycopg.Connection]:
    with psycopg.connect(demo_env.url, autocommit=True) as c:
        yield c


def _task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_files_already_loaded_are_skipped_and_emit_no_asset(
    dagbag: Any, conn: psycopg.Connection
) -> None:
    def ledger() -> dict[str, int]:
        return dict(
            conn.execute(
                "select status, count(*) from raw.batch_ledger where source = 'elections' "
                "group by status"
            ).fetchall()
        )

    before = ledger()
    rows = conn.execute("select count(*) from raw.election_results_bureau").fetchone()
    assert before["loaded"] == 5  # the demo's five elections

    again = dagbag.get_dag("ingest_elections").test()
    states = _task_states(again)
    assert str(again.state).endswith("success"), states
    # Nothing new loaded: the raw asset is not emitted, so its validation is skipped.
    assert states["validate_raw_results"].endswith("skipped"), states
    after = ledger()
    assert after["loaded"] == before["loaded"]
    assert after.get("skipped", 0) == before.get("skipped", 0) + 5
    assert conn.execute("select count(*) from raw.election_results_bureau").fetchone() == rows


def test_bad_file_fails_the_ingest_dag_and_loads_nothing(
    dagbag: Any, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bad_results_landing(tmp_path)
    monkeypatch.setenv("SCRUTIN_ELECTIONS_DIR", str(tmp_path))

    run = dagbag.get_dag("ingest_elections").test()
    assert str(run.state).endswith("failed")
    n = conn.execute(
        "select count(*) from raw.election_results_bureau where election_id = '2017_legi_t1'"
    ).fetchone()
    assert n == (0,)
    error = conn.execute(
        "select error from raw.batch_ledger where dataset_key = '2017_legi_t1'"
    ).fetchone()
    assert error is not None and "line 100" in error[0] and "Votants" in error[0]
