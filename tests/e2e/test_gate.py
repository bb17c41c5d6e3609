"""The audit gate end to end on the real Brest 2024 files: publish on green, refuse on red.

Runs the same code as `scrutin build` and the `build_audit_publish` DAG: real dbt, real GX,
real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from ingestion.loaders.elections import load_results_file
from pipeline.gate import GateRefused, build_audit_publish
from tests.conftest import TOUR1, TOUR2

pytestmark = [pytest.mark.db, pytest.mark.slow]

MART_FINGERPRINT = (
    "select count(*), md5(string_agg(t::text, '|' order by election_id, bureau_id)) "
    "from mart.polling_station_results t"
)


@pytest.fixture(scope="module")
def published(warehouse_url: str) -> str:
    load_results_file(warehouse_url, TOUR1, "2024_legi_t1")
    load_results_file(warehouse_url, TOUR2, "2024_legi_t2")
    report = build_audit_publish(warehouse_url, "test-gate-green")
    assert report.published_counts["polling_station_results"] == 402
    return warehouse_url


def test_published_mart_has_exact_real_totals(published: str, conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select election_id, count(*), count(distinct code_commune), sum(registered), "
        "sum(voters), sum(abstentions), sum(valid_votes), sum(blank_votes), sum(null_votes) "
        "from mart.polling_station_results group by election_id order by election_id"
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


def test_published_nuance_votes_match_candidate_totals(
    published: str, conn: psycopg.Connection
) -> None:
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


def test_publication_is_logged_with_checks(published: str, conn: psycopg.Connection) -> None:
    log = conn.execute(
        "select action, row_counts->>'polling_station_results', check_summary "
        "from ops.publication_log where run_id = 'test-gate-green'"
    ).fetchone()
    assert log is not None
    assert log[0] == "publish"
    assert log[1] == "402"
    assert log[2]["dbt_nodes"] > 10 and log[2]["expectations"] > 10
    gate = conn.execute(
        "select status, failed_checks from ops.gate_runs where run_id = 'test-gate-green'"
    ).fetchone()
    assert gate == ("passed", [])
    n_dbt = conn.execute(
        "select count(*) from ops.dbt_results where run_id = 'test-gate-green'"
    ).fetchone()
    assert n_dbt is not None and n_dbt[0] > 10


@pytest.fixture
def fingerprint(published: str, conn: psycopg.Connection) -> Iterator[tuple[object, ...]]:
    before = conn.execute(MART_FINGERPRINT).fetchone()
    assert before is not None and before[0] == 402
    yield tuple(before)
    assert conn.execute(MART_FINGERPRINT).fetchone() == before, "mart changed after a refusal"


def _loaded_batch(conn: psycopg.Connection, election_id: str) -> int:
    row = conn.execute(
        "select batch_id from raw.batch_ledger where dataset_key = %s and status = 'loaded'",
        (election_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_gate_refuses_a_bureau_with_more_voters_than_registered(
    published: str, conn: psycopg.Connection, fingerprint: tuple[object, ...]
) -> None:
    batch = _loaded_batch(conn, "2024_legi_t1")
    conn.execute(
        "update raw.election_results_bureau set votants = inscrits + 50 "
        "where election_id = '2024_legi_t1' and bureau_id = '29019_0001' and batch_id = %s",
        (batch,),
    )
    try:
        with pytest.raises(GateRefused) as refused:
            build_audit_publish(published, "test-gate-red-dbt")
        assert refused.value.stage == "dbt build"
        assert any("voters__registered" in c for c in refused.value.failed_checks)
        status = conn.execute(
            "select status from ops.gate_runs where run_id = 'test-gate-red-dbt'"
        ).fetchone()
        assert status == ("refused",)
        published_runs = conn.execute(
            "select count(*) from ops.publication_log where run_id = 'test-gate-red-dbt'"
        ).fetchone()
        assert published_runs == (0,)
    finally:
        conn.execute(
            "update raw.election_results_bureau set votants = inscrits - abstentions "
            "where election_id = '2024_legi_t1' and bureau_id = '29019_0001'"
        )


def test_gate_refuses_candidate_votes_not_adding_up(
    published: str, conn: psycopg.Connection, fingerprint: tuple[object, ...]
) -> None:
    conn.execute(
        "update raw.election_results_candidate set voix = voix + 7 "
        "where election_id = '2024_legi_t2' and bureau_id = '29019_0042' and numero_panneau = ("
        "  select min(numero_panneau) from raw.election_results_candidate "
        "  where election_id = '2024_legi_t2' and bureau_id = '29019_0042')"
    )
    try:
        with pytest.raises(GateRefused) as refused:
            build_audit_publish(published, "test-gate-red-sum")
        assert "refused" in str(refused.value)
    finally:
        conn.execute(
            "update raw.election_results_candidate set voix = voix - 7 "
            "where election_id = '2024_legi_t2' and bureau_id = '29019_0042' and numero_panneau = ("
            "  select min(numero_panneau) from raw.election_results_candidate "
            "  where election_id = '2024_legi_t2' and bureau_id = '29019_0042')"
        )


def test_expectations_alone_can_refuse(
    published: str, conn: psycopg.Connection, fingerprint: tuple[object, ...]
) -> None:
    """votants = exprimés + blancs + nuls is only a dbt warning but a GX circuit breaker."""
    conn.execute(
        "update raw.election_results_bureau set nuls = nuls + 1 "
        "where election_id = '2024_legi_t1' and bureau_id = '29019_0010'"
    )
    try:
        with pytest.raises(GateRefused) as refused:
            build_audit_publish(published, "test-gate-red-gx")
        assert refused.value.stage == "expectations"
        assert any("raw_election_results" in c for c in refused.value.failed_checks)
        dbt_failures = conn.execute(
            "select count(*) from ops.dbt_results where run_id = 'test-gate-red-gx' "
            "and status in ('fail', 'error')"
        ).fetchone()
        assert dbt_failures == (0,)
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


def test_gate_passes_again_once_the_data_are_fixed(published: str) -> None:
    report = build_audit_publish(published, "test-gate-green-again")
    assert report.published_counts["polling_station_results"] == 402
