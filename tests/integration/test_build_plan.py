"""How a build decides between full, incremental and unchanged, against the last PUBLISHED
build's inputs, and how an incremental build carries the unchanged published tables into
`mart_audit`.

No dbt here: the publication log and the decisions are written as the gate writes them; the
whole gate on an incremental path is tests/e2e/test_incremental_build.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from pipeline import build_plan
from pipeline.build_plan import FULL, INCREMENTAL, UNCHANGED

pytestmark = pytest.mark.db


def _publish(conn: psycopg.Connection, run_id: str, action: str = "publish") -> None:
    conn.execute(
        "insert into ops.publication_log (run_id, action, row_counts, check_summary) "
        "values (%s, %s, '{}', '{}')",
        (run_id, action),
    )


def _decide_and_record(conn: psycopg.Connection, run_id: str) -> build_plan.BuildPlan:
    plan = build_plan.decide(conn)
    build_plan.record(conn, run_id, plan)
    return plan


@pytest.fixture
def conn() -> Iterator[psycopg.Connection]:
    """A warehouse of this module's own, fresh for each test (publication log included)."""
    from scrutin.db import connect
    from tests.conftest import TEST_DB, fresh_warehouse

    with connect(fresh_warehouse(f"{TEST_DB}_build_plan"), autocommit=True) as c:
        yield c


@pytest.fixture
def published(conn: psycopg.Connection) -> psycopg.Connection:
    """A warehouse whose last publication is run `r1`, with a `mart` of one table."""
    conn.execute("drop schema if exists mart cascade")
    conn.execute("create schema mart")
    conn.execute("create table mart.probe (x int)")
    first = _decide_and_record(conn, "r1")
    assert (first.mode, first.reason) == (FULL, "no publication yet")
    _publish(conn, "r1")
    return conn


def _write(conn: psycopg.Connection, table: str) -> None:
    """A statement on a raw table: its write trigger (migrations 0015/0018) counts it."""
    conn.execute(f"delete from {table} where false")


def test_a_knock_load_alone_is_incremental_and_recorded(published: psycopg.Connection) -> None:
    conn = published
    _write(conn, "raw.canvass_knocks")
    _write(conn, "ops.canvass_campaigns")
    plan = _decide_and_record(conn, "r2")
    assert plan.mode == INCREMENTAL
    assert plan.selection == "source:canvass+"
    assert plan.changed == ["ops.canvass_campaigns", "raw.canvass_knocks"]
    assert "only the canvass data changed since publication #" in plan.reason
    row = conn.execute(
        "select mode, reason, baseline_run, changed from ops.build_decisions where run_id = 'r2'"
    ).fetchone()
    assert row == (INCREMENTAL, plan.reason, "r1", plan.changed)


def test_nothing_new_is_unchanged_and_recorded(published: psycopg.Connection) -> None:
    plan = _decide_and_record(published, "r2")
    assert (plan.mode, plan.selection, plan.changed) == (UNCHANGED, None, [])
    assert plan.reason.startswith("nothing changed since publication #")
    assert plan.reason.endswith("(run r1): `mart` already is what these inputs give")
    row = published.execute(
        "select mode, baseline_run from ops.build_decisions where run_id = 'r2'"
    ).fetchone()
    assert row == (UNCHANGED, "r1")
    # An unchanged build publishes nothing: the next one still compares with r1's inputs.
    _write(published, "raw.canvass_knocks")
    assert build_plan.decide(published).mode == INCREMENTAL


@pytest.mark.parametrize(
    "table", ["raw.reu_bureaux", "raw.election_results_bureau", "scores.backtest_runs"]
)
def test_another_source_forces_a_full_refresh(published: psycopg.Connection, table: str) -> None:
    _write(published, "raw.canvass_knocks")
    _write(published, table)
    plan = build_plan.decide(published)
    assert plan.mode == FULL
    assert plan.reason.endswith(f"(run r1): {table}")


@pytest.mark.parametrize(
    "statement",
    ["update raw.canvass_knocks set line_no = line_no where false", "truncate raw.canvass_knocks"],
)
def test_knocks_changed_in_place_force_a_full_refresh(
    published: psycopg.Connection, statement: str
) -> None:
    # The canvass intermediate tables are incremental for knocks added or deleted only
    # (migration 0022): a row changed in place would keep its stale bureau match.
    _write(published, "raw.canvass_knocks")  # a load or a purge: incremental
    assert build_plan.decide(published).mode == INCREMENTAL
    published.execute(statement)
    plan = build_plan.decide(published)
    assert plan.mode == FULL
    assert plan.reason.endswith("(run r1): rewrites:raw.canvass_knocks")


def test_the_loaders_upserts_stay_canvass_changes(published: psycopg.Connection) -> None:
    # The loader upserts the campaign registry and the opposition list: UPDATEs of tables that
    # every build reads whole.
    published.execute("update ops.canvass_campaigns set k_min = k_min where false")
    published.execute("update raw.canvass_suppression set building_key = building_key where false")
    assert build_plan.decide(published).mode == INCREMENTAL


