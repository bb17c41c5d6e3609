"""The electoral-roll ingestion DAG with `dag.test()`: REU addresses and a roll extract land,
their suites pass, the assets are emitted; a second run finds nothing new and announces nothing.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.conftest import SAMPLE
from tests.fixtures.roll.roll_layout import HAND_FIXTURE

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
    (reu_dir / "addresses_sample.csv").write_bytes(
        (SAMPLE / "reu" / "addresses_sample.csv").read_bytes()
    )
    (roll_dir / HAND_FIXTURE.name).write_bytes(HAND_FIXTURE.read_bytes())
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
        assert c.execute("select sum(voters) from raw.roll_bureau_counts").fetchone() == (12,)
    # A second run finds nothing new: nothing is announced downstream.
    again = dag.test()
    states = {ti.task_id: str(ti.state) for ti in again.get_task_instances()}
    assert states["validate_raw_reu"].endswith("skipped")
    assert states["validate_raw_roll"].endswith("skipped")
