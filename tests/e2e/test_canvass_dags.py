"""Both canvass DAGs run for real with `dag.test()` on their own warehouse and drop zone."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scrutin.config import DAGS_DIR, warehouse_environment
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import SECRET, fetch

pytestmark = [pytest.mark.db, pytest.mark.slow]


@pytest.fixture(scope="module")
def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


@pytest.fixture
def env(airflow_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    url = support.fresh_warehouse("canvass_dags")
    drop = tmp_path / "drop"
    config = tmp_path / "campaign.yml"
    election = dt.date.today() + dt.timedelta(days=200)
    config.write_text(
        f"campaign_id: dag_test\nelection_date: {election}\ncampaign_start: 2020-01-01\n"
    )
    for key, value in warehouse_environment(url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SCRUTIN_CANVASS_DROP", str(drop))
    monkeypatch.setenv("SCRUTIN_CANVASS_SECRET", SECRET)
    monkeypatch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(config))
    monkeypatch.delenv("SCRUTIN_DEMO", raising=False)
    return url, drop


def states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


def test_dag_metadata(dagbag: Any) -> None:
    from pipeline.assets import RAW_CANVASS

    ingest = dagbag.get_dag("ingest_canvass_feedback")
    # every 15 minutes (a DeltaTriggerTimetable holding the timedelta)
    assert ingest.timetable.delta == dt.timedelta(minutes=15)
    assert RAW_CANVASS in [o for t in ingest.tasks for o in t.outlets]
    purge = dagbag.get_dag("purge_expired_personal_data")
    assert [t.task_id for t in purge.topological_sort()] == [
        "purge_expired_door_knocks",
        "check_retention_gate",
    ]


def test_ingest_loads_emits_and_reports_refused_files(dagbag: Any, env: tuple[str, Path]) -> None:
    url, drop = env
    drop.mkdir()
    shutil.copy(support.QOMON, drop / support.QOMON.name)
    shutil.copy(support.PAP, drop / support.PAP.name)
    (drop / "broken.csv").write_bytes(b"")
    run = dagbag.get_dag("ingest_canvass_feedback").test()
    got = states(run)
    assert got["load_canvass_drop_zone"].endswith("success"), got
    assert got["validate_raw_canvass"].endswith("success"), got  # the asset was emitted
    assert got["report_refused_deliveries"].endswith("failed"), got  # someone must look
    assert str(run.state).endswith("failed")
    assert sorted(p.name for p in (drop / "processed").iterdir()) == [
        "pap_small.csv",
        "qomon_small.csv",
    ]
    assert (drop / "failed" / "broken.csv.reason.txt").exists()
    # QOMON: 7 landed of 9 (an unknown status, a date in 2031); PAP: 3 of 5.
    assert fetch(url, "select count(*) from raw.canvass_knocks") == [(10,)]
    # Nothing waiting: the run skips and announces nothing.
    quiet = dagbag.get_dag("ingest_canvass_feedback").test()
    got = states(quiet)
    assert got["load_canvass_drop_zone"].endswith("skipped"), got
    assert got["validate_raw_canvass"].endswith("skipped"), got


def test_a_broken_app_mapping_fails_without_retry_and_moves_nothing(
    dagbag: Any, env: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scrutin.config import PROJECT_ROOT

    mappings = tmp_path / "mappings"
    shutil.copytree(PROJECT_ROOT / "config" / "canvass", mappings)
    qomon = mappings / "qomon.yml"
    qomon.write_text(qomon.read_text(encoding="utf-8") + "\nsurprise_key: 1\n", encoding="utf-8")
    monkeypatch.setenv("SCRUTIN_CANVASS_MAPPINGS", str(mappings))
    _, drop = env
    drop.mkdir()
    shutil.copy(support.QOMON, drop / support.QOMON.name)
    run = dagbag.get_dag("ingest_canvass_feedback").test()
    got = states(run)
    # failed at the first try: a configuration error does not heal by waiting (retried, this
    # run would take minutes of back-off and end with try_number 3)
    assert got["load_canvass_drop_zone"].endswith("failed"), got
    (load,) = [ti for ti in run.get_task_instances() if ti.task_id == "load_canvass_drop_zone"]
    assert load.try_number == 1
    assert str(run.state).endswith("failed")
    assert [p.name for p in drop.iterdir()] == [support.QOMON.name]  # left where it was


def test_purge_dag_deletes_and_passes_the_gate(dagbag: Any, env: tuple[str, Path]) -> None:
    from ingestion.canvass.loader import load_canvass_file
    from scrutin.campaign import load_campaign

    url, _ = env
    load_canvass_file(url, support.QOMON, campaign=load_campaign(), secret=SECRET)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into ops.publication_log (run_id, action, row_counts, check_summary) "
            "values ('t', 'publish', '{}', '{}')"
        )
        conn.execute("update ops.canvass_campaigns set retention_ends_at = now() - interval '1 h'")
    run = dagbag.get_dag("purge_expired_personal_data").test()
    got = states(run)
    assert str(run.state).endswith("success"), got
    assert fetch(url, "select count(*) from raw.canvass_knocks") == [(0,)]
    assert fetch(url, "select rows_deleted from ops.purge_log") == [(7,)]
