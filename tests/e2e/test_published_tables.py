"""Three published tables on the bundled sample: tidy results, canvass progress, adult French.

The e2e tier's demo warehouse: the whole sample loaded by the ingestion DAGs (real Brest 2024
results, the REU and roll samples, the census files in INSEE's layout, the geography and its
weights, every canvass export) and published by the gate. The assertions compare the published
marts with figures computed independently: the real file's totals, the counted knocks, the raw
census values x allocation weights; and the BI role reads the new tables with no change to
pipeline/publish.py. Also what the canvass rules made of the sample's traps.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from scrutin.campaign import DEFAULT_CAMPAIGN_CONFIG, demo_clock_shift, load_campaign, paris_today
from scrutin.db import connect
from tests.e2e.conftest import DemoWarehouse

pytestmark = [pytest.mark.db, pytest.mark.slow]

NEW_MODELS = ("election_results", "canvass_progress", "bureau_demographics")
ADULT_BANDS = ("POP1824", "POP2539", "POP4054", "POP5564", "POP6579", "POP80P")
# Counts only: a column added here later must be a count, never an opinion figure.
PROGRESS_COLUMNS = [
    "campaign_id",  # the campaign these knocks belong to (docs/architecture.md)
    "bureau_id",
    "code_commune",
    "code_bv",
    "day",
    "doors_knocked",
    "conversations",
    "doors_knocked_to_date",
    "conversations_to_date",
    "buildings_visited_to_date",
    "bureau_doors",
    "coverage",
]


@pytest.fixture(scope="module")
def built(demo_warehouse: DemoWarehouse) -> tuple[str, dict[str, str]]:
    """The demo warehouse and the status of every dbt node of the gate run that published it."""
    with connect(demo_warehouse.url) as conn:
        statuses = dict(
            conn.execute(
                "select unique_id, status from ops.dbt_results where run_id = %s",
                (demo_warehouse.run_id,),
            ).fetchall()
        )
    return demo_warehouse.url, statuses


@pytest.fixture(scope="module")
def db(built: tuple[str, dict[str, str]]) -> Iterator[psycopg.Connection]:
    url, _ = built
    with connect(url, autocommit=True) as conn:
        yield conn


def _rows(db: psycopg.Connection, sql: str, *params: Any) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_build_passes_with_the_new_models_and_their_tests(
    built: tuple[str, dict[str, str]],
) -> None:
    _, by_id = built
    # Exposures are declarations, never run (`no-op`); every model and test succeeded.
    problems = {u: s for u, s in by_id.items() if s not in ("success", "pass", "no-op")}
    assert not problems
    for model in NEW_MODELS:
        assert by_id[f"model.scrutin.{model}"] == "success"
    for unit_test in (
        "unit_test.scrutin.election_results.test_election_results_tidy_rows_and_shares",
        "unit_test.scrutin.canvass_progress.test_canvass_progress_dense_calendar_and_running_totals",
        "unit_test.scrutin.bureau_demographics.test_bureau_demographics_adult_french_population_approx",
        "unit_test.scrutin.int_census__bureau_counts.test_int_census_bureau_counts_adults_and_french_nationals",
    ):
        assert by_id[unit_test] == "pass", unit_test
    for test in (
        "test.scrutin.assert_election_results_reconcile_with_polling_station_results",
        "test.scrutin.assert_canvass_progress_reconciles_with_knocks",
    ):
        assert by_id[test] == "pass", test
    decreasing = [u for u in by_id if u.startswith("test.scrutin.non_decreasing_canvass_progress")]
    assert len(decreasing) == 4
    assert {by_id[u] for u in decreasing} == {"pass"}


def test_tidy_results_of_2024_legi_t1_add_up_to_the_real_file(db: psycopg.Connection) -> None:
    (totals,) = _rows(
        db,
        "select count(*) as candidate_rows, count(distinct bureau_id) as bureaux, "
        "sum(votes) as votes, count(distinct code_commune) as communes "
        "from mart.election_results where election_id = '2024_legi_t1'",
    )
    # README 1.1: 201 bureaux of 35 communes, 120,586 valid votes; 95 bureaux of 29-02 with 10
    # candidates and 106 of 29-03 with 8.
    assert totals == {
        "candidate_rows": 95 * 10 + 106 * 8,
        "bureaux": 201,
        "votes": 120586,
        "communes": 35,
    }
    by_nuance = dict(
        db.execute(
            "select nuance, sum(votes) from mart.election_results "
            "where election_id = '2024_legi_t1' group by nuance"
        ).fetchall()
    )
    assert by_nuance["UG"] == 36924  # CADALEN 18,850 + SMOLARZ 18,074
    assert by_nuance["RN"] == 30692  # KERVELLA 12,065 + DONVAL 18,627
    assert by_nuance["ENS"] == 35244  # 9,105 + 26,139
    cadalen = db.execute(
        "select sum(votes), count(*) from mart.election_results "
        "where election_id = '2024_legi_t1' and last_name = 'CADALEN'"
    ).fetchone()
    assert cadalen == (18850, 95)
    # the nuance -> bloc seed of the bureau history
    blocs = dict(
        db.execute(
            "select distinct nuance, bloc from mart.election_results "
            "where nuance in ('UG', 'RN', 'ENS')"
        ).fetchall()
    )
    assert blocs == {"UG": "left", "RN": "far_right", "ENS": "centre"}


def test_tidy_results_match_polling_station_results_bureau_by_bureau(
    db: psycopg.Connection,
) -> None:
    mismatches = _rows(
        db,
        "with tidy as ("
        "  select election_id, bureau_id, sum(votes) as votes, max(valid_votes) as valid, "
        "  sum(share_of_valid_votes) as shares, max(share_of_registered) as top_registered, "
        "  max(registered) as registered, min(commune_name) as commune_name "
        "  from mart.election_results group by 1, 2) "
        "select tidy.*, p.valid_votes, p.registered as p_registered "
        "from tidy full join mart.polling_station_results p using (election_id, bureau_id) "
        "where tidy.votes is distinct from p.valid_votes "
        "or tidy.valid is distinct from p.valid_votes "
        "or tidy.registered is distinct from p.registered "
        "or tidy.commune_name is distinct from p.commune_name "
        "or abs(tidy.shares - 1) > 1e-9 or tidy.top_registered > 1",
    )
    assert mismatches == []
    brest = db.execute(
        "select count(distinct bureau_id), sum(votes) from mart.election_results "
        "where election_id = '2024_legi_t1' and code_commune = '29019'"
    ).fetchone()
    assert brest == (104, 56519)  # test_gate's published Brest figures


def test_every_column_of_the_three_tables_has_a_comment(db: psycopg.Connection) -> None:
    for table in NEW_MODELS:
        rows = db.execute(
            "select a.attname, d.description from pg_attribute a "
            "left join pg_description d on d.objoid = a.attrelid and d.objsubid = a.attnum "
            "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped "
            "order by a.attnum",
            (f"mart.{table}",),
        ).fetchall()
        assert rows, table
        assert [name for name, comment in rows if not (comment or "").strip()] == [], table
        (table_comment,) = db.execute(
            "select obj_description(%s::regclass, 'pg_class')", (f"mart.{table}",)
        ).fetchone() or (None,)
        assert table_comment and table_comment.strip(), table
    comments = dict(
        db.execute(
            "select a.attname, d.description from pg_attribute a "
            "join pg_description d on d.objoid = a.attrelid and d.objsubid = a.attnum "
            "where a.attrelid = 'mart.bureau_demographics'::regclass"
        ).fetchall()
    )
    assert "APPROXIMATION" in comments["adult_french_population_approx"]


def test_demographics_keeps_its_columns_and_appends_the_new_ones(db: psycopg.Connection) -> None:
    columns = [
        r[0]
        for r in db.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'mart' and table_name = 'bureau_demographics' "
            "order by ordinal_position"
        ).fetchall()
    ]
    assert columns[:4] == ["bureau_id", "code_commune", "census_vintage", "income_vintage"]
    assert columns[-4:] == [
        "has_masked_values",
        "masked_share",
        "adults_18_plus",
        "adult_french_population_approx",
    ]


def test_canvass_progress_publishes_counts_only(db: psycopg.Connection) -> None:
    columns = [
        r[0]
        for r in db.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'mart' and table_name = 'canvass_progress' "
            "order by ordinal_position"
        ).fetchall()
    ]
    assert columns == PROGRESS_COLUMNS


def _raw_knocks_by_bureau_day(db: psycopg.Connection) -> dict[str, dict[dt.date, dict[str, Any]]]:
    """The knocks the marts count (int_canvass__knocks: the counted version of each knock, its
    bureau, no `future_timestamp` one), per bureau and Paris day computed here."""
    rows = db.execute(
        "select k.bureau_id, (k.knocked_at at time zone 'Europe/Paris')::date, k.building_key, "
        "k.outcome = 'opened_conversation' "
        "from intermediate.int_canvass__knocks k"
    ).fetchall()
    days: dict[str, dict[dt.date, dict[str, Any]]] = defaultdict(dict)
    for bureau, day, building, conversation in rows:
        cell = days[bureau].setdefault(day, {"doors": 0, "conversations": 0, "buildings": set()})
        cell["doors"] += 1
        cell["conversations"] += int(conversation)
        cell["buildings"].add(building)
    return days


def test_canvass_progress_running_totals_match_the_raw_knocks(db: psycopg.Connection) -> None:
    raw = _raw_knocks_by_bureau_day(db)
    assert len(raw) >= 10  # the sample canvasses many bureaux
    latest = max(day for days in raw.values() for day in days)
    expected: dict[tuple[str, dt.date], tuple[int, int, int, int, int]] = {}
    for bureau, days in raw.items():
        doors = conversations = 0
        seen: set[str] = set()
        day = min(days)
        while day <= latest:
            cell = days.get(day, {"doors": 0, "conversations": 0, "buildings": set()})
            doors += cell["doors"]
            conversations += cell["conversations"]
            seen |= cell["buildings"]
            expected[(bureau, day)] = (
                cell["doors"],
                cell["conversations"],
                doors,
                conversations,
                len(seen),
            )
            day += dt.timedelta(days=1)
    actual = {
        (r[0], r[1]): tuple(r[2:])
        for r in db.execute(
            "select bureau_id, day, doors_knocked, conversations, doors_knocked_to_date, "
            "conversations_to_date, buildings_visited_to_date from mart.canvass_progress"
        ).fetchall()
    }
    assert actual.keys() == expected.keys()
    assert actual == expected
    # some bureau really has days without knocks between two canvassing days
    assert any(v[0] == 0 for v in expected.values())


def test_canvass_progress_coverage_is_clipped_buildings_over_roll_doors(
    db: psycopg.Connection,
) -> None:
    rows = db.execute(
        "select c.buildings_visited_to_date, c.bureau_doors, c.coverage, p.doors "
        "from mart.canvass_progress c "
        "left join mart.polling_stations p using (bureau_id)"
    ).fetchall()
    with_doors = 0
    for visited, bureau_doors, coverage, doors in rows:
        assert bureau_doors == doors
        if doors:
            with_doors += 1
            assert coverage == pytest.approx(min(1.0, visited / doors), abs=1e-12)
        else:
            assert coverage is None
    assert len(rows) > 0
    print(f"canvass_progress: {len(rows)} rows, {with_doors} with roll doors")


def _recompute_adult_french(db: psycopg.Connection) -> dict[str, dict[str, float | None]]:
    """adults, French nationals and population per bureau from raw census values x raw weights
    (loaded batches only), and the approximation, without any dbt model."""
    indicators = (*ADULT_BANDS, "POP_FR", "POP")
    rows = db.execute(
        "select w.bureau_id, v.indicator, sum(w.weight * v.value), bool_or(v.masked) "
        "from raw.iris_bureau_weights w "
        "join raw.batch_ledger lw on lw.batch_id = w.batch_id and lw.status = 'loaded' "
        "join raw.census_iris_values v on v.code_iris = w.code_iris "
        "join raw.batch_ledger lv on lv.batch_id = v.batch_id and lv.status = 'loaded' "
        "where v.theme = 'population' and v.prefix = 'P' and v.indicator = any(%s) "
        "group by 1, 2",
        (list(indicators),),
    ).fetchall()
    per_bureau: dict[str, dict[str, tuple[float, bool]]] = defaultdict(dict)
    for bureau, indicator, value, masked in rows:
        per_bureau[bureau][indicator] = (value, masked)
    result: dict[str, dict[str, float | None]] = {}
    for bureau, values in per_bureau.items():
        complete = all(i in values and not values[i][1] for i in indicators)
        if not complete:
            continue
        adults = sum(values[i][0] for i in ADULT_BANDS)
        french, population = values["POP_FR"][0], values["POP"][0]
        result[bureau] = {
            "adults": adults,
            "approx": adults * french / population if population > 0 else None,
        }
    return result


def test_adult_french_population_approx_recomputed_from_raw_census(
    db: psycopg.Connection,
) -> None:
    expected = _recompute_adult_french(db)
    assert len(expected) >= 10
    (vintages,) = db.execute(
        "select count(distinct vintage) from raw.census_iris_values where theme = 'population'"
    ).fetchone() or (0,)
    assert vintages == 1  # one vintage in the sample: the raw sum is the selected vintage's
    mart = {
        r["bureau_id"]: r
        for r in _rows(
            db,
            "select bureau_id, population, adults_18_plus, adult_french_population_approx "
            "from mart.bureau_demographics",
        )
    }
    checked = 0
    for bureau, values in expected.items():
        row = mart[bureau]
        assert row["adults_18_plus"] == pytest.approx(values["adults"], rel=1e-9), bureau
        if values["approx"] is None:
            assert row["adult_french_population_approx"] is None, bureau
            continue
        assert row["adult_french_population_approx"] == pytest.approx(values["approx"], rel=1e-9), (
            bureau
        )
        assert 0 < row["adult_french_population_approx"] < row["adults_18_plus"], bureau
        checked += 1
    assert checked >= 10
    # The French are not all the inhabitants in the sample: the approximation is a real product.
    assert any(
        v["approx"] is not None and v["approx"] < v["adults"] * (1 - 1e-6)
        for v in expected.values()
    )


def test_publication_exposes_the_new_tables_to_the_bi_role(db: psycopg.Connection) -> None:
    """The gate's unchanged publish code gave the BI role the new tables."""
    from scrutin.config import bi_reader_role

    for table in NEW_MODELS:
        (rows,) = db.execute(f"select count(*) from mart.{table}").fetchone() or (0,)
        assert rows > 0, table
        (allowed,) = db.execute(
            "select has_table_privilege(%s, %s, 'select')", (bi_reader_role(), f"mart.{table}")
        ).fetchone() or (False,)
        assert allowed, table


