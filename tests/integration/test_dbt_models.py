"""The dbt project end to end: real PostgreSQL, real `dbt build` through pipeline.dbt_runner.

Hand-made raw rows (elections `2099_unit_*`, values computed by hand below) go through staging,
intermediate and the marts in `mart_audit`; then a broken bureau must make the build fail with
the right tests named. Other modules load real elections into the same database: this module
only reads and deletes its own `2099_unit_*` rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from pipeline.dbt_runner import DbtInvocationError, DbtOutcome, build, run_dbt

pytestmark = [pytest.mark.db, pytest.mark.slow]

ELECTION = "2099_unit_t1"
BROKEN_ELECTION = "2099_unit_broken_t1"
LEDGER_SOURCE = "test_dbt_models"
OUR_ELECTIONS = "2099\\_unit\\_%"  # LIKE pattern of every election id this module inserts
MART_TABLES = ("election_results", "polling_station_nuance_votes", "polling_station_results")
# The three marts, their ancestors and the tests that read only them: the whole project is built
# and tested end to end by the gate in tests/e2e.
SELECTION = " ".join(f"+{table}" for table in MART_TABLES)

# (code_departement, libelle_departement, code_commune, libelle_commune, code_bv,
#  inscrits, votants, abstentions, exprimes, blancs, nuls)
BUREAUX = [
    ("29", "Finistère", "29019", "Brest", "0001", 1000, 800, 200, 780, 16, 4),
    ("29", "Finistère", "29019", "Brest", "0002", 400, 100, 300, 75, 0, 25),
    ("29", "Finistère", "29011", "Bohars", "0001", 0, 0, 0, 0, 0, 0),
]
# (code_commune, code_bv, numero_panneau, nuance, voix)
CANDIDATES = [
    ("29019", "0001", 1, "RN", 300),
    ("29019", "0001", 2, "UG", 300),
    ("29019", "0001", 3, "ENS", 170),
    ("29019", "0001", 4, "EXG", 4),
    ("29019", "0001", 5, "EXG", 6),
    ("29019", "0002", 1, "RN", 25),
    ("29019", "0002", 2, "UG", 50),
    ("29011", "0001", 1, None, 0),
]

# Hand-computed expectations for polling_station_results.
EXPECTED_RESULTS: dict[str, dict[str, Any]] = {
    "29019_0001": {
        "code_departement": "29",
        "code_commune": "29019",
        "commune_name": "Brest",
        "code_bv": "0001",
        "registered": 1000,
        "voters": 800,
        "abstentions": 200,
        "blank_votes": 16,
        "null_votes": 4,
        "valid_votes": 780,
        "turnout_rate": 0.8,  # 800 / 1000
        "blank_rate": 0.02,  # 16 / 800
        "null_rate": 0.005,  # 4 / 800
        "valid_rate": 0.975,  # 780 / 800
        "candidates_count": 5,
        "votes_by_nuance": {"RN": 300, "UG": 300, "ENS": 170, "EXG": 10},  # two EXG summed
        "leading_nuance": "RN",  # RN and UG tie at 300: alphabetical first
    },
    "29019_0002": {
        "code_departement": "29",
        "code_commune": "29019",
        "commune_name": "Brest",
        "code_bv": "0002",
        "registered": 400,
        "voters": 100,
        "abstentions": 300,
        "blank_votes": 0,
        "null_votes": 25,
        "valid_votes": 75,
        "turnout_rate": 0.25,
        "blank_rate": 0.0,
        "null_rate": 0.25,
        "valid_rate": 0.75,
        "candidates_count": 2,
        "votes_by_nuance": {"RN": 25, "UG": 50},
        "leading_nuance": "UG",
    },
    "29011_0001": {
        "code_departement": "29",
        "code_commune": "29011",
        "commune_name": "Bohars",
        "code_bv": "0001",
        "registered": 0,
        "voters": 0,
        "abstentions": 0,
        "blank_votes": 0,
        "null_votes": 0,
        "valid_votes": 0,
        "turnout_rate": None,  # nobody registered: no rate, no division error
        "blank_rate": None,
        "null_rate": None,
        "valid_rate": None,
        "candidates_count": 1,
        "votes_by_nuance": {"NC": 0},  # published without nuance
        "leading_nuance": None,  # no vote at all: no leader
    },
}

# (bureau_id, nuance, votes, share_of_valid)
EXPECTED_NUANCE_VOTES = {
    ("29011_0001", "NC", 0, None),
    ("29019_0001", "ENS", 170, 170 / 780),
    ("29019_0001", "EXG", 10, 10 / 780),
    ("29019_0001", "RN", 300, 300 / 780),
    ("29019_0001", "UG", 300, 300 / 780),
    ("29019_0002", "RN", 25, 25 / 75),
    ("29019_0002", "UG", 50, 50 / 75),
}


def _insert_batch(
    cur: psycopg.Cursor,
    election_id: str,
    status: str,
    bureaux: list[tuple[Any, ...]],
    candidates: list[tuple[Any, ...]],
) -> int:
    """One ledger row, then its bureau and candidate rows (the FK wants the ledger first)."""
    cur.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
        "values (%s, %s, %s, %s, %s) returning batch_id",
        (LEDGER_SOURCE, f"{election_id}.csv", uuid.uuid4().hex, election_id, status),
    )
    row = cur.fetchone()
    assert row is not None
    batch_id = row[0]
    cur.executemany(
        "insert into raw.election_results_bureau (batch_id, election_id, source_line, "
        "code_departement, libelle_departement, code_commune, libelle_commune, code_bv, "
        "bureau_id, inscrits, votants, abstentions, exprimes, blancs, nuls) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (batch_id, election_id, line, dep, dep_name, com, com_name, bv, f"{com}_{bv}", *counts)
            for line, (dep, dep_name, com, com_name, bv, *counts) in enumerate(bureaux, start=2)
        ],
    )
    cur.executemany(
        "insert into raw.election_results_candidate (batch_id, election_id, source_line, "
        "code_commune, code_bv, bureau_id, numero_panneau, nuance, nom, prenom, sexe, voix) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                batch_id,
                election_id,
                2,
                com,
                bv,
                f"{com}_{bv}",
                panel,
                nuance,
                "NOM",
                "Prénom",
                "F",
                v,
            )
            for com, bv, panel, nuance, v in candidates
        ],
    )
    return batch_id


def _delete_test_rows(cur: psycopg.Cursor, run_ids: list[str]) -> None:
    for table in ("raw.election_results_candidate", "raw.election_results_bureau"):
        cur.execute(f"delete from {table} where election_id like %s", (OUR_ELECTIONS,))
    cur.execute("delete from raw.batch_ledger where source = %s", (LEDGER_SOURCE,))
    cur.execute("delete from ops.dbt_results where run_id = any(%s)", (run_ids,))
    # The marts keep our rows until the next build: remove them so later modules never see them.
    for table in MART_TABLES:
        cur.execute("select to_regclass(%s)", (f"mart_audit.{table}",))
        found = cur.fetchone()
        if found is not None and found[0] is not None:
            cur.execute(
                f"delete from mart_audit.{table} where election_id like %s", (OUR_ELECTIONS,)
            )


def _relations(cur: psycopg.Cursor, schema: str) -> set[str]:
    cur.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p')",
        (schema,),
    )
    return {r[0] for r in cur.fetchall()}


def _by_prefix(ids: list[str], prefix: str) -> list[str]:
    return [i for i in ids if i.startswith(prefix)]


@pytest.fixture(scope="module")
def raw_rows(db: psycopg.Connection, run_ids: list[str]) -> Iterator[None]:
    with db.cursor() as cur:
        _delete_test_rows(cur, [])  # a previous interrupted run
        # A superseded load of the same election with other figures: staging must ignore it.
        _insert_batch(
            cur,
            ELECTION,
            "superseded",
            [("29", "Finistère", "29019", "Brest", "0001", 9, 9, 0, 9, 0, 0)],
            [("29019", "0001", 1, "RN", 9)],
        )
        _insert_batch(cur, ELECTION, "loaded", BUREAUX, CANDIDATES)
    yield
    with db.cursor() as cur:
        _delete_test_rows(cur, run_ids)


@pytest.fixture(scope="module")
def first_build(
    warehouse_url: str, db: psycopg.Connection, raw_rows: None, run_ids: list[str]
) -> tuple[str, DbtOutcome, set[str]]:
    with db.cursor() as cur:
        mart_before = _relations(cur, "mart")
    run_id = f"test-dbt-{uuid.uuid4().hex[:8]}"
    run_ids.append(run_id)
    outcome = build(warehouse_url, run_id, select=SELECTION, indirect_selection="cautious")
    return run_id, outcome, mart_before


def test_build_passes_models_unit_tests_and_data_tests(
    first_build: tuple[str, DbtOutcome, set[str]],
) -> None:
    _, outcome, _ = first_build
    problems = [r for r in outcome.results if r.status not in ("success", "pass")]
    assert outcome.success, problems
    assert outcome.failed == []
    by_id = {r.unique_id: r for r in outcome.results}
    for model in (
        *MART_TABLES,
        "stg_elections__bureau_results",
        "int_nuance_votes__summed_by_bureau",
    ):
        assert by_id[f"model.scrutin.{model}"].status == "success"
    unit_tests = [r for r in outcome.results if r.resource_type == "unit_test"]
    assert len(unit_tests) >= 4
    assert {r.status for r in unit_tests} == {"pass"}
    assert by_id["test.scrutin.assert_nuance_votes_sum_to_valid_votes"].status == "pass"


def test_polling_station_results_match_hand_computed_values(
    first_build: tuple[str, DbtOutcome, set[str]], db: psycopg.Connection
) -> None:
    columns = ["bureau_id", *EXPECTED_RESULTS["29019_0001"]]
    with db.cursor() as cur:
        cur.execute(
            f"select {', '.join(columns)} from mart_audit.polling_station_results "
            "where election_id = %s order by bureau_id",
            (ELECTION,),
        )
        rows = {r[0]: dict(zip(columns[1:], r[1:], strict=True)) for r in cur.fetchall()}
    # The superseded batch's figures (9 registered...) must not leak in: exactly our 3 bureaux.
    assert set(rows) == set(EXPECTED_RESULTS)
    for bureau_id, expected in EXPECTED_RESULTS.items():
        actual = rows[bureau_id]
        for column, value in expected.items():
            if isinstance(value, float):
                assert actual[column] == pytest.approx(value), (bureau_id, column)
            else:
                assert actual[column] == value, (bureau_id, column)


def test_polling_station_nuance_votes_match_hand_computed_values(
    first_build: tuple[str, DbtOutcome, set[str]], db: psycopg.Connection
) -> None:
    with db.cursor() as cur:
        cur.execute(
            "select bureau_id, nuance, votes, share_of_valid, code_commune, code_bv "
            "from mart_audit.polling_station_nuance_votes where election_id = %s",
            (ELECTION,),
        )
        rows = cur.fetchall()
    assert len(rows) == len(EXPECTED_NUANCE_VOTES)
    expected = {(b, n): (v, s) for b, n, v, s in EXPECTED_NUANCE_VOTES}
    for bureau_id, nuance, votes, share, code_commune, code_bv in rows:
        exp_votes, exp_share = expected[(bureau_id, nuance)]
        assert votes == exp_votes
        assert share == (None if exp_share is None else pytest.approx(exp_share))
        assert f"{code_commune}_{code_bv}" == bureau_id


def test_marts_are_built_into_mart_audit_never_mart(
    first_build: tuple[str, DbtOutcome, set[str]], db: psycopg.Connection, warehouse_url: str
) -> None:
    _, _, mart_before = first_build
    with db.cursor() as cur:
        assert _relations(cur, "mart") == mart_before
        cur.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'mart_audit' and table_name = any(%s)",
            (list(MART_TABLES),),
        )
        # Tables, not views: they must survive the publish step's schema rename on their own.
        assert dict(cur.fetchall()) == dict.fromkeys(MART_TABLES, "BASE TABLE")
    # A model configured for `mart` is refused by generate_schema_name.
    refused = run_dbt(
        [
            "run-operation",
            "generate_schema_name",
            "--args",
            "{custom_schema_name: mart, node: {unique_id: model.scrutin.misplaced}}",
        ],
        warehouse_url,
    )
    assert not refused.success


def test_mart_contract_types(
    first_build: tuple[str, DbtOutcome, set[str]], db: psycopg.Connection
) -> None:
    with db.cursor() as cur:
        cur.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'mart_audit' and table_name = 'polling_station_results' "
            "order by ordinal_position"
        )
        columns = cur.fetchall()
    assert [c for c, _ in columns] == ["election_id", "bureau_id", *EXPECTED_RESULTS["29019_0001"]]
    types = dict(columns)
    assert types["registered"] == "integer"
    assert types["turnout_rate"] == "double precision"
    assert types["votes_by_nuance"] == "jsonb"
    assert types["leading_nuance"] == "text"


def test_every_mart_column_has_a_comment(
    first_build: tuple[str, DbtOutcome, set[str]], db: psycopg.Connection
) -> None:
    with db.cursor() as cur:
        for table in MART_TABLES:
            cur.execute(
                "select a.attname, col_description(a.attrelid, a.attnum) "
                "from pg_attribute a where a.attrelid = %s::regclass "
                "and a.attnum > 0 and not a.attisdropped",
                (f"mart_audit.{table}",),
            )
            undocumented = [name for name, comment in cur.fetchall() if not comment]
            assert undocumented == [], table
            cur.execute(
                "select obj_description(%s::regclass, 'pg_class')", (f"mart_audit.{table}",)
            )
            comment = cur.fetchone()
            assert comment is not None
            assert comment[0]


def test_build_results_are_recorded_in_ops(
    first_build: tuple[str, DbtOutcome, set[str]], db: psycopg.Connection
) -> None:
    run_id, outcome, _ = first_build
    with db.cursor() as cur:
        cur.execute(
            "select unique_id, resource_type, status from ops.dbt_results where run_id = %s",
            (run_id,),
        )
        recorded = cur.fetchall()
    assert len(recorded) == len(outcome.results)
    assert ("model.scrutin.polling_station_results", "model", "success") in recorded
    assert {rt for _, rt, _ in recorded} >= {"model", "test", "unit_test"}


def test_broken_bureaux_fail_the_build_with_the_right_tests(
    first_build: tuple[str, DbtOutcome, set[str]],
    warehouse_url: str,
    db: psycopg.Connection,
    run_ids: list[str],
) -> None:
    with db.cursor() as cur:
        _insert_batch(
            cur,
            BROKEN_ELECTION,
            "loaded",
            [
                # candidates sum to 40, not to the 48 valid votes
                ("29", "Finistère", "29019", "Brest", "0001", 100, 50, 50, 48, 1, 1),
                # more voters than registered
                ("29", "Finistère", "29019", "Brest", "0002", 100, 120, 0, 120, 0, 0),
            ],
            [
                ("29019", "0001", 1, "RN", 30),
                ("29019", "0001", 2, "UG", 10),
                ("29019", "0002", 1, "RN", 120),
            ],
        )
    run_id = f"test-dbt-broken-{uuid.uuid4().hex[:8]}"
    run_ids.append(run_id)

    # must not raise
    outcome = build(warehouse_url, run_id, select=SELECTION, indirect_selection="cautious")

    assert not outcome.success
    by_id = {r.unique_id: r for r in outcome.results}
    sum_test = "test.scrutin.assert_nuance_votes_sum_to_valid_votes"
    assert sum_test in outcome.failed
    assert by_id[sum_test].failures == 1
    voters_test = _by_prefix(
        outcome.failed,
        "test.scrutin.not_greater_than_column_polling_station_results_voters__registered",
    )
    assert len(voters_test) == 1
    turnout_test = _by_prefix(
        outcome.failed, "test.scrutin.accepted_range_polling_station_results_turnout_rate"
    )
    assert len(turnout_test) == 1
    # The marts themselves were built: the audit gate, not dbt, refuses the publication.
    assert by_id["model.scrutin.polling_station_results"].status == "success"
    # A severity-warn identity check (registered = voters + abstentions) is recorded, not failed.
    (warn_id,) = _by_prefix(
        list(by_id),
        "test.scrutin.polling_station_results_registered_equals_voters_plus_abstentions.",
    )
    assert by_id[warn_id].status == "warn"
    assert warn_id not in outcome.failed
    # The tidy results see the same broken bureaux: 0001's candidates do not add up to its
    # valid votes, 0002's candidate got 120 votes of 100 registered.
    tidy_tests = [
        "test.scrutin.assert_election_results_reconcile_with_polling_station_results",
        *_by_prefix(outcome.failed, "test.scrutin.election_results_shares_of_valid_votes_sum"),
        *_by_prefix(
            outcome.failed, "test.scrutin.accepted_range_election_results_share_of_registered"
        ),
    ]
    assert len(tidy_tests) == 3 and tidy_tests[0] in outcome.failed
    # Nothing else failed: the valid bureaux of the first election still pass.
    assert set(outcome.failed) == {sum_test, *voters_test, *turnout_test, *tidy_tests}

    with db.cursor() as cur:
        cur.execute(
            "select unique_id from ops.dbt_results where run_id = %s and status = 'fail'",
            (run_id,),
        )
        assert {r[0] for r in cur.fetchall()} == set(outcome.failed)


def test_unreachable_warehouse_raises_a_clear_error() -> None:
    # Infrastructure, not data: the caller must retry, not report failed checks.
    with pytest.raises(DbtInvocationError, match=r"cannot reach the warehouse .*:1/nowhere"):
        build("postgresql://scrutin@127.0.0.1:1/nowhere", "test-dbt-unreachable")
