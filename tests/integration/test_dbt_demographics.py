"""Census -> polling-station demographics end to end: raw rows -> real `dbt build` -> GX suite.

Hand-made raw rows (ledger source `test_dbt_demographics`, census vintage 2099 so that it is the
latest whatever other modules loaded, commune 99001): two IRIS shared out over three bureaux by
weights written by hand, I1 -> b1 0.25, b2 0.75 (voter addresses) and I2 -> b2 0.4, b3 0.6
(areal, partial coverage), with I1's household counts masked. Every allocated value and share
below is computed by hand from those numbers. A third IRIS in Paris' 20th arrondissement (75120)
is allocated to a bureau of 75056: the commune-totals test only passes if the arrondissement is
compared under the city code. Then the audit suite must refuse a hand-broken mart, and weights
that do not sum to 1 must fail the build.

Other modules may load census or geography rows into the same database: this module only reads,
breaks and deletes its own rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.rows import dict_row

from pipeline.dbt_runner import DbtOutcome, build
from scrutin.config import DBT_PROJECT_DIR
from scrutin.db import connect
from tests.compiled_dbt_tests import data_tests_of, failing

pytestmark = [pytest.mark.db, pytest.mark.slow]

SOURCE = "test_dbt_demographics"
VINTAGE = 2099  # later than any real census: the default (latest) vintage is ours
INCOME_VINTAGE = 2097  # Filosofi: the latest vintage not after the census vintage
I1, I2, I_PARIS = "990010101", "990010102", "751200199"
I_SUPERSEDED = "990010109"  # only in a superseded batch
B1, B2, B3, B_PARIS = "99001_0001", "99001_0002", "99001_0003", "75056_9901"
STRAY_BUREAU = "99002_0001"  # a bureau the audit test adds to the mart without any weight
OUR_BUREAUX = (B1, B2, B3, B_PARIS, STRAY_BUREAU)
OUR_IRIS = (I1, I2, I_PARIS)
# The census path, its tests, and the ancestors of the commune-totals test (the PLM mapping is
# not upstream of the mart): the whole project's build is test_dbt_models' business.
SELECTION = "+bureau_demographics +assert_census_allocation_preserves_commune_totals"

# (code_iris, bureau_id, weight, method, quality)
WEIGHTS = [
    (I1, B1, 0.25, "addresses", "good"),
    (I1, B2, 0.75, "addresses", "good"),
    (I2, B2, 0.4, "areal", "partial_coverage"),
    (I2, B3, 0.6, "areal", "partial_coverage"),
    (I_PARIS, B_PARIS, 1.0, "addresses", "good"),
]

# theme -> prefix -> indicator -> {iris: value}; None = masked ('s')
CENSUS: dict[str, dict[str, dict[str, dict[str, float | None]]]] = {
    "population": {
        "P": {
            "POP": {I1: 1000, I2: 500, I_PARIS: 300},
            "POP0014": {I1: 150, I2: 100, I_PARIS: 30},
            "POP1529": {I1: 200, I2: 50, I_PARIS: 90},
            "POP3044": {I1: 250, I2: 100, I_PARIS: 60},
            "POP4559": {I1: 200, I2: 100, I_PARIS: 60},
            "POP6074": {I1: 120, I2: 100, I_PARIS: 30},
            "POP75P": {I1: 80, I2: 50, I_PARIS: 30},
            "POP_ETR": {I1: 50, I2: 25, I_PARIS: 60},
        },
        "C": {
            "POP15P": {I1: 850, I2: 400},
            "POP15P_CS1": {I1: 10, I2: 0},
            "POP15P_CS2": {I1: 40, I2: 20},
            "POP15P_CS3": {I1: 200, I2: 40},
            "POP15P_CS4": {I1: 150, I2: 60},
            "POP15P_CS5": {I1: 150, I2: 80},
            "POP15P_CS6": {I1: 100, I2: 100},
            "POP15P_CS7": {I1: 150, I2: 60},
            "POP15P_CS8": {I1: 50, I2: 40},
        },
    },
    "couples_familles_menages": {
        "C": {
            "MEN": {I1: None, I2: 200},
            "MENPSEUL": {I1: None, I2: 80},
            "MENCOUPSENF": {I1: None, I2: 40},
            "MENCOUPAENF": {I1: None, I2: 50},
            "MENFAMMONO": {I1: None, I2: 20},
        },
    },
    "diplomes_formation": {
        "P": {
            "NSCOL15P": {I1: 800, I2: 300},
            "NSCOL15P_DIPLMIN": {I1: 200, I2: 60},
            "NSCOL15P_BEPC": {I1: 40, I2: 15},
            "NSCOL15P_CAPBEP": {I1: 160, I2: 75},
            "NSCOL15P_BAC": {I1: 150, I2: 60},
            "NSCOL15P_SUP2": {I1: 100, I2: 30},
            "NSCOL15P_SUP34": {I1: 90, I2: 30},
            "NSCOL15P_SUP5": {I1: 60, I2: 30},
        },
    },
    "logement": {
        "P": {
            "RP": {I1: 400, I2: 250},
            "RP_PROP": {I1: 200, I2: 50},
            "RP_LOC": {I1: 190, I2: 190},
            "RP_LOCHLMV": {I1: 40, I2: 150},
        },
    },
}
# Filosofi (vintage INCOME_VINTAGE): median disposable income per consumption unit.
MEDIANS = {I1: 20000.0, I2: 30000.0}

# Hand-computed expectations: w x IRIS value, summed per bureau.
B2_POP = 0.75 * 1000 + 0.4 * 500  # 950
EXPECTED: dict[str, dict[str, Any]] = {
    B1: {
        "code_commune": "99001",
        "census_vintage": VINTAGE,
        "income_vintage": INCOME_VINTAGE,
        "pcs_version": "pcs2003",
        "allocation_method": "addresses",
        "allocation_quality": "good",
        "iris_count": 1,
        "population": 250.0,  # 0.25 x 1000
        "population_15_plus": 212.5,  # 0.25 x 850
        "households": None,  # I1's households are masked
        "main_residences": 100.0,  # 0.25 x 400
        "share_age_0_14": 0.15,  # the age bands of I1 scale by 0.25: I1's own shares
        "share_age_15_29": 0.2,
        "share_age_30_44": 0.25,
        "share_age_45_59": 0.2,
        "share_age_60_74": 0.12,
        "share_age_75_plus": 0.08,
        "share_pcs_farmers": 10 / 850,
        "share_pcs_executives": 200 / 850,
        "share_pcs_retired": 150 / 850,
        "share_diploma_low": 400 / 800,  # DIPLMIN + BEPC + CAPBEP
        "share_diploma_bac": 150 / 800,
        "share_diploma_higher": 250 / 800,  # SUP2 + SUP34 + SUP5
        "share_households_single_person": None,
        "share_households_couple_with_children": None,
        "share_owners": 0.5,
        "share_renters": 0.475,
        "share_social_renters": 0.1,
        "share_foreigners": 0.05,
        "median_income_approx": 20000.0,
        "has_masked_values": True,
        "masked_share": 1.0,  # all of b1's household weight (0.25 of 0.25) is masked
    },
    B2: {
        "code_commune": "99001",
        "allocation_method": "mixed",
        "allocation_quality": "partial_coverage",
        "iris_count": 2,
        "population": B2_POP,
        "population_15_plus": 0.75 * 850 + 0.4 * 400,  # 797.5
        "households": None,  # partly masked: I1's part is unknown
        "main_residences": 0.75 * 400 + 0.4 * 250,  # 400
        "share_age_0_14": (0.75 * 150 + 0.4 * 100) / B2_POP,  # 152.5 / 950
        "share_age_15_29": (0.75 * 200 + 0.4 * 50) / B2_POP,
        "share_age_30_44": (0.75 * 250 + 0.4 * 100) / B2_POP,
        "share_age_45_59": (0.75 * 200 + 0.4 * 100) / B2_POP,
        "share_age_60_74": (0.75 * 120 + 0.4 * 100) / B2_POP,
        "share_age_75_plus": (0.75 * 80 + 0.4 * 50) / B2_POP,
        "share_pcs_workers": (0.75 * 100 + 0.4 * 100) / 797.5,
        "share_diploma_bac": (0.75 * 150 + 0.4 * 60) / (0.75 * 800 + 0.4 * 300),
        "share_households_single_person": None,
        "share_owners": (0.75 * 200 + 0.4 * 50) / 400,  # 170 / 400
        "share_social_renters": (0.75 * 40 + 0.4 * 150) / 400,
        "share_foreigners": (0.75 * 50 + 0.4 * 25) / B2_POP,
        # population-weighted IRIS medians: (750 x 20000 + 200 x 30000) / 950
        "median_income_approx": (750 * 20000 + 200 * 30000) / 950,
        "has_masked_values": True,
        "masked_share": 0.75 / 1.15,  # masked I1 weight / all household weight of b2
    },
    B3: {
        "code_commune": "99001",
        "allocation_method": "areal",
        "allocation_quality": "partial_coverage",
        "iris_count": 1,
        "population": 300.0,  # 0.6 x 500
        "households": 120.0,  # 0.6 x 200, nothing masked
        "share_age_15_29": 0.1,
        "share_households_single_person": 0.4,  # 48 / 120
        "share_households_couple_no_children": 0.2,
        "share_households_couple_with_children": 0.25,
        "share_households_single_parent": 0.1,
        "share_renters": 0.76,  # 114 / 150
        "median_income_approx": 30000.0,
        "has_masked_values": False,
        "masked_share": 0.0,
    },
    B_PARIS: {
        "code_commune": "75056",
        "population": 300.0,
        "share_age_15_29": 0.3,
        "share_foreigners": 0.2,
        # no other theme for this IRIS: unknown, not zero
        "population_15_plus": None,
        "share_pcs_executives": None,
        "share_owners": None,
        "median_income_approx": None,  # absent from Filosofi
        "has_masked_values": False,
    },
}

# The mart's fractions, as its YAML (its contract) declares them.
SHARE_COLUMNS = [
    column["name"]
    for column in yaml.safe_load(
        (DBT_PROJECT_DIR / "models/marts/demographics/bureau_demographics.yml").read_text("utf-8")
    )["models"][0]["columns"]
    if column["name"].startswith("share_") or column["name"] == "masked_share"
]
AGE_COLUMNS = [c for c in SHARE_COLUMNS if c.startswith("share_age_")]
PCS_COLUMNS = [c for c in SHARE_COLUMNS if c.startswith("share_pcs_")]


def _ledger(cur: psycopg.Cursor, key: str, status: str = "loaded") -> int:
    cur.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
        "values (%s, %s, %s, %s, %s) returning batch_id",
        (SOURCE, f"{key}.csv", uuid.uuid4().hex, key, status),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def _cell(value: float | None) -> tuple[float | None, bool, str | None]:
    """(value, masked, mask_code) as the census loader lands a cell; None is INSEE's `s`."""
    return (None, True, "s") if value is None else (float(value), False, None)