def test_a_ledger_row_of_another_source_forces_a_full_refresh(
    published: psycopg.Connection,
) -> None:
    published.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, status) "
        "values ('census', 'x.csv', 'abc', 'loaded'), ('canvass', 'k.csv', 'def', 'loaded')"
    )
    plan = build_plan.decide(published)
    assert (plan.mode, plan.reason.rsplit(": ", 1)[1]) == (FULL, "ledger:census")


def test_a_skipped_file_in_the_ledger_changes_nothing(published: psycopg.Connection) -> None:
    published.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, status) "
        "values ('census', 'x.csv', 'abc', 'skipped')"
    )
    assert build_plan.decide(published).mode == UNCHANGED


def test_a_campaign_file_change_forces_a_full_refresh(
    published: psycopg.Connection, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scrutin.campaign import campaign_config_path

    changed = tmp_path / "campaign.yml"
    changed.write_text(
        campaign_config_path().read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8"
    )
    monkeypatch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(changed))
    plan = build_plan.decide(published)
    assert plan.mode == FULL
    assert plan.reason.endswith("(run r1): campaign")


def test_a_code_change_forces_a_full_refresh(
    published: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build_plan, "code_digest", lambda: "another checkout")
    plan = build_plan.decide(published)
    assert plan.mode == FULL
    assert plan.reason.endswith("(run r1): code")


def test_a_refused_build_on_other_inputs_forces_a_full_refresh(
    published: psycopg.Connection, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build refused under an edited campaign file rebuilt the intermediate tables: once the
    file is back as published, the inputs match the publication's again, but the tables that
    build left behind are not the publication's, so the next build is full."""
    from scrutin.campaign import campaign_config_path

    conn = published
    edited = tmp_path / "campaign.yml"
    edited.write_text(
        campaign_config_path().read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8"
    )
    with monkeypatch.context() as patch:
        patch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(edited))
        assert _decide_and_record(conn, "r2-refused").mode == FULL
    _write(conn, "raw.canvass_knocks")
    plan = build_plan.decide(conn)
    assert plan.mode == FULL
    assert plan.reason.startswith("build r2-refused since publication #")
    assert "(campaign)" in plan.reason
    # Once a build on the published inputs is published, knocks are incremental again.
    assert _decide_and_record(conn, "r3").mode == FULL
    _publish(conn, "r3")
    _write(conn, "raw.canvass_knocks")
    assert build_plan.decide(conn).mode == INCREMENTAL


def test_a_rollback_forces_a_full_refresh(published: psycopg.Connection) -> None:
    _publish(published, "rb", action="rollback")
    plan = build_plan.decide(published)
    assert plan.mode == FULL
    assert "is a rollback" in plan.reason


def test_full_when_asked_or_unrecorded(published: psycopg.Connection) -> None:
    plan = build_plan.decide(published, full_reason="a full refresh was asked (--full)")
    assert (plan.mode, plan.reason) == (FULL, "a full refresh was asked (--full)")
    _publish(published, "by-hand")
    assert "recorded no inputs" in build_plan.decide(published).reason


def test_untracked_raw_table_is_never_trusted(published: psycopg.Connection) -> None:
    published.execute("create table raw.incremental_probe (x int)")
    plan = build_plan.decide(published)
    assert plan.mode == FULL
    assert "untracked:raw.incremental_probe" in plan.reason


def test_carry_copies_unrebuilt_tables_with_indexes_comments_and_campaign_rows(
    published: psycopg.Connection,
) -> None:
    conn = published
    conn.execute("drop schema if exists mart cascade")
    conn.execute("create schema mart")
    conn.execute("create table mart.stations (bureau_id text primary key, n int not null)")
    conn.execute("create index stations_n on mart.stations (n)")
    conn.execute("comment on table mart.stations is 'one row per bureau'")
    conn.execute("comment on column mart.stations.n is 'a count'")
    conn.execute("insert into mart.stations values ('29019_0001', 1), ('29019_0002', 2)")
    conn.execute("create table mart.plan (campaign_id text, bureau_id text)")
    conn.execute("insert into mart.plan values ('ours', 'a'), ('theirs', 'b')")
    conn.execute("create table mart.rebuilt (x int)")
    conn.execute("create schema if not exists mart_audit")
    conn.execute("create table if not exists mart_audit.left_by_a_refused_build (x int)")

    carried = build_plan.carry_published_tables(conn, ["rebuilt"], "ours")

    assert carried == ["plan", "stations"]
    tables = conn.execute(
        "select tablename from pg_tables where schemaname = 'mart_audit' order by 1"
    ).fetchall()
    assert tables == [("plan",), ("stations",)]
    assert conn.execute("select * from mart_audit.plan").fetchall() == [("ours", "a")]
    assert conn.execute("select count(*) from mart_audit.stations").fetchone() == (2,)
    indexes = conn.execute(
        "select indexdef from pg_indexes where schemaname = 'mart_audit' order by 1"
    ).fetchall()
    assert len(indexes) == 2  # the primary key and stations_n
    assert conn.execute(
        "select obj_description('mart_audit.stations'::regclass, 'pg_class'), "
        "col_description('mart_audit.stations'::regclass, 2)"
    ).fetchone() == ("one row per bureau", "a count")


