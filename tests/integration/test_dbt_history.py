"""Bureau history, REU <-> Ministry mapping and the polling-station mart, end to end.

Hand-made raw rows (ledger source `test_dbt_history`: fixture elections `2099_legi_t1` and
`2099_legi_t2`, bureaux of the fictitious commune 99901 and one Paris bureau, REU and roll rows)
go through a real `dbt build` (pipeline.dbt_runner.build); every figure asserted below is computed
by hand in the comments. A second build adds an unmapped nuance and an unregistered election and
must fail with the right tests, naming the nuance. Other modules load real elections into the same
database: this module reads and deletes only its own batches and bureaux.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from pipeline.dbt_runner import DbtOutcome, build
from tests.compiled_dbt_tests import compile_data_tests

pytestmark = [pytest.mark.db, pytest.mark.slow]

LEDGER_SOURCE = "test_dbt_history"
E1 = "2099_legi_t1"
E2 = "2099_legi_t2"
UNMAPPED_ELECTION = "2099_legi_t3"
UNREGISTERED_ELECTION = "2098_legi_t1"  # not the fixture year: the registry test must name it
OUR_ELECTIONS = (E1, E2, UNMAPPED_ELECTION, UNREGISTERED_ELECTION)
UNMAPPED_NUANCE = "ZZQ"

A = "99901_0001"  # both elections, REU (derived key), roll
B = "99901_0002"  # first election only, no REU: results_only
C = "99901_0003"  # REU only
D = "99901_0009"  # roll only
P = "75056_1598"  # Paris, 15th arrondissement, bureau 98: REU 75115 code 98 (PLM mapping)
P_REU = "75056_0098"  # the key the REU loader derives from 75115 / code 98
GHOST = "99901_0004"  # only in a superseded REU batch: must appear nowhere
OUR_BUREAUX = (A, B, C, D, P, P_REU, GHOST)

# (bureau_id, libelle_commune, inscrits, votants, abstentions, exprimes, blancs, nuls)
RESULTS: dict[str, list[tuple[Any, ...]]] = {
    E1: [
        (A, "Testville", 1000, 700, 300, 680, 15, 5),
        (B, "Testville", 500, 250, 250, 240, 6, 4),
        (P, "Paris", 800, 600, 200, 590, 8, 2),
    ],
    E2: [(A, "Testville", 1002, 720, 282, 700, 15, 5)],
}
# (bureau_id, numero_panneau, nuance, nom, voix): votes add up to exprimes in every bureau.
CANDIDATES: dict[str, list[tuple[Any, ...]]] = {
    E1: [
        (A, 1, "UG", "GAUCHE", 300),
        (A, 2, "RN", "DROITE", 200),
        (A, 3, "DVC", "CENTRE", 100),
        (A, 4, "EXG", "ROUGE", 50),
        (A, 5, "EXG", "ROUGE-BIS", 30),
        (B, 1, "UG", "GAUCHE", 100),
        (B, 2, "RN", "DROITE", 120),
        (B, 3, None, "SANS", 20),  # no nuance published: NC -> other
        (P, 1, "ENS", "MILIEU", 290),
        (P, 2, "LR", "DROITE", 150),
        (P, 3, "REC", "EXTREME", 150),
    ],
    E2: [(A, 1, "UG", "GAUCHE", 380), (A, 2, "RN", "DROITE", 320)],
}

# Hand-computed history rows: (bureau, election) -> expected values.
EXPECTED_HISTORY: dict[tuple[str, str], dict[str, Any]] = {
    (A, E1): {
        "registered": 1000,
        "voters": 700,
        "valid_votes": 680,
        "turnout": 0.7,  # 700 / 1000
        "candidate_votes": 680,
        "unmapped_votes": 0,
        "votes_left": 300,  # UG
        "votes_far_right": 200,  # RN
        "votes_centre": 100,  # DVC
        "votes_extreme_left": 80,  # two EXG candidates
        "votes_other": 0,
        "share_left": 300 / 680,
        "share_far_right": 200 / 680,
        "share_centre": 100 / 680,
        "share_extreme_left": 80 / 680,
        "share_right": 0.0,
        "share_other": 0.0,
    },
    (B, E1): {
        "registered": 500,
        "turnout": 0.5,
        "votes_left": 100,
        "votes_far_right": 120,
        "votes_other": 20,  # published without nuance
        "share_left": 100 / 240,
        "share_far_right": 120 / 240,
        "share_other": 20 / 240,
        "share_centre": 0.0,
    },
    (P, E1): {
        "registered": 800,
        "turnout": 0.75,
        "votes_centre": 290,  # ENS
        "votes_right": 150,  # LR
        "votes_far_right": 150,  # REC
        "share_centre": 290 / 590,
        "share_right": 150 / 590,
        "share_far_right": 150 / 590,
        "share_left": 0.0,
    },
    (A, E2): {
        "registered": 1002,
        "turnout": 720 / 1002,
        "votes_left": 380,
        "votes_far_right": 320,
        "share_left": 380 / 700,
        "share_far_right": 320 / 700,
    },
}

REFERENCE_DATE = dt.date(2099, 3, 1)
# (bureau_id key as the roll loader writes it, list_type, age_band, sex, voters)
ROLL_COUNTS = [
    (A, "LP", "18-24", "F", 10),
    (A, "LP", "18-24", "M", 10),
    (A, "LP", "35-49", "F", 30),
    (A, "LP", "75+", "M", 45),
    (A, "LP", "50-64", "X", 5),
    (A, "LCM", "35-49", "F", 2),
    (P_REU, "LP", "25-34", "F", 40),
    (P_REU, "LP", "25-34", "M", 60),
    (D, "LP", "65-74", "F", 3),
]
ROLL_DOORS = [(A, 60), (P_REU, 70), (D, 2)]

# Hand-computed mart rows.
EXPECTED_STATIONS: dict[str, dict[str, Any]] = {
    A: {
        "code_commune": "99901",
        "commune_name": "Testville",
        "code_bv": "0001",
        "registered_voters_roll": 100,  # principal list only: 10 + 10 + 30 + 45 + 5
        "eu_citizens_municipal_roll": 2,
        "eu_citizens_european_roll": 0,
        "doors": 60,
        "reu_addresses": 7,  # 3 + 4
        "reu_match_status": "matched",
        "latest_election_id": E2,  # second round of the same year
        "latest_registered": 1002,
        "latest_turnout": 720 / 1002,
        "roll_reference_date": REFERENCE_DATE,
        "share_age_18_24": 0.2,
        "share_age_25_34": 0.0,
        "share_age_35_49": 0.3,
        "share_age_50_64": 0.05,
        "share_age_65_74": 0.0,
        "share_age_75_plus": 0.45,
        "share_female": 0.4,
        "share_male": 0.55,  # the X elector is neither
    },
    B: {
        "code_commune": "99901",
        "registered_voters_roll": None,
        "doors": None,
        "reu_addresses": None,
        "reu_match_status": "results_only",
        "latest_election_id": E1,
        "latest_registered": 500,
        "latest_turnout": 0.5,
        "share_age_18_24": None,
        "share_female": None,
    },
    C: {
        "code_commune": "99901",
        "commune_name": "TESTVILLE",  # no election: the REU's spelling
        "code_bv": "0003",
        "reu_addresses": 2,
        "reu_match_status": "reu_only",
        "latest_election_id": None,
        "registered_voters_roll": None,
    },
    D: {
        "code_commune": "99901",
        "commune_name": None,
        "code_bv": "0009",
        "registered_voters_roll": 3,
        "doors": 2,
        "reu_match_status": None,
        "latest_election_id": None,
        "share_age_65_74": 1.0,
        "share_female": 1.0,
        "share_male": 0.0,
    },
    P: {
        "code_commune": "75056",
        "commune_name": "Paris",
        "code_bv": "1598",
        "registered_voters_roll": 100,  # stored under the REU key 75056_0098
        "doors": 70,
        "reu_addresses": 10,
        "reu_match_status": "matched",
        "latest_election_id": E1,
        "latest_registered": 800,
        "latest_turnout": 0.75,
        "share_age_25_34": 1.0,
        "share_female": 0.4,
        "share_male": 0.6,
    },
}


# ---- fixtures: raw rows ------------------------------------------------------------------------


def _ledger(cur: psycopg.Cursor, dataset_key: str, status: str = "loaded") -> int:
    cur.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
        "values (%s, %s, %s, %s, %s) returning batch_id",
        (LEDGER_SOURCE, f"{dataset_key}.csv", uuid.uuid4().hex, dataset_key, status),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def _insert_election(
    cur: psycopg.Cursor,
    election_id: str,
    bureaux: list[tuple[Any, ...]],
    candidates: list[tuple[Any, ...]],
) -> None:
    batch_id = _ledger(cur, election_id)
    cur.executemany(
        "insert into raw.election_results_bureau (batch_id, election_id, source_line, "
        "code_departement, libelle_departement, code_commune, libelle_commune, code_bv, "
        "bureau_id, inscrits, votants, abstentions, exprimes, blancs, nuls) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                batch_id,
                election_id,
                line,
                bureau[:2],
                "Département",
                bureau.split("_")[0],
                commune,
                bureau.split("_")[1],
                bureau,
                *counts,
            )
            for line, (bureau, commune, *counts) in enumerate(bureaux, start=2)
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
                bureau.split("_")[0],
                bureau.split("_")[1],
                bureau,
                panel,
                nuance,
                name,
                "Prénom",
                "F",
                votes,
            )
            for bureau, panel, nuance, name, votes in candidates
        ],
    )


def _insert_reu_bureaux(cur: psycopg.Cursor, status: str, rows: list[tuple[str, ...]]) -> None:
    """rows: (code_commune, code_commune_results, code, bureau_id)."""
    batch_id = _ledger(cur, "bv", status)
    cur.executemany(
        "insert into raw.reu_bureaux (batch_id, source_line, id_brut_reu, code_commune, "
        "code_commune_results, code, code_bv, bureau_id, libelle_reu, commune_reu, "
        "nb_adresses_initial, nb_adresses_final) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                batch_id,
                line,
                f"{commune}_{code}",
                commune,
                results_commune,
                code,
                bureau.split("_")[1],
                bureau,
                "MAIRIE",
                "TESTVILLE" if commune == "99901" else "PARIS",
                10,
                10,
            )
            for line, (commune, results_commune, code, bureau) in enumerate(rows, start=2)
        ],
    )


def _insert_reu_addresses(cur: psycopg.Cursor, rows: list[tuple[str, str, int]]) -> None:
    """rows: (REU commune, bureau_id, nb_adresses)."""
    batch_id = _ledger(cur, "adresses")
    cur.executemany(
        "insert into raw.reu_addresses (batch_id, source_line, code_commune_ref, "
        "id_brut_bv_reu, code_commune, code_commune_results, code_bv, bureau_id, geo_type, "
        "geo_score, longitude, latitude, nb_adresses) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                batch_id,
                line,
                commune,
                f"{commune}_{int(bureau.split('_')[1])}",
                commune,
                bureau.split("_")[0],
                bureau.split("_")[1],
                bureau,
                "housenumber",
                0.9,
                2.3,
                48.8,
                count,
            )
            for line, (commune, bureau, count) in enumerate(rows, start=2)
        ],
    )


def _roll_commune(bureau: str) -> str:
    return "75115" if bureau == P_REU else bureau.split("_", maxsplit=1)[0]


def _insert_roll(
    cur: psycopg.Cursor,
    status: str,
    counts: list[tuple[Any, ...]],
    doors: list[tuple[str, int]],
) -> None:
    batch_id = _ledger(cur, "roll", status)
    cur.executemany(
        "insert into raw.roll_bureau_counts (batch_id, reference_date, code_commune, "
        "code_commune_results, code_bv, bureau_id, list_type, age_band, sex, voters) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                batch_id,
                REFERENCE_DATE,
                _roll_commune(bureau),
                bureau.split("_")[0],
                bureau.split("_")[1],
                bureau,
                *cell,
            )
            for bureau, *cell in counts
        ],
    )
    cur.executemany(
        "insert into raw.roll_bureau_doors (batch_id, reference_date, code_commune, "
        "code_commune_results, code_bv, bureau_id, doors) values (%s, %s, %s, %s, %s, %s, %s)",
        [
            (
                batch_id,
                REFERENCE_DATE,
                _roll_commune(bureau),
                bureau.split("_")[0],
                bureau.split("_")[1],
                bureau,
                n,
            )
            for bureau, n in doors
        ],
    )


def _exists(cur: psycopg.Cursor, relation: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (relation,))
    row = cur.fetchone()
    return bool(row and row[0])


def _delete_test_rows(cur: psycopg.Cursor, run_ids: list[str]) -> None:
    ours = "select batch_id from raw.batch_ledger where source = %s"
    for table in (
        "raw.election_results_candidate",
        "raw.election_results_bureau",
        "raw.reu_bureaux",
        "raw.reu_addresses",
        "raw.roll_bureau_counts",
        "raw.roll_bureau_doors",
    ):
        cur.execute(f"delete from {table} where batch_id in ({ours})", (LEDGER_SOURCE,))
    cur.execute("delete from raw.batch_ledger where source = %s", (LEDGER_SOURCE,))
    cur.execute("delete from ops.dbt_results where run_id = any(%s)", (run_ids,))
    cur.execute("delete from ops.quality_results where run_id = any(%s)", (run_ids,))
    # Built relations keep our rows until the next build: later modules must never see them.
    by_bureau = (
        "mart_audit.polling_stations",
        "intermediate.int_bureau_history__by_election",
    )
    by_election = (
        "mart_audit.polling_station_results",
        "mart_audit.polling_station_nuance_votes",
        "mart_audit.election_results",
        "ops.assert_every_nuance_maps_to_a_bloc",
    )
    for table in by_bureau:
        if _exists(cur, table):
            cur.execute(f"delete from {table} where bureau_id = any(%s)", (list(OUR_BUREAUX),))
    for table in by_election:
        if _exists(cur, table):
            cur.execute(f"delete from {table} where election_id = any(%s)", (list(OUR_ELECTIONS),))


@pytest.fixture(scope="module")
def raw_rows(db: psycopg.Connection, run_ids: list[str]) -> Iterator[None]:
    with db.cursor() as cur:
        _delete_test_rows(cur, [])  # a previous interrupted run
        for election_id, bureaux in RESULTS.items():
            _insert_election(cur, election_id, bureaux, CANDIDATES[election_id])
        _insert_reu_bureaux(
            cur,
            "loaded",
            [
                ("99901", "99901", "1", A),
                ("99901", "99901", "3", C),
                ("75115", "75056", "98", P_REU),
            ],
        )
        # A superseded REU file: its bureau must not reach staging, mapping or mart.
        _insert_reu_bureaux(cur, "superseded", [("99901", "99901", "4", GHOST)])
        _insert_reu_addresses(
            cur, [("99901", A, 3), ("99901", A, 4), ("99901", C, 2), ("75115", P_REU, 10)]
        )
        _insert_roll(cur, "loaded", ROLL_COUNTS, ROLL_DOORS)
        # A superseded extract with other figures for A: must not count.
        _insert_roll(cur, "superseded", [(A, "LP", "18-24", "F", 999)], [(A, 999)])
    yield
    with db.cursor() as cur:
        _delete_test_rows(cur, run_ids)


# The history, the polling-station mart, their ancestors and the tests that read only them: the
# whole project is built and tested end to end by the gate in tests/e2e.
SELECTION = "+polling_stations +int_bureau_history__by_election"


@pytest.fixture(scope="module")
def first_build(warehouse_url: str, raw_rows: None, run_ids: list[str]) -> tuple[str, DbtOutcome]:
    run_id = f"test-history-{uuid.uuid4().hex[:8]}"
    run_ids.append(run_id)
    return run_id, build(warehouse_url, run_id, select=SELECTION, indirect_selection="cautious")


def _rows(db: psycopg.Connection, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return list(cur.fetchall())


def _assert_matches(actual: dict[str, Any], expected: dict[str, Any], label: object) -> None:
    for column, value in expected.items():
        if isinstance(value, float):
            assert actual[column] == pytest.approx(value, abs=1e-12), (label, column)
        else:
            assert actual[column] == value, (label, column)


# ---- the green build ---------------------------------------------------------------------------


def test_build_passes_with_our_models_and_tests(first_build: tuple[str, DbtOutcome]) -> None:
    _, outcome = first_build
    problems = [r for r in outcome.results if r.status not in ("success", "pass")]
    assert outcome.success, problems
    by_id = {r.unique_id: r for r in outcome.results}
    for model in (
        "stg_reu__bureaux",
        "stg_reu__addresses",
        "stg_roll__bureau_counts",
        "stg_roll__bureau_doors",
        "int_elections__registered",
        "int_candidate_results__blocs",
        "int_bureau_history__by_election",
        "int_reu_bureau_mapping",
        "polling_stations",
    ):
        assert by_id[f"model.scrutin.{model}"].status == "success", model
    for seed in ("elections", "nuance_blocs", "presidential_candidate_nuances"):
        assert by_id[f"seed.scrutin.{seed}"].status == "success", seed
    for unit_test in (
        "int_candidate_results__blocs.test_int_candidate_results_blocs_versioned_mapping",
        "int_bureau_history__by_election.test_int_bureau_history_bloc_shares_and_turnout",
        "int_reu_bureau_mapping.test_int_reu_bureau_mapping_statuses_and_plm",
        "polling_stations.test_polling_stations_roll_shares_and_latest_election",
    ):
        assert by_id[f"unit_test.scrutin.{unit_test}"].status == "pass", unit_test
    assert by_id["test.scrutin.assert_every_nuance_maps_to_a_bloc"].status == "pass"
    assert by_id["test.scrutin.assert_every_source_bureau_is_a_polling_station"].status == "pass"


def test_history_shares_and_turnout_match_hand_computation(
    first_build: tuple[str, DbtOutcome], db: psycopg.Connection
) -> None:
    rows = _rows(
        db,
        "select * from intermediate.int_bureau_history__by_election "
        "where election_id = any(%s) and bureau_id = any(%s)",
        ([E1, E2], list(OUR_BUREAUX)),
    )
    by_key = {(r["bureau_id"], r["election_id"]): r for r in rows}
    assert set(by_key) == set(EXPECTED_HISTORY)
    for key, expected in EXPECTED_HISTORY.items():
        _assert_matches(by_key[key], expected, key)
    for key, row in by_key.items():
        shares = [v for c, v in row.items() if c.startswith("share_")]
        assert len(shares) == 8
        assert sum(shares) == pytest.approx(1.0, abs=1e-9), key
        # Fixture elections are unregistered: type, year and round come from the id.
        assert (row["election_type"], row["election_year"], row["election_date"]) == (
            "legi",
            2099,
            None,
        )


def test_mapping_statuses(first_build: tuple[str, DbtOutcome], db: psycopg.Connection) -> None:
    rows = _rows(
        db,
        "select bureau_id, reu_bureau_id, reu_code_commune, match_status, match_method "
        "from intermediate.int_reu_bureau_mapping where bureau_id = any(%s)",
        (list(OUR_BUREAUX),),
    )
    got = {r["bureau_id"]: r for r in rows}
    assert set(got) == {A, B, C, P}  # GHOST was only in a superseded batch
    assert (got[A]["match_status"], got[A]["match_method"]) == ("matched", "bureau_id")
    assert (got[B]["match_status"], got[B]["reu_bureau_id"]) == ("results_only", None)
    assert (got[C]["match_status"], got[C]["reu_bureau_id"]) == ("reu_only", C)
    assert got[P] == {
        "bureau_id": P,
        "reu_bureau_id": P_REU,
        "reu_code_commune": "75115",
        "match_status": "matched",
        "match_method": "plm_arrondissement",
    }


def test_polling_stations_match_hand_computation(
    first_build: tuple[str, DbtOutcome], db: psycopg.Connection
) -> None:
    rows = _rows(
        db,
        "select * from mart_audit.polling_stations where bureau_id = any(%s)",
        (list(OUR_BUREAUX),),
    )
    got = {r["bureau_id"]: r for r in rows}
    # The Paris roll and REU rows landed on the Ministry bureau, not on their REU key; the
    # superseded batches left nothing.
    assert set(got) == set(EXPECTED_STATIONS)
    for bureau_id, expected in EXPECTED_STATIONS.items():
        _assert_matches(got[bureau_id], expected, bureau_id)


def test_polling_stations_publish_no_crossed_age_sex_cell(
    first_build: tuple[str, DbtOutcome], db: psycopg.Connection
) -> None:
    columns = [
        r["column_name"]
        for r in _rows(
            db,
            "select column_name from information_schema.columns "
            "where table_schema = 'mart_audit' and table_name = 'polling_stations'",
            (),
        )
    ]
    assert "share_age_18_24" in columns and "share_female" in columns
    crossed = [c for c in columns if "age" in c and ("female" in c or "male" in c)]
    assert crossed == []
    # Every published column is documented (persist_docs).
    undocumented = _rows(
        db,
        "select a.attname from pg_attribute a "
        "where a.attrelid = 'mart_audit.polling_stations'::regclass and a.attnum > 0 "
        "and not a.attisdropped and col_description(a.attrelid, a.attnum) is null",
        (),
    )
    assert undocumented == []


def test_a_bureau_dropped_from_the_mart_fails_its_dbt_test(
    first_build: tuple[str, DbtOutcome],
    warehouse_url: str,
    db: psycopg.Connection,
) -> None:
    """A bureau of a loaded results file dropped from the mart must block the publication."""
    test = compile_data_tests(warehouse_url)["assert_every_source_bureau_is_a_polling_station"]
    assert test.rows(db) == []
    db.execute("delete from mart_audit.polling_stations where bureau_id = %s", (B,))
    assert test.rows(db) == [("results", B)]


# ---- the red build -----------------------------------------------------------------------------


def test_unmapped_nuance_and_unregistered_election_fail_the_build(
    first_build: tuple[str, DbtOutcome],
    warehouse_url: str,
    db: psycopg.Connection,
    run_ids: list[str],
) -> None:
    with db.cursor() as cur:
        _insert_election(
            cur,
            UNMAPPED_ELECTION,
            [(A, "Testville", 100, 50, 50, 50, 0, 0)],
            [(A, 1, UNMAPPED_NUANCE, "INCONNU", 30), (A, 2, "RN", "DROITE", 20)],
        )
        _insert_election(
            cur,
            UNREGISTERED_ELECTION,
            [(A, "Testville", 100, 50, 50, 50, 0, 0)],
            [(A, 1, "RN", "DROITE", 50)],
        )
    run_id = f"test-history-red-{uuid.uuid4().hex[:8]}"
    run_ids.append(run_id)

    outcome = build(warehouse_url, run_id, select=SELECTION, indirect_selection="cautious")

    assert not outcome.success
    nuance_test = "test.scrutin.assert_every_nuance_maps_to_a_bloc"
    assert nuance_test in outcome.failed
    registry_tests = [
        f for f in outcome.failed if ".every_loaded_election_is_in_the_election_registry" in f
    ]
    assert len(registry_tests) == 1
    # Both tests read the history, so the history is still built (with the unmapped votes
    # counted apart, for whoever investigates) and only the mart that relies on it waits.
    by_id = {r.unique_id: r for r in outcome.results}
    assert by_id["model.scrutin.int_bureau_history__by_election"].status == "success"
    assert by_id["model.scrutin.polling_stations"].status == "skipped"
    # The failing rows are kept and name the code, its election and the votes at stake.
    stored = _rows(
        db,
        "select election_id, unmapped_nuance, votes from ops.assert_every_nuance_maps_to_a_bloc",
        (),
    )
    assert {"election_id": UNMAPPED_ELECTION, "unmapped_nuance": UNMAPPED_NUANCE, "votes": 30} in (
        stored
    )
    # Unmapped votes are counted apart, never in a bloc: the history says how many.
    (row,) = _rows(
        db,
        "select unmapped_votes, votes_far_right, share_far_right "
        "from intermediate.int_bureau_history__by_election "
        "where bureau_id = %s and election_id = %s",
        (A, UNMAPPED_ELECTION),
    )
    assert row == {"unmapped_votes": 30, "votes_far_right": 20, "share_far_right": 0.4}
    # The shares-sum-to-one test skips a bureau with unmapped votes instead of failing twice.
    assert not [f for f in outcome.failed if "bloc_shares_sum" in f]