def _copy_values(cur: psycopg.Cursor, rows: list[tuple[Any, ...]]) -> None:
    columns = (
        "batch_id, vintage, geo_year, theme, code_iris, code_commune, prefix, indicator, "
        "value, masked, mask_code"
    )
    with cur.copy(f"copy raw.census_iris_values ({columns}) from stdin") as copy:
        for row in rows:
            copy.write_row(row)


def _insert_census(cur: psycopg.Cursor) -> None:
    for theme, prefixes in CENSUS.items():
        batch = _ledger(cur, f"{theme}:{VINTAGE}")
        iris_of_theme = sorted({i for ind in prefixes.values() for v in ind.values() for i in v})
        cur.executemany(
            "insert into raw.census_iris (batch_id, vintage, geo_year, theme, source_line, "
            "code_iris, code_commune, typ_iris) values (%s, %s, %s, %s, %s, %s, %s, 'H')",
            [
                (batch, VINTAGE, VINTAGE + 2, theme, line, iris, iris[:5])
                for line, iris in enumerate(iris_of_theme, start=2)
            ],
        )
        _copy_values(
            cur,
            [
                (
                    batch,
                    VINTAGE,
                    VINTAGE + 2,
                    theme,
                    iris,
                    iris[:5],
                    prefix,
                    indicator,
                    *_cell(value),
                )
                for prefix, indicators in prefixes.items()
                for indicator, values in indicators.items()
                for iris, value in values.items()
            ],
        )
    # A superseded load with an IRIS of commune 99001 that has no weight (raw rows never hold
    # two batches of one key): if staging let it through, the commune totals would differ.
    old = _ledger(cur, f"population:{VINTAGE}", status="superseded")
    _copy_values(
        cur,
        [
            (
                old,
                VINTAGE,
                VINTAGE + 2,
                "population",
                I_SUPERSEDED,
                "99001",
                "P",
                "POP",
                *_cell(9999),
            )
        ],
    )
    filosofi = _ledger(cur, f"filosofi:{INCOME_VINTAGE}")
    filosofi_keys = (INCOME_VINTAGE, INCOME_VINTAGE + 1, "filosofi")  # vintage, geo_year, theme
    cur.executemany(
        "insert into raw.census_iris (batch_id, vintage, geo_year, theme, source_line, "
        "code_iris, code_commune) values (%s, %s, %s, 'filosofi', %s, %s, %s)",
        [
            (filosofi, INCOME_VINTAGE, INCOME_VINTAGE + 1, line, iris, iris[:5])
            for line, iris in enumerate(MEDIANS, start=2)
        ],
    )
    _copy_values(
        cur,
        [
            (filosofi, *filosofi_keys, iris, iris[:5], "DISP", "MED", *_cell(median))
            for iris, median in MEDIANS.items()
        ],
    )


