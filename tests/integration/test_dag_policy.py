"""Every DAG imports cleanly, fast, and follows the house policy (owner, tags, retries, doc_md)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scrutin.config import DAGS_DIR

EXPECTED_DAGS = {
    "ingest_elections",
    "ingest_electoral_roll",
    "ingest_census",
    "ingest_geography",
    "ingest_canvass_feedback",
    "purge_expired_personal_data",
    "build_audit_publish",
}
HEAVY_MODULES = ("great_expectations", "dbt", "pandas", "geopandas", "pynsee", "psycopg")


@pytest.fixture(scope="module")
def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_no_import_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) >= EXPECTED_DAGS


def test_every_dag_has_owner_tags_doc_and_catchup_off(dagbag: Any) -> None:
    for dag_id, dag in dagbag.dags.items():
        assert dag.owner not in ("", "airflow"), f"{dag_id}: set a real owner"
        assert "scrutin" in dag.tags, f"{dag_id}: tag 'scrutin' missing"
        assert dag.doc_md and len(dag.doc_md) > 100, f"{dag_id}: doc_md missing"
        assert dag.catchup is False, f"{dag_id}: catchup must be off"


# The steps that reach the network (downloads, a remote drop zone): the only ones retried with
# back-off. Every other step retries at most once, at once; the publication never.
NETWORK_TASKS = {
    "load_results_file",
    "load_census_entry",
    "load_contour_file",
    "load_canvass_drop_zone",
}


def test_retries_with_backoff_only_where_the_network_is(dagbag: Any) -> None:
    seen = set()
    for dag_id, dag in dagbag.dags.items():
        for t in dag.tasks:
            where = f"{dag_id}.{t.task_id}"
            if t.task_id in NETWORK_TASKS:
                seen.add(t.task_id)
                assert t.retries >= 2, f"{where}: a network step retries"
                assert t.retry_exponential_backoff > 0, f"{where}: with back-off"
            else:
                assert t.retries <= 1, f"{where}: {t.retries} retries off the network"
                assert not t.retry_exponential_backoff, f"{where}: back-off off the network"
            if t.task_id in ("publish_mart", "dbt_build_audit_schema", "dbt_build_scores"):
                assert t.retries == 0, f"{where}: never retried blindly"
    assert seen == NETWORK_TASKS


def test_every_task_has_a_time_limit_and_a_failure_alert(dagbag: Any) -> None:
    from pipeline.alerts import on_task_failure

    for dag_id, dag in dagbag.dags.items():
        for t in dag.tasks:
            where = f"{dag_id}.{t.task_id}"
            assert t.execution_timeout is not None, f"{where}: no execution_timeout"
            assert t.execution_timeout <= dt.timedelta(hours=2), where
            callbacks = t.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert on_task_failure in callbacks, f"{where}: no failure alert"


def test_publication_and_purge_have_a_deadline_alert(
    dagbag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from pipeline.alerts import DEADLINES, DEADLINES_VARIABLE

    assert not dagbag.get_dag("build_audit_publish").deadline  # off under the tests' dag.test()
    monkeypatch.setenv(DEADLINES_VARIABLE, "1")  # what the services parse
    dagbag = DagBag(dag_folder=str(DAGS_DIR))
    assert set(DEADLINES) == {"build_audit_publish", "purge_expired_personal_data"}
    for dag_id, interval in DEADLINES.items():
        (alert,) = dagbag.get_dag(dag_id).deadline
        assert alert.interval == interval
        assert alert.callback.path == "pipeline.alerts.deadline_missed"
    assert not dagbag.get_dag("ingest_elections").deadline


def test_build_dag_is_scheduled_on_the_raw_asset(dagbag: Any) -> None:
    from pipeline.assets import RAW_ELECTION_RESULTS

    build = dagbag.get_dag("build_audit_publish")
    ingest = dagbag.get_dag("ingest_elections")
    assert RAW_ELECTION_RESULTS in build.timetable.asset_condition.objects
    outlets = [o for t in ingest.tasks for o in t.outlets]
    assert RAW_ELECTION_RESULTS in outlets


@pytest.mark.parametrize("dag_file", sorted(p.name for p in Path(DAGS_DIR).glob("*.py")))
def test_dag_file_parses_fast_without_heavy_imports(dag_file: str) -> None:
    """A DAG file is wiring: parsing it must not import GX, dbt, pandas or a DB driver.

    The cost is the parse's CPU time, not its wall time: on a loaded 2-core machine (the test
    tiers run side by side) wall time measured the neighbours, and a heavy import costs CPU.
    """
    code = (
        "import sys, time, runpy; t = time.process_time(); "
        f"runpy.run_path({str(Path(DAGS_DIR) / dag_file)!r}); "
        "print(time.process_time() - t); "
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    # Airflow itself is imported first so only the DAG file's own cost is timed.
    out = subprocess.run(
        [sys.executable, "-c", "import airflow.sdk; " + code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split("\n")
    elapsed, heavy = float(out[0]), out[1]
    assert heavy == "", f"{dag_file} imports {heavy} at parse time"
    assert elapsed < 1.0, f"{dag_file} took {elapsed:.2f} s of CPU to parse"