def test_a_materialized_view_in_mart_forces_a_full_refresh(
    published: psycopg.Connection,
) -> None:
    published.execute("create materialized view mart.probe_view as select * from mart.probe")
    plan = build_plan.decide(published)
    assert plan.mode == FULL
    assert plan.reason == "`mart` holds relations that are neither tables nor views (probe_view)"


def test_publication_of_an_incremental_build_refuses_a_missing_table(
    published: psycopg.Connection,
) -> None:
    from pipeline.gate import inputs_unmoved
    from pipeline.publish import PublicationError, publish

    conn = published
    conn.execute("create view mart.probe_view as select * from mart.probe")
    conn.execute("drop schema if exists mart_audit cascade")
    conn.execute("create schema mart_audit")
    conn.execute("create table mart_audit.probe (x int)")
    with pytest.raises(PublicationError, match="lacks published tables probe_view"):
        publish(conn, "r2", {"build_mode": "incremental"}, before_swap=inputs_unmoved("r2"))
    assert conn.execute("select count(*) from ops.publication_log").fetchone() == (1,)
    assert conn.execute("select to_regclass('mart.probe_view') is not null").fetchone() == (True,)


def test_an_incremental_build_refits_when_the_stored_predictions_are_not_the_published_ones(
    conn: psycopg.Connection,
) -> None:
    """The stored predictions are overwritten by every fit, a refused build's included: an
    incremental build reuses them only when they are the fit the published scores name."""
    from pipeline.gate import _predictions_are_published
    from scrutin.campaign import load_campaign

    campaign = load_campaign().campaign_id
    conn.execute("create schema if not exists mart")
    conn.execute("drop table if exists mart.polling_station_targeting")
    conn.execute(
        "create table mart.polling_station_targeting (campaign_id text, bureau_id text, "
        "ecological_fit_run_id text)"
    )
    conn.execute("delete from scores.ecological_predictions")
    conn.execute(
        "insert into mart.polling_station_targeting values "
        "(%s, '29019_0001', 'published-run'), ('other', '29019_0001', 'other-run')",
        (campaign,),
    )
    conn.execute(
        "insert into scores.ecological_predictions values ('29019_0001', 0.4, %s)",
        ("published-run",),
    )
    assert _predictions_are_published(conn)
    # A later build fitted again and was refused: its predictions are not the published ones.
    conn.execute("update scores.ecological_predictions set fit_run_id = 'refused-run'")
    assert not _predictions_are_published(conn)
    conn.execute("drop table mart.polling_station_targeting")


def test_the_scores_stage_knows_when_stage_1_built_the_score_marts(
    conn: psycopg.Connection,
) -> None:
    """Stage 3 (and stage 2's reuse of the fit) rely on the run's own dbt results: the score
    marts count as built only when this run recorded their model as a success."""
    from pipeline.gate import SCORES_SENTINEL, _scores_built

    conn.execute("delete from ops.dbt_results where run_id like 'scores-built-%'")
    rows = [
        ("scores-built-a", SCORES_SENTINEL, "model", "success"),
        ("scores-built-b", "model.scrutin.canvass_progress", "model", "success"),
        ("scores-built-c", SCORES_SENTINEL, "model", "error"),
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "insert into ops.dbt_results (run_id, unique_id, resource_type, status) "
            "values (%s, %s, %s, %s)",
            rows,
        )
    assert _scores_built(conn, "scores-built-a")
    assert not _scores_built(conn, "scores-built-b")  # only the canvass marts
    assert not _scores_built(conn, "scores-built-c")  # a failed score build
    assert not _scores_built(conn, "scores-built-d")  # another run
    conn.execute("delete from ops.dbt_results where run_id like 'scores-built-%'")


def test_a_source_loaded_during_an_incremental_build_stops_its_publication(
    published: psycopg.Connection,
) -> None:
    """Loaders do not wait for the build lock: a REU load committed while an incremental build
    ran would be published beside tables carried from before it. Knocks landing meanwhile are
    fine (the next build takes them)."""
    from pipeline.gate import inputs_unmoved
    from pipeline.publish import PublicationError, publish

    conn = published
    _write(conn, "raw.canvass_knocks")
    assert _decide_and_record(conn, "r2").mode == INCREMENTAL
    _write(conn, "raw.canvass_knocks")
    assert build_plan.moved_since_decision(conn, "r2") == []
    _write(conn, "raw.reu_bureaux")
    assert build_plan.moved_since_decision(conn, "r2") == ["raw.reu_bureaux"]
    conn.execute("drop schema if exists mart_audit cascade")
    conn.execute("create schema mart_audit")
    conn.execute("create table mart_audit.probe (x int)")
    conn.execute("insert into mart_audit.probe values (1)")
    with pytest.raises(
        PublicationError, match=r"changed while incremental build r2 ran \(raw.reu_bureaux\)"
    ):
        publish(conn, "r2", {"build_mode": "incremental"}, before_swap=inputs_unmoved("r2"))
    assert conn.execute("select count(*) from mart.probe").fetchone() == (0,)