def _insert_weights(cur: psycopg.Cursor) -> None:
    batch = _ledger(cur, "iris_bureau")
    cur.executemany(
        "insert into raw.iris_bureau_weights (batch_id, geo_year, code_iris, code_commune, "
        "bureau_id, weight, method, quality, n_addresses) values (%s, %s, %s, %s, %s, %s, %s, "
        "%s, %s)",
        [
            (batch, VINTAGE + 2, iris, bureau.split("_")[0], bureau, w, method, quality, 50)
            for iris, bureau, w, method, quality in WEIGHTS
        ],
    )


def _delete_our_rows(cur: psycopg.Cursor, run_ids: list[str]) -> None:
    for table in ("raw.census_iris_values", "raw.census_iris", "raw.iris_bureau_weights"):
        cur.execute(
            f"delete from {table} where batch_id in "
            "(select batch_id from raw.batch_ledger where source = %s)",
            (SOURCE,),
        )
    cur.execute("delete from raw.batch_ledger where source = %s", (SOURCE,))
    cur.execute("delete from ops.dbt_results where run_id = any(%s)", (run_ids,))
    # Tables keep our rows until the next build: remove them so later modules never see them.
    for table in ("mart_audit.bureau_demographics", "intermediate.int_census__allocated_to_bureau"):
        cur.execute("select to_regclass(%s)", (table,))
        found = cur.fetchone()
        if found is not None and found[0] is not None:
            cur.execute(f"delete from {table} where bureau_id = any(%s)", (list(OUR_BUREAUX),))


