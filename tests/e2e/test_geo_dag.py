"""The `ingest_geography` DAG runs for real with `dag.test()` against its own warehouse database."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scrutin.config import DAGS_DIR

pytestmark = [pytest.mark.db, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "geo"


def _states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_ingest_geography_loads_contours_computes_weights_and_emits_once(
    dag_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    for name in ("iris_lambert93.geojson", "bureaux_lambert93.geojson"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "manifest.yml").write_text(
        "files:\n"
        "  - path: iris_lambert93.geojson\n    kind: iris\n    geo_year: 2023\n"
        "  - path: bureaux_lambert93.geojson\n    kind: bureau\n    id_field: codeBureauVote\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SCRUTIN_GEO_DIR", str(tmp_path))
    dag = DagBag(dag_folder=str(DAGS_DIR)).get_dag("ingest_geography")

    first = dag.test()
    states = _states(first)
    assert str(first.state).endswith("success"), states
    assert states["validate_raw_geography"].endswith("success")
    with psycopg.connect(dag_warehouse) as conn:
        assert conn.execute(
            "select count(*), round(sum(weight)::numeric, 9) from raw.iris_bureau_weights"
        ).fetchone() == (4, 2)
        assert sorted(
            conn.execute("select source, dataset_key, status from raw.batch_ledger").fetchall()
        ) == [
            ("geo", "bureau", "loaded"),
            ("geo", "iris", "loaded"),
            ("geo_weights", "iris_bureau", "loaded"),
        ]

    # Nothing new: files skipped, weights skipped, no asset event.
    second = dag.test()
    states = _states(second)
    assert str(second.state).endswith("success"), states
    assert states["validate_raw_geography"].endswith("skipped")
