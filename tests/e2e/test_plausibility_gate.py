"""Issue 14, "bad data the gate publishes", through the gate on the demo warehouse.

Each refusal changes raw rows of the demo, runs the gate (the whole `scrutin build` for the dbt
checks, the expectations stage alone for the raw suites), restores the rows, and checks that
every published table is byte-identical (scripts/mart_fingerprint.py). Which check refuses which
row in detail: tests/integration/test_dbt_plausibility.py, test_expectations.py and
test_census_expectations.py; the rules: docs/quality.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from tests.crafted_results import add_bureau_of_unknown_commune, remove_bureau
from tests.e2e.conftest import DemoWarehouse

pytestmark = [pytest.mark.db, pytest.mark.slow]

LOST = ("29019_0051", "29019_0052")  # two bureaux of round 1 that a cut file no longer holds


@pytest.fixture
def conn(demo_warehouse: DemoWarehouse) -> Iterator[psycopg.Connection]:
    with psycopg.connect(demo_warehouse.url, autocommit=True) as c:
        yield c


@pytest.fixture
def unchanged_mart(demo_warehouse: DemoWarehouse) -> Iterator[None]:
    from scripts.mart_fingerprint import fingerprint

    before = fingerprint(demo_warehouse.url)
    yield
    assert fingerprint(demo_warehouse.url) == before, "mart changed after a refusal"


@pytest.mark.leaves_demo_intermediates_stale
def test_scrutin_build_refuses_lost_bureaux_and_an_unknown_commune(
    demo_env: DemoWarehouse,
    conn: psycopg.Connection,
    unchanged_mart: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An election published with 201 bureaux now has 199 (its file was cut), and round 2 has
    a bureau of commune 29999, which the demo's REU, census and contours do not know: one
    `scrutin build`, exit 2, both checks named with what to do, nothing published."""
    from pipeline import exit_codes
    from pipeline.cli import main

    lost = ", ".join(f"'{b}'" for b in LOST)
    conn.execute("create schema if not exists plausibility_saved")
    for table in ("election_results_bureau", "election_results_candidate"):
        conn.execute(
            f"create table plausibility_saved.{table} as select * from raw.{table} "
            f"where election_id = '2024_legi_t1' and bureau_id in ({lost})"
        )
        conn.execute(
            f"delete from raw.{table} where election_id = '2024_legi_t1' and bureau_id in ({lost})"
        )
    unknown = add_bureau_of_unknown_commune(conn, "2024_legi_t2", like_bureau="29019_0001")
    try:
        code = main(["build", "--run-id", "test-plausibility-build", "--json"])
        out, err = capsys.readouterr()
    finally:
        for table in ("election_results_bureau", "election_results_candidate"):
            conn.execute(f"insert into raw.{table} select * from plausibility_saved.{table}")
        conn.execute("drop schema plausibility_saved cascade")
        remove_bureau(conn, "2024_legi_t2", unknown)
        # The refused run built mart_audit and the intermediate tables from the broken rows: no
        # later stage may audit or publish them (the marker runs this test after the others).
        conn.execute("drop schema if exists mart_audit cascade")
    assert code == exit_codes.GATE_REFUSED, err
    refusal = json.loads(out.strip().splitlines()[-1])
    assert refusal["status"] == "refused" and refusal["stage"] == "dbt build"
    checks = refusal["failed_checks"]
    assert any("assert_published_elections_keep_their_bureaux" in c for c in checks), checks
    assert any("assert_bureau_communes_are_known_to_the_reference" in c for c in checks), checks
    volume = [c for c in checks if c.startswith("volume: ")]
    assert volume == [
        "volume: election 2024_legi_t1 lost 2 of its 201 published bureaux (first: "
        "29019_0051, 29019_0052); a truncated or wrong results file? If the loss is a "
        "legitimate correction: scrutin build --accept-bureau-loss 2024_legi_t1"
    ]
    assert "publication refused at stage 'dbt build'" in err and "volume: election" in err
    gate = conn.execute(
        "select status, failed_checks from ops.gate_runs where run_id = 'test-plausibility-build'"
    ).fetchone()
    assert gate is not None and gate[0] == "refused" and gate[1] == checks
    refused = conn.execute(
        "select code_commune, elections from ops.assert_bureau_communes_are_known_to_the_reference"
    ).fetchall()
    assert refused == [("29999", "2024_legi_t2")]


def test_the_expectations_stage_refuses_an_impossible_census_value_and_an_empty_bureau(
    demo_warehouse: DemoWarehouse, conn: psycopg.Connection, unchanged_mart: None
) -> None:
    """The probe's census value of 1e308 was published; so was a bureau with 0 registered."""
    from expectations.suites import REGISTERED_LABEL
    from expectations.suites_census import COUNT_BOUND_LABEL
    from pipeline.build_lock import owning_build
    from pipeline.gate import GateRefused, validate_audit

    value = conn.execute(
        "select batch_id, code_iris, indicator, value from raw.census_iris_values "
        "where prefix = 'P' and value > 0 order by code_iris, indicator limit 1"
    ).fetchone()
    assert value is not None
    batch, iris, indicator, original = value
    where_value = (
        f"batch_id = {batch} and code_iris = '{iris}' and prefix = 'P' "
        f"and indicator = '{indicator}'"
    )
    bureau = "election_id = '2024_legi_t1' and bureau_id = '29019_0010'"
    registered = conn.execute(
        "select inscrits from raw.election_results_bureau where " + bureau
    ).fetchone()
    assert registered is not None
    conn.execute(f"update raw.census_iris_values set value = 1e308 where {where_value}")
    # (votants > inscrits is refused too, by a check of its own)
    conn.execute(f"update raw.election_results_bureau set inscrits = 0 where {bureau}")
    try:
        with (
            owning_build(demo_warehouse.url, "test-plausibility-gx"),
            pytest.raises(GateRefused) as refused,
        ):
            validate_audit(demo_warehouse.url, "test-plausibility-gx")
    finally:
        conn.execute(f"update raw.census_iris_values set value = {original} where {where_value}")
        conn.execute(
            f"update raw.election_results_bureau set inscrits = {registered[0]} where {bureau}"
        )
    failed = refused.value.failed_checks
    census = [c for c in failed if f"[{COUNT_BOUND_LABEL}]" in c]
    assert len(census) == 1 and census[0].startswith("raw_census_values: ") and iris in census[0]
    empty = [c for c in failed if f"[{REGISTERED_LABEL}]" in c]
    assert len(empty) == 1 and "29019_0010" in empty[0]