@pytest.fixture(scope="module")
def raw_rows(db: psycopg.Connection, run_ids: list[str]) -> Iterator[None]:
    with db.cursor() as cur:
        _delete_our_rows(cur, [])  # a previous interrupted run
        _insert_census(cur)
        _insert_weights(cur)
    yield
    with db.cursor() as cur:
        _delete_our_rows(cur, run_ids)


@pytest.fixture(scope="module")
def first_build(warehouse_url: str, raw_rows: None, run_ids: list[str]) -> DbtOutcome:
    run_id = f"test-dbt-demographics-{uuid.uuid4().hex[:8]}"
    run_ids.append(run_id)
    return build(warehouse_url, run_id, select=SELECTION)


def _mart_rows(db: psycopg.Connection) -> dict[str, dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "select * from mart_audit.bureau_demographics where bureau_id = any(%s)",
            (list(OUR_BUREAUX),),
        )
        return {row["bureau_id"]: row for row in cur.fetchall()}


def test_build_passes_with_unit_tests_and_commune_totals(first_build: DbtOutcome) -> None:
    problems = [r for r in first_build.results if r.status not in ("success", "pass", "warn")]
    assert first_build.success, problems
    by_id = {r.unique_id: r for r in first_build.results}
    for model in (
        "stg_census__iris_values",
        "stg_geography__iris_bureau_weights",
        "int_census__allocated_to_bureau",
        "int_census__iris_income",
        "int_census__median_income_by_bureau",
        "bureau_demographics",
    ):
        assert by_id[f"model.scrutin.{model}"].status == "success"
    unit_tests = {
        r.unique_id.rsplit(".", 1)[-1]: r.status
        for r in first_build.results
        if r.resource_type == "unit_test"
    }
    expected = {
        "test_int_census__selected_vintages_latest_population_by_default": "pass",
        "test_int_census__selected_vintages_pinned_by_var": "pass",
        "test_int_census__allocated_to_bureau_arithmetic": "pass",
        "test_int_census__iris_income_selected_vintages": "pass",
        "test_int_census__median_income_by_bureau_weighted_average": "pass",
        "test_bureau_demographics_share_formulas": "pass",
    }
    # The selection may pull in other models' unit tests: ours must all be there and pass.
    assert expected.items() <= unit_tests.items(), unit_tests
    assert all(status == "pass" for status in unit_tests.values()), unit_tests
    # The Paris IRIS (75120) is compared under 75056: this passes only through the mapping; the
    # superseded batch's IRIS (no weight) would make commune 99001 differ if it got through.
    assert by_id["test.scrutin.assert_census_allocation_preserves_commune_totals"].status == "pass"
    assert by_id["test.scrutin.assert_pcs_groups_partition_the_15_plus_population"].status == "pass"


