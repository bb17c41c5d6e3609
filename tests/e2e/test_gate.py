"""The audit gate end to end on the demo warehouse: what it published, and what a refusal leaves.

The demo's DAGs (tests/e2e/conftest.py) loaded the real Brest 2024 legislative files with the
rest of the sample and published through `build_audit_publish`: real dbt, real GX, real
PostgreSQL. A refusal is shown once through the DAG (the dbt stage refuses) and once at the
expectations stage alone; each changes raw rows, restores them, and leaves `mart` byte-identical.
Which dbt test refuses which broken bureau is shown without a gate run, in
tests/integration/test_dbt_models.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.conftest import DemoWarehouse, assert_demo_baseline

pytestmark = [pytest.mark.db, pytest.mark.slow]

MART_FINGERPRINT = (
    "select count(*), md5(string_agg(t::text, '|' order by election_id, bureau_id)) "
    "from mart.polling_station_results t"
)


@pytest.fixture
def conn(demo_warehouse: DemoWarehouse) -> Iterator[psycopg.Connection]:
    with psycopg.connect(demo_warehouse.url, autocommit=True) as c:
        yield c


def test_published_mart_has_exact_real_totals(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select election_id, count(*), count(distinct code_commune), sum(registered), "
        "sum(voters), sum(abstentions), sum(valid_votes), sum(blank_votes), sum(null_votes) "
        "from mart.polling_station_results where election_id like '2024_legi_t_' "
        "group by election_id order by election_id"
    ).fetchall()
    assert rows == [
        ("2024_legi_t1", 201, 35, 172019, 123580, 48439, 120586, 2580, 414),
        ("2024_legi_t2", 201, 35, 172053, 123363, 48690, 118213, 4625, 525),
    ]
    brest = conn.execute(
        "select count(*), sum(registered), sum(voters), sum(valid_votes) "
        "from mart.polling_station_results "
        "where election_id = '2024_legi_t1' and code_commune = '29019'"
    ).fetchone()
    assert brest == (104, 85102, 57974, 56519)


def test_published_nuance_votes_match_candidate_totals(conn: psycopg.Connection) -> None:
    rows = dict(
        conn.execute(
            "select nuance, sum(votes) from mart.polling_station_nuance_votes "
            "where election_id = '2024_legi_t1' group by nuance"
        ).fetchall()
    )
    # README 1.1: UG = CADALEN 18 850 + SMOLARZ 18 074; RN = KERVELLA 12 065 + DONVAL 18 627.
    assert rows["UG"] == 18850 + 18074
    assert rows["RN"] == 12065 + 18627
    assert rows["ENS"] == 9105 + 26139
    assert sum(rows.values()) == 120586


def test_publication_is_logged_with_checks(
    conn: psycopg.Connection, demo_warehouse: DemoWarehouse
) -> None:
    run_id = demo_warehouse.run_id
    log = conn.execute(
        "select action, row_counts->>'polling_station_results', check_summary "
        "from ops.publication_log where run_id = %s",
        (run_id,),
    ).fetchone()
    assert log is not None
    assert log[0] == "publish"
    assert log[1] == "882"  # 4 elections x 201 bureaux + Brest's 78 of 2022
    assert log[2]["dbt_nodes"] > 10 and log[2]["expectations"] > 10
    # The raw suites' Checkpoints built their Data Docs, and the publication says where.
    index = Path(log[2]["data_docs"])
    # The site's index lists the latest run's suites (later tests of this tier run others); the
    # pages of the suites the gate ran stay in the site (checked below, once `raw` is read).
    assert index.name == "index.html" and index.is_file()
    suites = conn.execute(
        "select suite, bool_and(success) from ops.quality_results where run_id = %s group by suite",
        (run_id,),
    ).fetchall()
    assert all(ok for _, ok in suites)
    # Issue 15: a raw suite runs once per change of its tables. The ingestion DAGs validated
    # what they loaded; the gate ran only the suites whose tables moved since (the map shapes it
    # computes), and reused the others' passed validations, each named in the publication log.
    raw = log[2]["raw_suites"]
    assert "raw_election_results" in raw["reused"]
    assert {"raw_election_results", "audit_polling_station_targeting"} <= {
        *(s for s, _ in suites),
        *raw["reused"],
    }
    for suite, validated_by in raw["reused"].items():
        assert validated_by != run_id
        assert conn.execute(
            "select success from ops.raw_validations where suite = %s and run_id = %s",
            (suite, validated_by),
        ).fetchone() == (True,), suite
    assert set(raw["ran"]) == {s for s, _ in suites if s.startswith("raw_")}
    for suite in raw["ran"]:
        assert (index.parent / "expectations" / f"{suite}.html").is_file(), suite
    from expectations.registry import raw_suite_names

    assert {*raw["ran"], *raw["reused"]} == set(raw_suite_names())
    gate = conn.execute(
        "select status, failed_checks from ops.gate_runs where run_id = %s", (run_id,)
    ).fetchone()
    assert gate == ("passed", [])
    n_dbt = conn.execute(
        "select count(*) from ops.dbt_results where run_id = %s", (run_id,)
    ).fetchone()
    assert n_dbt is not None and n_dbt[0] > 10


def test_the_published_mart_is_the_demo_baseline(demo_warehouse: DemoWarehouse) -> None:
    """Every published table, to 9 decimals, equals the demo's before the one-house restructure.

    A change of a published figure must be deliberate: regenerate the baseline with
    `scripts/mart_fingerprint.py --write` and say why in the commit.
    """
    assert_demo_baseline(demo_warehouse.url)


@pytest.fixture
def unchanged_mart(conn: psycopg.Connection) -> Iterator[None]:
    before = conn.execute(MART_FINGERPRINT).fetchone()
    assert before is not None and before[0] == 882
    yield
    assert conn.execute(MART_FINGERPRINT).fetchone() == before, "mart changed after a refusal"


def _task_states(dag_run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}


@pytest.mark.leaves_demo_intermediates_stale
def test_the_build_dag_refuses_more_voters_than_registered_and_keeps_mart(
    demo_env: DemoWarehouse, conn: psycopg.Connection, unchanged_mart: None
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from scrutin.config import DAGS_DIR

    conn.execute(
        "update raw.election_results_bureau set votants = inscrits + 50 "
        "where election_id = '2024_legi_t1' and bureau_id = '29019_0001'"
    )
    try:
        run = DagBag(dag_folder=str(DAGS_DIR)).get_dag("build_audit_publish").test()
        assert str(run.state).endswith("failed")
        states = _task_states(run)
        assert states["dbt_build_audit_schema"].endswith("failed"), states
        assert not states["publish_mart"].endswith("success"), states
        gate = conn.execute(
            "select status, failed_checks from ops.gate_runs where run_id = %s", (run.run_id,)
        ).fetchone()
        assert gate is not None and gate[0] == "refused"
        assert any("voters__registered" in c for c in gate[1]), gate[1]
        published = conn.execute(
            "select count(*) from ops.publication_log where run_id = %s", (run.run_id,)
        ).fetchone()
        assert published == (0,)
    finally:
        conn.execute(
            "update raw.election_results_bureau set votants = inscrits - abstentions "
            "where election_id = '2024_legi_t1' and bureau_id = '29019_0001'"
        )
        # The refused run left `mart_audit` (and the intermediate tables) built from the broken
        # row: no later stage may audit or publish it (the next gate run rebuilds it from the
        # repaired data). The marker runs this test after every other e2e test.
        conn.execute("drop schema if exists mart_audit cascade")


def test_expectations_alone_can_refuse(
    demo_warehouse: DemoWarehouse, conn: psycopg.Connection, unchanged_mart: None
) -> None:
    """votants = exprimés + blancs + nuls is only a dbt warning but a GX circuit breaker."""
    from pipeline.build_lock import owning_build
    from pipeline.gate import GateRefused, validate_audit

    conn.execute(
        "update raw.election_results_bureau set nuls = nuls + 1 "
        "where election_id = '2024_legi_t1' and bureau_id = '29019_0010'"
    )
    try:
        with (
            owning_build(demo_warehouse.url, "test-gate-red-gx"),
            pytest.raises(GateRefused) as refused,
        ):
            validate_audit(demo_warehouse.url, "test-gate-red-gx")
        assert refused.value.stage == "expectations"
        (raw,) = (c for c in refused.value.failed_checks if c.startswith("raw_"))
        assert raw.startswith("raw_election_results: unexpected_rows_expectation(")
        assert "[votants = exprimes + blancs + nuls]" in raw and "29019_0010" in raw
        failed_gx = conn.execute(
            "select count(*) from ops.quality_results where run_id = 'test-gate-red-gx' "
            "and not success and severity = 'fail'"
        ).fetchone()
        assert failed_gx is not None and failed_gx[0] >= 1
    finally:
        conn.execute(
            "update raw.election_results_bureau set nuls = nuls - 1 "
            "where election_id = '2024_legi_t1' and bureau_id = '29019_0010'"
        )


def test_candidate_votes_not_adding_up_are_refused_by_the_raw_checkpoint(
    demo_warehouse: DemoWarehouse, conn: psycopg.Connection
) -> None:
    """The raw suite's Checkpoint alone (what the ingestion DAG runs) names the bureau."""
    from expectations.checkpoint import run_suites

    where = (
        "election_id = '2024_legi_t2' and bureau_id = '29019_0042' and numero_panneau = ("
        "  select min(numero_panneau) from raw.election_results_candidate "
        "  where election_id = '2024_legi_t2' and bureau_id = '29019_0042')"
    )
    conn.execute(f"update raw.election_results_candidate set voix = voix + 7 where {where}")
    try:
        outcome = run_suites(demo_warehouse.url, ["raw_election_candidates"], "test-gate-red-sum")
    finally:
        conn.execute(f"update raw.election_results_candidate set voix = voix - 7 where {where}")
    (failure,) = outcome.failed_checks
    assert "sum(voix) per (election_id, bureau_id) = exprimes of the bureau" in failure
    assert '"bureau_id": "29019_0042"' in failure
