"""Both DAGs run for real with `dag.test()` against their own fresh warehouse database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scrutin.config import DAGS_DIR, with_database
from tests.conftest import _SERVER_URL, TOUR1, TOUR2

pytestmark = [pytest.mark.db, pytest.mark.slow]

DAG_DB = "scrutin_test_dags"


@pytest.fixture(scope="module")
def dag_warehouse(airflow_db: None) -> Iterator[str]:
    """A fresh warehouse only these DAG runs use, and a landing folder with the two real files."""
    from scrutin.db import connect
    from scrutin.warehouse.migrate import migrate

    url = with_database(_SERVER_URL, DAG_DB)
    with psycopg.connect(with_database(_SERVER_URL, "postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{DAG_DB}" with (force)')
        admin.execute(f'create database "{DAG_DB}"')
    with connect(url) as conn:
        migrate(conn)
    mp = pytest.MonkeyPatch()
    mp.setenv("SCRUTIN_DATABASE_URL", url)
    yield url
    mp.undo()


@pytest.fixture(scope="module")
def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def _landing(tmp_path: Path, files: dict[str, tuple[Path, str]]) -> Path:
    lines = ["files:"]
    for name, (src, election_id) in files.items():
        shutil.copy(src, tmp_path / name)
        lines += [f"  - path: {name}", f"    election_id: {election_id}"]
    (tmp_path / "manifest.yml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def _task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_ingest_then_build_publishes(
    dag_warehouse: str, dagbag: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _landing(
        tmp_path, {"t1.csv": (TOUR1, "2024_legi_t1"), "t2.csv": (TOUR2, "2024_legi_t2")}
    )
    monkeypatch.setenv("SCRUTIN_ELECTIONS_DIR", str(folder))

    ingest = dagbag.get_dag("ingest_elections").test()
    assert str(ingest.state).endswith("success"), _task_states(ingest)
    assert _task_states(ingest)["validate_raw_results"].endswith("success")

    with psycopg.connect(dag_warehouse) as conn:
        ledger = conn.execute(
            "select dataset_key, status, rows_read from raw.batch_ledger order by dataset_key"
        ).fetchall()
        assert ledger == [("2024_legi_t1", "loaded", 201), ("2024_legi_t2", "loaded", 201)]

    build = dagbag.get_dag("build_audit_publish").test()
    assert str(build.state).endswith("success"), _task_states(build)
    with psycopg.connect(dag_warehouse) as conn:
        assert conn.execute("select count(*) from mart.polling_station_results").fetchone() == (
            402,
        )
        gate = conn.execute(
            "select status from ops.gate_runs where run_id = %s", (build.run_id,)
        ).fetchone()
        assert gate == ("passed",)

    # Same files again: nothing loaded, so the raw asset is not emitted (validation skipped).
    again = dagbag.get_dag("ingest_elections").test()
    states = _task_states(again)
    assert states["validate_raw_results"].endswith("skipped"), states
    with psycopg.connect(dag_warehouse) as conn:
        counts = conn.execute(
            "select status, count(*) from raw.batch_ledger group by status order by status"
        ).fetchall()
        assert counts == [("loaded", 2), ("skipped", 2)]
        assert conn.execute("select count(*) from raw.election_results_bureau").fetchone() == (402,)


def test_bad_file_fails_the_ingest_dag_and_loads_nothing(
    dag_warehouse: str, dagbag: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.csv"
    lines = TOUR1.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = lines[99].split(";")
    fields[6] = "douze"  # Votants
    lines[99] = ";".join(fields)
    bad.write_text("".join(lines), encoding="utf-8")
    folder = tmp_path / "landing"
    folder.mkdir()
    _landing(folder, {"bad.csv": (bad, "2022_legi_t1")})
    monkeypatch.setenv("SCRUTIN_ELECTIONS_DIR", str(folder))

    run = dagbag.get_dag("ingest_elections").test()
    assert str(run.state).endswith("failed")
    with psycopg.connect(dag_warehouse) as conn:
        n = conn.execute(
            "select count(*) from raw.election_results_bureau where election_id = '2022_legi_t1'"
        ).fetchone()
        assert n == (0,)
        error = conn.execute(
            "select error from raw.batch_ledger where dataset_key = '2022_legi_t1'"
        ).fetchone()
        assert error is not None and "line 100" in error[0] and "Votants" in error[0]


def test_build_dag_fails_and_keeps_mart_when_a_check_fails(dag_warehouse: str, dagbag: Any) -> None:
    with psycopg.connect(dag_warehouse, autocommit=True) as conn:
        before = conn.execute(
            "select count(*), sum(voters) from mart.polling_station_results"
        ).fetchone()
        conn.execute(
            "update raw.election_results_bureau set votants = inscrits + 1 "
            "where bureau_id = '29019_0003' and election_id = '2024_legi_t2'"
        )
        run = dagbag.get_dag("build_audit_publish").test()
        assert str(run.state).endswith("failed")
        states = _task_states(run)
        assert not states["publish_mart"].endswith("success"), states
        after = conn.execute(
            "select count(*), sum(voters) from mart.polling_station_results"
        ).fetchone()
        assert after == before
        gate = conn.execute(
            "select status, jsonb_array_length(failed_checks) from ops.gate_runs where run_id = %s",
            (run.run_id,),
        ).fetchone()
        assert gate is not None and gate[0] == "refused" and gate[1] >= 1