def test_allocated_values_match_hand_computed_values(
    first_build: DbtOutcome, db: psycopg.Connection
) -> None:
    with db.cursor() as cur:
        cur.execute(
            "select bureau_id, theme, indicator, value, is_masked, masked_weight "
            "from intermediate.int_census__allocated_to_bureau "
            "where bureau_id = any(%s) and indicator in ('POP', 'MEN')",
            (list(OUR_BUREAUX),),
        )
        rows = {(r[0], r[2]): r[3:] for r in cur.fetchall()}
    assert rows[(B1, "POP")] == (pytest.approx(250.0), False, 0.0)
    assert rows[(B2, "POP")] == (pytest.approx(950.0), False, 0.0)
    assert rows[(B3, "POP")] == (pytest.approx(300.0), False, 0.0)
    assert rows[(B_PARIS, "POP")] == (pytest.approx(300.0), False, 0.0)
    # Masked I1 households: b1 has nothing known, b2 only I2's 0.4 x 200, flagged.
    assert rows[(B1, "MEN")] == (None, True, pytest.approx(0.25))
    assert rows[(B2, "MEN")] == (pytest.approx(80.0), True, pytest.approx(0.75))
    assert rows[(B3, "MEN")] == (pytest.approx(120.0), False, 0.0)
    assert (B_PARIS, "MEN") not in rows


