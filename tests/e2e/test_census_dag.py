"""The `ingest_census` DAG runs for real with `dag.test()` on its own fresh warehouse database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scrutin.config import DAGS_DIR
from tests.unit.test_census_parser import edited_sample, sample_line

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture(scope="module", autouse=True)
def _sample_census(dag_warehouse: str) -> Iterator[None]:
    """The DAG reads the bundled sample registry, whatever the caller's environment says."""
    patch = pytest.MonkeyPatch()
    patch.delenv("SCRUTIN_CENSUS_REGISTRY", raising=False)
    patch.delenv("SCRUTIN_CENSUS_DIR", raising=False)
    yield
    patch.undo()


@pytest.fixture(scope="module")
def census_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / "ingest_census.py"))
    assert bag.import_errors == {}
    return bag.get_dag("ingest_census")


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_dag_announces_the_census_asset(census_dag: Any) -> None:
    from pipeline.assets import RAW_CENSUS

    outlets = {t.task_id: list(t.outlets) for t in census_dag.tasks}
    assert outlets["validate_raw_census"] == [RAW_CENSUS]
    assert census_dag.schedule == "@monthly" or "monthly" in str(census_dag.timetable).lower()


def test_sample_is_loaded_checked_then_skipped(dag_warehouse: str, census_dag: Any) -> None:
    run = census_dag.test()
    assert str(run.state).endswith("success"), _states(run)
    assert _states(run)["validate_raw_census"].endswith("success")
    with psycopg.connect(dag_warehouse) as conn:
        ledger = conn.execute(
            "select dataset_key, status, rows_read from raw.batch_ledger order by dataset_key"
        ).fetchall()
        assert [(k, s) for k, s, _ in ledger] == [
            ("activite_residents:2021", "loaded"),
            ("couples_familles_menages:2021", "loaded"),
            ("diplomes_formation:2021", "loaded"),
            ("filosofi:2015", "loaded"),
            ("logement:2021", "loaded"),
            ("population:2021", "loaded"),
        ]
        assert conn.execute("select count(*) from raw.census_iris").fetchone() == (5 * 96 + 63,)
        checks = conn.execute(
            "select count(*), bool_and(success) from ops.quality_results "
            "where suite like 'raw_census%%'"
        ).fetchone()
        assert checks is not None and checks[0] > 0 and checks[1] is True
    again = census_dag.test()
    states = _states(again)
    assert states["validate_raw_census"].endswith("skipped"), states
    with psycopg.connect(dag_warehouse) as conn:
        counts = conn.execute(
            "select status, count(*) from raw.batch_ledger group by status order by status"
        ).fetchall()
        assert counts == [("loaded", 6), ("skipped", 6)]


def test_bad_file_fails_the_dag_and_loads_nothing(
    dag_warehouse: str, census_dag: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = sample_line(30)
    fields[7] = fields[7].replace(".", ",")
    bad = edited_sample(tmp_path, {30: ";".join(fields)}, name="base-ic-evol-struct-pop-2020.zip")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(bad, landing / bad.name)
    (landing / "manifest.yml").write_text(
        "files:\n"
        f"  - path: {bad.name}\n    theme: population\n    vintage: 2021\n    geo_year: 2023\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SCRUTIN_CENSUS_DIR", str(landing))
    with psycopg.connect(dag_warehouse) as conn:
        before = conn.execute("select count(*), sum(value) from raw.census_iris_values").fetchone()
    run = census_dag.test()
    assert str(run.state).endswith("failed")
    assert not _states(run)["validate_raw_census"].endswith("success")
    with psycopg.connect(dag_warehouse) as conn:
        after = conn.execute("select count(*), sum(value) from raw.census_iris_values").fetchone()
        assert after == before
        error = conn.execute(
            "select error from raw.batch_ledger where status = 'failed' "
            "order by batch_id desc limit 1"
        ).fetchone()
        assert error is not None and "line 30" in error[0] and "P21_POP0610" in error[0]
