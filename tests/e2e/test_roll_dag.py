"""The electoral-roll ingestion DAG with `dag.test()`: REU tables and a roll extract land (the
roll after the REU: its bureau codes are checked against the REU's bureaux), their suites pass,
the assets are emitted; a second run finds nothing new and announces nothing.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ingestion.sources.roll import aggregate_roll
from tests.conftest import SAMPLE

ROLL = SAMPLE / "roll" / "ListesElecteursActifs-com29061-10-06-2024-09h30.csv"

pytestmark = pytest.mark.db


@pytest.mark.slow
def test_dag_loads_checks_and_emits(
    dag_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from scrutin.config import DAGS_DIR

    reu_dir, roll_dir = tmp_path / "reu", tmp_path / "roll"
    reu_dir.mkdir()
    roll_dir.mkdir()
    for name in ("addresses_sample.csv", "table-bv-reu-synthetic.csv"):
        (reu_dir / name).write_bytes((SAMPLE / "reu" / name).read_bytes())
    (roll_dir / ROLL.name).write_bytes(ROLL.read_bytes())
    counted = aggregate_roll(ROLL).electors_counted
    monkeypatch.setenv("SCRUTIN_REU_DIR", str(reu_dir))
    monkeypatch.setenv("SCRUTIN_ROLL_DIR", str(roll_dir))
    dag = DagBag(dag_folder=str(DAGS_DIR)).get_dag("ingest_electoral_roll")
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state).endswith("success"), states
    assert states["validate_raw_reu"].endswith("success")
    assert states["validate_raw_roll"].endswith("success")
    with psycopg.connect(dag_warehouse) as c:
        assert c.execute("select count(*) from raw.reu_addresses").fetchone() == (12335,)
        assert c.execute("select sum(voters) from raw.roll_bureau_counts").fetchone() == (counted,)
        # Every counted bureau is one of the REU's: none was made up from a roll value.
        assert c.execute(
            "select count(*) from raw.roll_bureau_counts as r where not exists "
            "(select 1 from raw.reu_bureaux as b where b.bureau_id = r.bureau_id)"
        ).fetchone() == (0,)
    # A second run finds nothing new: nothing is announced downstream.
    again = dag.test()
    states = {ti.task_id: str(ti.state) for ti in again.get_task_instances()}
    assert states["validate_raw_reu"].endswith("skipped")
    assert states["validate_raw_roll"].endswith("skipped")