def test_mart_rows_match_hand_computed_values(
    first_build: DbtOutcome, db: psycopg.Connection
) -> None:
    mart = _mart_rows(db)
    assert set(mart) == set(EXPECTED)
    for bureau_id, expected in EXPECTED.items():
        actual = mart[bureau_id]
        for column, value in expected.items():
            if isinstance(value, float):
                assert actual[column] == pytest.approx(value, rel=1e-12), (bureau_id, column)
            else:
                assert actual[column] == value, (bureau_id, column)


def test_profiles_sum_to_one_and_shares_are_fractions(
    first_build: DbtOutcome, db: psycopg.Connection
) -> None:
    for bureau_id, row in _mart_rows(db).items():
        assert sum(row[c] for c in AGE_COLUMNS) == pytest.approx(1.0, abs=1e-9), bureau_id
        if row["population_15_plus"]:
            assert sum(row[c] for c in PCS_COLUMNS) == pytest.approx(1.0, abs=1e-9), bureau_id
        for column in SHARE_COLUMNS:
            assert row[column] is None or 0 <= row[column] <= 1, (bureau_id, column)


def test_the_data_tests_pass_then_refuse_a_broken_mart(
    first_build: DbtOutcome, warehouse_url: str, db: psycopg.Connection
) -> None:
    """The mart's dbt tests, against `raw`: allocated totals, weights both ways, fractions."""
    # Built by first_build with the mart: what the mart's own tests read beside it.
    upstream = ("stg_geography__iris_bureau_weights", "stg_census__iris_values")
    tests = data_tests_of(warehouse_url, ["bureau_demographics"], present=upstream)
    assert {
        "assert_every_demographics_bureau_has_loaded_weights",
        "assert_every_weighted_bureau_with_census_population_has_demographics",
    } <= set(tests)
    # The mart is empty until a census vintage and the weights are loaded: an empty mart must
    # not block the publication of the election marts (no row-count test here).
    assert not any(name.startswith("has_rows") for name in tests)
    assert failing(db, tests) == {}

    with db.cursor() as cur:
        cur.execute(
            "select population, share_owners from mart_audit.bureau_demographics "
            "where bureau_id = %s",
            (B3,),
        )
        saved = cur.fetchone()
        assert saved is not None
        # b3 gains an inhabitant and an impossible share; a bureau without weights appears.
        cur.execute(
            "update mart_audit.bureau_demographics set population = population + 1, "
            "share_owners = 1.5 where bureau_id = %s",
            (B3,),
        )
        cur.execute(
            "insert into mart_audit.bureau_demographics (bureau_id, code_commune, census_vintage, "
            "allocation_method, allocation_quality, iris_count, has_masked_values, masked_share) "
            "values (%s, '99002', %s, 'areal', 'good', 1, false, 0)",
            (STRAY_BUREAU, VINTAGE),
        )
    try:
        failures = failing(db, tests)
    finally:
        with db.cursor() as cur:
            cur.execute(
                "delete from mart_audit.bureau_demographics where bureau_id = %s", (STRAY_BUREAU,)
            )
            cur.execute(
                "update mart_audit.bureau_demographics set population = %s, share_owners = %s "
                "where bureau_id = %s",
                (*saved, B3),
            )
    # Nothing else: the keys, the other shares and the 15+ totals are still right.
    assert failures == {
        "bureau_demographics_population_adds_up_to_census_commune_totals": 1,
        "accepted_range_bureau_demographics_share_owners__1__0": 1,
        "bureau_demographics_owners_and_renters_at_most_one": 1,
        "assert_every_demographics_bureau_has_loaded_weights": 1,
    }
    assert failing(db, tests) == {}


