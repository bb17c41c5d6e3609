"""The incremental path end to end, on a demo-loaded warehouse of this module's own.

The demo's DAGs load every source and publish (a full build: no publication to compare with).
Then, in order (one module fixture, so the sequence runs once, whatever the test order):
1. new door knocks land in the drop zone; `scrutin build` decides *incremental*, rebuilds the
   canvass and score marts only and publishes; the next build, with nothing new, is *unchanged*
   and publishes nothing;
2. `scrutin publish --rollback`: the previous publication comes back whole;
3. the next build is *full* (a rollback since the last publication) and must publish exactly
   what the incremental build had published (same data, every table);
4. a knock row a dbt test refuses lands: the build is incremental, refused, and `mart` is
   unchanged;
5. a write to another source, and an edited campaign file, each make the next build full.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scrutin.config import warehouse_environment
from tests.conftest import TEST_DB, drop_warehouse, fresh_warehouse

pytestmark = [pytest.mark.db, pytest.mark.slow]

DB = f"{TEST_DB}_incremental"
CANVASS_MARTS = {
    "canvass_bureau_daily",
    "canvass_bureau_opinion",
    "canvass_days",
    "canvass_progress",
}
# The score marts (tag:scores): the second dbt stage rebuilds them all; they read the knocks.
SCORE_MARTS = {
    "polling_station_targeting",
    "canvass_plan",
    "commune_summary",
    "targeting_vintages",
}
# dbt views of `mart` (a view names the schema it reads, so it is rebuilt, never copied).
MART_VIEWS = {"backtest_runs", "backtest_bureaux"}


@dataclass
class Scenario:
    url: str
    first: dict[str, str]  # fingerprint of the demo's (full) publication
    incremental: dict[str, str] = field(default_factory=dict)
    incremental_report: Any = None
    incremental_log: dict[str, Any] = field(default_factory=dict)
    bi_counts: dict[str, int] = field(default_factory=dict)
    rolled_back: dict[str, str] = field(default_factory=dict)
    full_after_rollback: dict[str, str] = field(default_factory=dict)
    full_report: Any = None
    refused: Any = None
    after_refusal: dict[str, str] = field(default_factory=dict)
    publications_before_refusal: int = 0
    publications_after_refusal: int = 0
    other_source_plan: Any = None
    campaign_plan: Any = None
    unit_tests: dict[str, int] = field(default_factory=dict)  # dbt unit tests run, by build
    by_construction: dict[str, int] = field(default_factory=dict)  # those tests run, by build
    unchanged_report: Any = None
    unchanged_tasks: dict[str, str] = field(default_factory=dict)  # the DAG run's task states
    report_gate_run: str | None = None  # the gate run the campaign report shows after them
    unchanged_gate: tuple[Any, ...] = ()  # gate run and decision of the DAG run, then the CLI's
    after_unchanged: dict[str, str] = field(default_factory=dict)
    publications: tuple[int, int] = (0, 0)  # before and after the unchanged build
    preloads: list[str] = field(default_factory=list)  # stage 4's background imports, by run


def _bi_counts(url: str) -> dict[str, int]:
    """Rows of every published table and view, read as the BI role (row-level security
    applies)."""
    from scrutin.config import bi_reader_url

    with psycopg.connect(bi_reader_url(url)) as bi:
        tables = [
            t
            for (t,) in bi.execute(
                "select c.relname from pg_class as c join pg_namespace as n "
                "on n.oid = c.relnamespace where n.nspname = 'mart' and c.relkind in ('r', 'v') "
                "order by 1"
            ).fetchall()
        ]
        return {
            t: int(bi.execute(f'select count(*) from mart."{t}"').fetchone()[0])  # type: ignore[index]
            for t in tables
        }


def _publications(conn: psycopg.Connection) -> int:
    (n,) = conn.execute("select count(*) from ops.publication_log").fetchone()  # type: ignore[misc]
    return int(n)


def _build_with_nothing_new(s: Scenario) -> None:
    """1b. Nothing new since the incremental publication: the DAG (as the scheduler runs it)
    and `scrutin build` rebuild nothing and publish nothing."""
    from pipeline.demo import run_dag
    from pipeline.gate import build_audit_publish, new_run_id
    from pipeline.report import collect
    from scripts.mart_fingerprint import fingerprint

    with psycopg.connect(s.url) as conn:
        before = _publications(conn)
    dag_run = run_dag("build_audit_publish")  # raises unless the run succeeded
    s.unchanged_tasks = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    s.unchanged_report = build_audit_publish(s.url, new_run_id("unchanged"))
    s.after_unchanged = fingerprint(s.url)
    with psycopg.connect(s.url) as conn:
        s.report_gate_run = (collect(conn).gate or {}).get("run_id")
        s.publications = (before, _publications(conn))
        s.unchanged_gate = tuple(
            conn.execute(
                "select g.status, g.failed_checks, g.finished_at is not null, d.mode "
                "from ops.gate_runs as g join ops.build_decisions as d using (run_id) "
                "where run_id = %s",
                (run_id,),
            ).fetchone()
            or ()
            for run_id in (dag_run.run_id, s.unchanged_report.run_id)
        )


def _count_unit_tests(s: Scenario) -> None:
    """dbt unit tests, and data tests tagged by_construction (canvass_progress's and
    int_canvass__bureau_day's), per build."""
    with psycopg.connect(s.url) as conn:
        for name, report in (("incremental", s.incremental_report), ("full", s.full_report)):
            (s.unit_tests[name], s.by_construction[name]) = conn.execute(
                "select count(*) filter (where resource_type = 'unit_test'), "
                "count(*) filter (where resource_type = 'test' and unique_id ~ "
                "'^test[.]scrutin[.]((non_decreasing|unique_combination_of_columns)_canvass_progress_"
                "|unique_combination_of_columns_int_canvass__bureau_day_)'"
                ") from ops.dbt_results where run_id = %s",
                (report.run_id,),
            ).fetchone()  # type: ignore[misc]


def _drop_new_knocks(url: str, drop: Path, tmp: Path) -> None:
    from ingestion.canvass.dropzone import process_drop_zone
    from ingestion.canvass.sample import DEFAULT_ANCHOR, bench_file
    from scrutin.campaign import demo_shift_today

    drop.mkdir(parents=True, exist_ok=True)
    path = bench_file(
        tmp / "qomon-incremental.csv", 400, seed=99, anchor=DEFAULT_ANCHOR + demo_shift_today()
    )
    shutil.copy(path, drop / path.name)
    results = process_drop_zone(url, drop)
    assert [r.outcome for r in results] == ["loaded"], results


def _refused_knock(s: Scenario, conn: psycopg.Connection) -> None:
    """4. A knock that a dbt test refuses (an answer on a closed door) lands as a new row (a row
    changed in place would force a full refresh: migration 0022); it is deleted afterwards."""
    from pipeline.gate import GateRefused, build_audit_publish, new_run_id
    from scripts.mart_fingerprint import fingerprint

    s.publications_before_refusal = _publications(conn)
    conn.execute(
        "create temp table refused as select * from raw.canvass_knocks "
        "where outcome = 'not_reached' limit 1"
    )
    conn.execute(
        "update refused set knock_id = knock_id || '-refused', "
        "wants_to_volunteer = true, line_no = (select max(line_no) + 1 "
        "from raw.canvass_knocks as k where k.batch_id = refused.batch_id)"
    )
    conn.execute("insert into raw.canvass_knocks select * from refused")
    try:
        build_audit_publish(s.url, new_run_id("refused"))
    except GateRefused as exc:
        s.refused = exc
    s.after_refusal = fingerprint(s.url)
    s.publications_after_refusal = _publications(conn)
    conn.execute("delete from raw.canvass_knocks where knock_id like '%-refused'")


@pytest.fixture(scope="module")
def scenario(airflow_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    from pipeline import build_plan
    from pipeline.demo import DEMO_DAGS, run_dag
    from pipeline.gate import build_audit_publish, new_run_id
    from pipeline.publish import rollback
    from scripts.mart_fingerprint import fingerprint

    url = fresh_warehouse(DB)
    drop = tmp_path_factory.mktemp("incremental-drop")
    tmp = tmp_path_factory.mktemp("incremental")
    patch = pytest.MonkeyPatch()
    for key, value in warehouse_environment(url).items():
        patch.setenv(key, value)
    patch.setenv("SCRUTIN_DEMO", "1")
    patch.setenv("SCRUTIN_CANVASS_DROP", str(drop))
    patch.setenv("SCRUTIN_DATA_DOCS_DIR", str(tmp / "data-docs"))
    patch.setenv("SCRUTIN_DBT_DOCS_DIR", str(tmp / "dbt-docs"))
    try:
        for dag_id in DEMO_DAGS:
            run_dag(dag_id)
        s = Scenario(url=url, first=fingerprint(url))
        from pipeline import gate

        real_import = gate.import_in_background

        def preload(modules: Any) -> Any:
            s.preloads.append(current_run)
            return real_import(modules)

        patch.setattr(gate, "import_in_background", preload)

        # 1. New knocks only: incremental.
        _drop_new_knocks(url, drop, tmp)
        current_run = "incremental"
        s.incremental_report = build_audit_publish(url, new_run_id("incr"))
        s.incremental = fingerprint(url)
        s.bi_counts = _bi_counts(url)
        current_run = "unchanged"
        _build_with_nothing_new(s)
        current_run = "later"
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "select check_summary from ops.publication_log where run_id = %s",
                (s.incremental_report.run_id,),
            ).fetchone()
            s.incremental_log = row[0] if row else {}
            # 2. Rollback.
            rollback(conn, new_run_id("rollback"))
        s.rolled_back = fingerprint(url)
        # 3. Full after the rollback: same data as the incremental publication.
        s.full_report = build_audit_publish(url, new_run_id("full"))
        s.full_after_rollback = fingerprint(url)
        _count_unit_tests(s)

        # 4. A knock that a dbt test refuses.
        with psycopg.connect(url, autocommit=True) as conn:
            _refused_knock(s, conn)
            # 5. Another source, then the campaign file: decided, not built.
            conn.execute("delete from raw.reu_bureaux where false")
            s.other_source_plan = build_plan.decide(conn)
        yield s
    finally:
        patch.undo()
        import os

        if not os.environ.get("SCRUTIN_KEEP_TEST_DB"):
            drop_warehouse(DB)


def _tables(fp: dict[str, str], names: set[str]) -> dict[str, str]:
    return {t: v for t, v in fp.items() if t in names}


def test_new_knocks_take_the_incremental_path(scenario: Scenario) -> None:
    report = scenario.incremental_report
    assert report.mode == "incremental"
    assert report.reason.startswith("only the canvass data changed since publication #1")
    log = scenario.incremental_log
    assert log["build_mode"] == "incremental"
    assert set(log["rebuilt_tables"]) == CANVASS_MARTS | SCORE_MARTS | MART_VIEWS
    assert "polling_station_results" in log["carried_tables"]
    assert log["ecological_fit_reused_from"]
    # The fit is the published one: the audit stage built the score marts beside the canvass
    # marts, and the scores stage only wrote the docs site (which reuses the audit stage's
    # parse of the dbt project: the same vars, pipeline.gate.build_vars); only the audit stage
    # parsed again, its vars having moved since the demo's full build.
    assert log["scores_built_in_audit_stage"] is True
    # Great Expectations was imported in the background while the dbt stages ran; a build
    # with nothing new starts no import (its stages return at once).
    assert scenario.preloads.count("incremental") == 1
    assert log["dbt_score_nodes"] == 0 and log["dbt_docs"]
    assert log["dbt_full_parse"] and "vars" in log["dbt_full_parse"]
    assert log["dbt_score_full_parse"] is None


def test_a_build_with_nothing_new_rebuilds_and_publishes_nothing(scenario: Scenario) -> None:
    report = scenario.unchanged_report
    assert report.mode == "unchanged"
    assert report.reason.startswith("nothing changed since publication #")
    assert (report.dbt_nodes, report.expectations, report.published_counts) == (0, 0, {})
    assert "unchanged" not in scenario.preloads
    assert scenario.publications[1] == scenario.publications[0]
    assert scenario.after_unchanged == scenario.incremental
    # both gate runs closed, not left running (each next build got the build lock)
    assert scenario.unchanged_gate == (("unchanged", [], True, "unchanged"),) * 2
    # the DAG skips its publication: no asset event for the BI refresh to react to
    states = dict(scenario.unchanged_tasks)
    assert states.pop("publish_mart").endswith("skipped"), scenario.unchanged_tasks
    assert all(state.endswith("success") for state in states.values()), states
    # the campaign report shows the checks of the run that published what it reads
    assert scenario.report_gate_run == scenario.incremental_report.run_id


def test_the_incremental_build_leaves_the_unit_tests_to_the_full_one(scenario: Scenario) -> None:
    """dbt unit tests read fixtures, not data: the incremental build (same code as the
    publication it starts from) skips them, a full build runs them all."""
    assert scenario.unit_tests["incremental"] == 0
    assert scenario.unit_tests["full"] >= 30
    # likewise the data tests that hold by construction (tag by_construction)
    assert scenario.by_construction == {"incremental": 0, "full": 6}


def test_the_incremental_build_publishes_the_new_knocks_and_keeps_the_rest(
    scenario: Scenario,
) -> None:
    assert set(scenario.incremental) == set(scenario.first)
    changed = {t for t in scenario.first if scenario.first[t] != scenario.incremental[t]}
    assert "canvass_progress" in changed
    assert changed <= CANVASS_MARTS | SCORE_MARTS


def test_a_full_build_of_the_same_data_publishes_the_same_tables(scenario: Scenario) -> None:
    assert scenario.full_report.mode == "full"
    assert "is a rollback" in scenario.full_report.reason
    assert scenario.full_after_rollback == scenario.incremental


def test_rollback_after_an_incremental_publication_restores_the_previous_mart(
    scenario: Scenario,
) -> None:
    assert scenario.rolled_back == scenario.first


def test_the_bi_role_reads_every_table_after_an_incremental_publication(
    scenario: Scenario,
) -> None:
    assert set(scenario.bi_counts) == set(scenario.incremental)
    for table in CANVASS_MARTS | SCORE_MARTS | {"polling_station_results"}:
        assert scenario.bi_counts[table] > 0, table


def test_a_refused_incremental_build_publishes_nothing(scenario: Scenario) -> None:
    assert scenario.refused is not None
    assert any(
        "assert_canvass_answers_only_on_conversations" in c for c in scenario.refused.failed_checks
    )
    assert scenario.after_refusal == scenario.full_after_rollback
    assert scenario.publications_after_refusal == scenario.publications_before_refusal
    with psycopg.connect(scenario.url) as conn:
        row = conn.execute(
            "select d.mode, g.status from ops.build_decisions as d "
            "join ops.gate_runs as g using (run_id) where d.run_id like 'refused%'"
        ).fetchone()
    assert row == ("incremental", "refused")


def test_another_source_or_the_campaign_file_takes_the_full_path(
    scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import build_plan
    from scrutin.campaign import campaign_config_path

    plan = scenario.other_source_plan
    assert plan.mode == "full"
    assert "raw.reu_bureaux" in plan.reason
    for key, value in warehouse_environment(scenario.url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SCRUTIN_DEMO", "1")
    edited = tmp_path / "campaign.yml"
    edited.write_text(
        campaign_config_path().read_text(encoding="utf-8").replace("k_min: 11", "k_min: 12"),
        encoding="utf-8",
    )
    monkeypatch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(edited))
    with psycopg.connect(scenario.url) as conn:
        plan = build_plan.decide(conn)
    assert plan.mode == "full"
    assert "campaign" in plan.reason.rsplit(": ", 1)[1].split(", ")
