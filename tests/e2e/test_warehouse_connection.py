"""Tasks write where the Airflow connection `scrutin_warehouse` points, not SCRUTIN_DATABASE_URL.

SCRUTIN_DATABASE_URL only provides the connection's default: an operator who points the
connection elsewhere (a variable, a secrets backend) moves every task. A real DAG run
(`dag.test()`) with the two pointing at different warehouses shows where the rows land, and
where a failed task's alert is recorded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scrutin.config import DAGS_DIR, WAREHOUSE_CONN_VARIABLE, airflow_conn_uri
from tests.conftest import (
    TEST_DB,
    TOUR1,
    drop_warehouse,
    fresh_warehouse,
    write_bad_results_landing,
)

DEFAULT_DB = f"{TEST_DB}_conn_default"
TARGET_DB = f"{TEST_DB}_conn_target"


@pytest.fixture(scope="module")
def warehouses(airflow_db: None) -> Iterator[tuple[str, str]]:
    default, target = fresh_warehouse(DEFAULT_DB), fresh_warehouse(TARGET_DB)
    yield default, target
    drop_warehouse(DEFAULT_DB)
    drop_warehouse(TARGET_DB)


@pytest.fixture(scope="module")
def ingest_elections() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR / "ingest_elections.py")).get_dag("ingest_elections")


def _count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_changing_the_connection_changes_where_a_task_writes(
    warehouses: tuple[str, str],
    ingest_elections: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default, target = warehouses
    shutil.copy(TOUR1, tmp_path / TOUR1.name)
    (tmp_path / "manifest.yml").write_text(
        f"files:\n  - path: {TOUR1.name}\n    election_id: 2024_legi_t1\n", encoding="utf-8"
    )
    monkeypatch.setenv("SCRUTIN_ELECTIONS_DIR", str(tmp_path))
    monkeypatch.setenv("SCRUTIN_DATABASE_URL", default)
    monkeypatch.setenv(WAREHOUSE_CONN_VARIABLE, airflow_conn_uri(target))
    monkeypatch.delenv("SCRUTIN_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("SCRUTIN_ALERT_EMAIL", raising=False)

    run = ingest_elections.test()
    assert str(run.state).endswith("success")
    bureaux = "select count(*) from raw.election_results_bureau"
    assert _count(target, bureaux) == 201
    assert _count(default, bureaux) == 0
    assert _count(target, "select count(*) from ops.quality_results") > 0
    assert _count(default, "select count(*) from ops.quality_results") == 0

    # A bad file: the task fails without retry and its alert lands in the same warehouse.
    write_bad_results_landing(tmp_path)
    run = ingest_elections.test()
    assert str(run.state).endswith("failed")
    with psycopg.connect(target) as conn:
        alert = conn.execute(
            "select kind, dag_id, task_id, run_id, notified, message from ops.alerts"
        ).fetchall()
    assert len(alert) == 1
    kind, dag_id, task_id, run_id, notified, message = alert[0]
    assert (kind, dag_id, task_id, run_id) == (
        "task_failed",
        "ingest_elections",
        "load_results_file",
        run.run_id,
    )
    assert notified == []  # no channel configured: recorded only
    assert "bad.csv" in message and "line 100" in message and "Votants" in message
    assert _count(default, "select count(*) from ops.alerts") == 0