def _set_weight(
    db: psycopg.Connection, iris: str, bureau: str, *, weight: float, new_bureau: str
) -> None:
    with db.cursor() as cur:
        cur.execute(
            "update raw.iris_bureau_weights set weight = %s, bureau_id = %s "
            "where code_iris = %s and bureau_id = %s and batch_id in "
            "(select batch_id from raw.batch_ledger where source = %s)",
            (weight, new_bureau, iris, bureau, SOURCE),
        )
        assert cur.rowcount == 1


def _broken_build(warehouse_url: str, run_ids: list[str], label: str) -> DbtOutcome:
    run_id = f"test-dbt-demographics-{label}-{uuid.uuid4().hex[:8]}"
    run_ids.append(run_id)
    outcome = build(warehouse_url, run_id, select=SELECTION)  # must not raise
    with connect(warehouse_url) as conn, conn.cursor() as cur:
        cur.execute(
            "select unique_id from ops.dbt_results where run_id = %s and status = 'fail'",
            (run_id,),
        )
        assert {r[0] for r in cur.fetchall()} == set(outcome.failed)
    return outcome


def test_weights_not_summing_to_one_fail_the_build(
    first_build: DbtOutcome, warehouse_url: str, db: psycopg.Connection, run_ids: list[str]
) -> None:
    # I1's weights now sum to 1.05: 50 inhabitants would be created in commune 99001.
    _set_weight(db, I1, B1, weight=0.3, new_bureau=B1)
    try:
        outcome = _broken_build(warehouse_url, run_ids, "sum")
    finally:
        _set_weight(db, I1, B1, weight=0.25, new_bureau=B1)
    assert not outcome.success
    (sum_test,) = outcome.failed
    assert sum_test.startswith(
        "test.scrutin.stg_geography__iris_bureau_weights_sum_to_one_per_iris."
    )
    by_id = {r.unique_id: r for r in outcome.results}
    assert by_id[sum_test].failures == 1  # one IRIS
    # Nothing is allocated from weights that failed their test: the allocation and the mart are
    # skipped (the previous mart_audit stays, and the gate refuses to publish).
    assert by_id["model.scrutin.int_census__allocated_to_bureau"].status == "skipped"
    assert by_id["model.scrutin.bureau_demographics"].status == "skipped"


def test_iris_sent_to_another_commune_fails_the_commune_totals(
    first_build: DbtOutcome, warehouse_url: str, db: psycopg.Connection, run_ids: list[str]
) -> None:
    # Weights still sum to 1 per IRIS, but b3's 0.6 of I2 goes to a bureau of commune 99003:
    # 300 inhabitants leave 99001 (1200 allocated for 1500 counted) and appear in 99003.
    _set_weight(db, I2, B3, weight=0.6, new_bureau="99003_0001")
    try:
        outcome = _broken_build(warehouse_url, run_ids, "commune")
    finally:
        _set_weight(db, I2, "99003_0001", weight=0.6, new_bureau=B3)
        with db.cursor() as cur:
            cur.execute("delete from mart_audit.bureau_demographics where bureau_id = '99003_0001'")
            cur.execute(
                "delete from intermediate.int_census__allocated_to_bureau "
                "where bureau_id = '99003_0001'"
            )
    assert not outcome.success
    totals_test = "test.scrutin.assert_census_allocation_preserves_commune_totals"
    # The allocation's test, and the published columns' own totals: the mart publishes the
    # allocation, so both layers refuse it (and nothing else: weights still sum to 1).
    assert {uid.split(".")[2] for uid in outcome.failed} == {
        "assert_census_allocation_preserves_commune_totals",
        "bureau_demographics_population_adds_up_to_census_commune_totals",
        "bureau_demographics_population_15_plus_adds_up_to_census_commune_totals",
    }
    by_id = {r.unique_id: r for r in outcome.results}
    # Every allocated indicator of I2 differs in both communes, except I2's one zero (CS1).
    assert by_id[totals_test].failures == 2 * sum(
        1
        for prefixes in CENSUS.values()
        for indicators in prefixes.values()
        for values in indicators.values()
        if values.get(I2)
    )