def test_the_canvass_rules_on_the_sample(db: psycopg.Connection) -> None:
    """The sample's traps, as dbt's canvass rules resolved them in the published demo: the
    unknown bureau and the contact exported twice are left out with their reason, each
    integrity flag is raised, a knock without a bureau found its own from the REU addresses, and
    every landed row is counted or excluded exactly once."""
    excluded = db.execute(
        "select file_name, line_no, exclusion_reason "
        "from intermediate.int_canvass__excluded_knocks order by file_name"
    ).fetchall()
    # With the clock past the demo campaign, the demo loads a moved copy of the sample, named
    # `<file>+<days>d` (ingestion/canvass/dropzone.py).
    demo = load_campaign(DEFAULT_CAMPAIGN_CONFIG, anchored=False)
    shift = demo_clock_shift(demo, paris_today())
    moved = f"+{shift.days}d" if shift else ""
    assert excluded == [
        (f"nationbuilder_contacts_2026-11{moved}.csv", 12, "superseded_in_file"),  # duplicated
        (f"osdi_canvasses_2026-11{moved}.jsonl", 6, "bureau_not_in_reference"),  # 29019_0999
    ]
    flags = {
        r[0]
        for r in db.execute(
            "select distinct flag from intermediate.int_canvass__knocks "
            "cross join lateral unnest(integrity_flags) as flag"
        ).fetchall()
    }
    assert {"suppressed_building", "too_fast_distant", "high_contact_rate_canvasser"} <= flags
    methods = dict(
        db.execute(
            "select bureau_match_method, count(*) from intermediate.int_canvass__knocks group by 1"
        ).fetchall()
    )
    assert methods.get("reu_nearest", 0) >= 1 and methods["app"] > 500
    (landed,) = db.execute("select count(*) from raw.canvass_knocks").fetchone() or (0,)
    (counted,) = db.execute("select count(*) from intermediate.int_canvass__knocks").fetchone() or (
        0,
    )
    assert landed == counted + len(excluded)
