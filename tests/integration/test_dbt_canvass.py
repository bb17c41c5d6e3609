"""Canvass facts and opinion marts end to end: raw knocks -> real `dbt build` -> mart_audit -> GX.

Hand-made knocks (source `test_dbt_canvass`, bureaux `99901_*`, every expected value computed
by hand below) go through staging, intermediate and the two canvass marts (the bureaux are made
known to the reference through REU address rows). Three bureaux sit on the k-min boundary
(default k_min = 11): A has 12 conversations (k_min + 1: its figures are computed on the first
11 answers, the published step), B 11 (k_min) but one refused consent, so 10 answers: hidden
(k_min counts answers, not conversations), C 10 (k_min - 1); one more conversation in C hides
in a superseded batch and another is flagged `future_timestamp`, so a filter that lets either
through turns C's 10 into 11 and publishes it. Then hand-broken marts
(an unsuppressed small cell, a column added without suppression, a day moved) must fail the
audit suites. The canvass rules themselves (bureau matching, versions, flags) are tested in
test_dbt_canvass_rules.py. Other modules may load real canvass data into the same database: this
module only reads, breaks and deletes its own rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.rows import dict_row

from pipeline.dbt_runner import DbtOutcome, build, campaign_vars, run_dbt
from scrutin.config import DBT_PROJECT_DIR
from scrutin.db import connect
from scrutin.vocabulary import TOPICS
from tests.compiled_dbt_tests import data_tests_of, failing

SOURCE = "test_dbt_canvass"  # knock source and ledger source of every row of this module
CAMPAIGN = "test-dbt-canvass"
OUR_BUREAUX = "99901\\_%"  # LIKE pattern of this module's bureaux
RESULTS_ELECTION = "2019_euro_t1"  # registered, loaded by no other module
A, B, C = "99901_0001", "99901_0002", "99901_0003"
CANVASSER_1 = f"{SOURCE}-cv1"
CANVASSER_2 = f"{SOURCE}-cv2"
CANVASSER_3 = f"{SOURCE}-cv3"
MARTS = ("canvass_bureau_daily", "canvass_bureau_opinion", "canvass_progress")
# The canvass models, everything upstream (staging, roll doors) and their tests and unit tests:
# the whole project's build is test_dbt_models' business, and takes minutes.
CANVASS_SELECTION = (
    "+canvass_bureau_daily +canvass_bureau_opinion +canvass_progress "
    "+int_canvass__canvasser_quality +int_canvass__excluded_knocks"
)
KNOCK_COLUMNS = (
    "source",
    "knock_id",
    "campaign_id",
    "canvasser_key",
    "bureau_id",
    "building_key",
    "knocked_at",
    "outcome",
    "topics",
    "intends_to_vote",
    "registered_here",
    "sentiment",
    "wants_to_volunteer",
    "consent",
    "integrity_flags",
    "batch_id",
    "line_no",
    "source_updated_at",
    "longitude",
    "latitude",
)
KNOCK_TYPES = (
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "text",
    "text[]",
    "text",
    "bool",
    "text",
    "bool",
    "bool",
    "text[]",
    "int8",
    "int4",
    "timestamptz",
    "float8",
    "float8",
)

UTC = dt.UTC


def _at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _knock(
    n: str,
    bureau: str,
    building: str,
    at: dt.datetime,
    outcome: str,
    *,
    canvasser: str = CANVASSER_1,
    topics: list[str] | None = None,
    intends: str | None = None,
    registered: bool | None = None,
    sentiment: str | None = None,
    volunteer: bool | None = None,
    consent: bool | None = None,
    flags: tuple[str, ...] = (),
    batch: str = "loaded",
    where: tuple[float, float] | None = None,
) -> dict[str, Any]:
    return {
        "knock_id": f"{bureau}-{n}",
        "campaign_id": CAMPAIGN,
        "canvasser_key": canvasser,
        "bureau_id": bureau,
        "building_key": f"{SOURCE}-{building}",
        "knocked_at": at,
        "outcome": outcome,
        "topics": topics,
        "intends_to_vote": intends,
        "registered_here": registered,
        "sentiment": sentiment,
        "wants_to_volunteer": volunteer,
        "consent": consent,
        "integrity_flags": list(flags),
        "batch": batch,
        "where": where,
    }


def _conversation(n: str, bureau: str, building: str, at: dt.datetime, **answers: Any) -> dict:
    answers.setdefault("consent", True)
    return _knock(n, bureau, building, at, "opened_conversation", **answers)


def _bureau_a() -> list[dict[str, Any]]:
    """12 conversations over two days, 20 doors in the roll."""
    sentiments = ["positive"] * 6 + ["neutral"] * 3 + ["negative"] * 2
    intents = ["certain"] * 5 + ["likely"] * 3 + ["unlikely", "no", "unknown"]
    topics = [["housing", "security"]] * 3 + [["housing"]] * 4 + [[]] * 3 + [["transport"]]
    knocks = [
        _conversation(
            f"c{i}",
            A,
            f"a{i + 1}",
            _at(10, 9, i),
            sentiment=sentiments[i],
            intends=intents[i],
            registered=i < 8,
            volunteer=i < 2,
            topics=topics[i],
        )
        for i in range(11)
    ]
    knocks += [
        _knock("nr1", A, "a1", _at(10, 8), "not_reached"),
        _knock("nr2", A, "a2", _at(10, 8, 5), "not_reached"),
        _knock("nr3", A, "a12", _at(10, 8, 10), "not_reached"),
        _knock("dnc", A, "a13", _at(10, 11), "do_not_contact"),
        # 23:30 UTC on 10 March is 00:30 on 11 March in Paris (UTC+1): day two.
        _knock("late", A, "a14", _at(10, 23, 30), "opened_refused"),
        _knock("mv", A, "a15", _at(11, 10, 5), "moved"),
        _conversation(
            "c11",
            A,
            "a1",
            _at(11, 10),
            sentiment="positive",
            intends="certain",
            registered=True,
            volunteer=False,
            topics=["housing"],
        ),
    ]
    return knocks


def _bureau_b() -> list[dict[str, Any]]:
    """Exactly k_min conversations, one without consent (so without answers); no roll doors."""
    knocks = [
        _conversation(
            f"c{i}",
            B,
            f"b{i + 1}",
            _at(12, 9, i),
            canvasser=CANVASSER_2,
            sentiment="positive" if i < 5 else "negative",
            intends="certain",
            registered=True,
            volunteer=False,
            topics=["cost_of_living"],
        )
        for i in range(10)
    ]
    knocks += [
        # No consent: the loader keeps the conversation but no answer.
        _conversation("c10", B, "b11", _at(12, 9, 10), canvasser=CANVASSER_2, consent=False),
        # 30 s and 1.1 km apart: dbt flags both too_fast_distant.
        _knock(
            "in1",
            B,
            "b12",
            _at(12, 10),
            "inaccessible",
            canvasser=CANVASSER_2,
            where=(-4.48, 48.39),
        ),
        _knock(
            "in2",
            B,
            "b12",
            _at(12, 10) + dt.timedelta(seconds=30),
            "inaccessible",
            canvasser=CANVASSER_2,
            where=(-4.48, 48.40),
        ),
    ]
    return knocks


def _bureau_c() -> list[dict[str, Any]]:
    """k_min - 1 conversations, two per building, 5 doors; two more that must not count."""
    answers = {
        "canvasser": CANVASSER_3,
        "sentiment": "positive",
        "intends": "certain",
        "registered": True,
        "volunteer": True,
        "topics": ["security"],
    }
    knocks = [
        _conversation(f"c{i}", C, f"c{i // 2 + 1}", _at(12, 14, i), **answers) for i in range(10)
    ]
    knocks += [
        _conversation("superseded", C, "c1", _at(12, 15), batch="superseded", **answers),
        _conversation("future", C, "c6", _at(12, 15, 1), flags=("future_timestamp",), **answers),
    ]
    return knocks


KNOCKS = [*_bureau_a(), *_bureau_b(), *_bureau_c()]
# raw.roll_bureau_doors (and electors, so that doors <= electors holds for the roll suite).
ROLL = {A: (20, 30), C: (5, 8)}

# ---- hand-computed expectations ---------------------------------------------------------------

NO_TOPICS = dict.fromkeys((f"topic_{t}" for t in TOPICS), None)
HIDDEN_TOPICS = "fewer than 11 topic answers that day (k_min): topic counts hidden"
HIDDEN_ALL = (
    "fewer than 11 answers (k_min) to: support, intends_to_vote, registered_here, "
    "wants_to_volunteer: their figures hidden"
)


def _topics(**counts: int) -> dict[str, int]:
    return {f"topic_{t}": counts.get(t, 0) for t in TOPICS}


EXPECTED_DAILY: dict[tuple[str, dt.date], dict[str, Any]] = {
    (A, dt.date(2026, 3, 10)): {
        "doors_knocked": 15,  # 11 conversations + 3 not reached + 1 do not contact
        "buildings_visited": 13,  # a1..a13 (a1 and a2 knocked twice)
        "doors_opened": 11,
        "conversations": 11,
        "not_reached": 3,
        "opened_refused": 0,
        "moved": 0,
        "do_not_contact": 1,
        "doors_opened_share": 11 / 15,
        "conversation_share": 11 / 15,
        "not_reached_share": 3 / 15,
        "do_not_contact_share": 1 / 15,
        "buildings_visited_to_date": 13,
        "bureau_doors": 20,
        "coverage": 13 / 20,
        "topic_answers": 11,
        "topics_suppressed": False,  # 11 topic answers = k_min
        "topics_suppression_reason": None,
        **_topics(housing=7, security=3, transport=1),
    },
    (A, dt.date(2026, 3, 11)): {
        "doors_knocked": 3,  # the 23:30 UTC knock of the 10th, the move, the revisit of a1
        "buildings_visited": 3,
        "doors_opened": 2,
        "conversations": 1,
        "not_reached": 0,
        "opened_refused": 1,
        "moved": 1,
        "do_not_contact": 0,
        "doors_opened_share": 2 / 3,
        "conversation_share": 1 / 3,
        "not_reached_share": 0.0,
        "do_not_contact_share": 0.0,
        "buildings_visited_to_date": 15,  # a14 and a15 are new, a1 is not
        "bureau_doors": 20,
        "coverage": 15 / 20,
        "topic_answers": 0,
        "topics_suppressed": True,
        "topics_suppression_reason": HIDDEN_TOPICS,
        **NO_TOPICS,
    },
    (B, dt.date(2026, 3, 12)): {
        "doors_knocked": 13,
        "buildings_visited": 12,
        "doors_opened": 11,
        "conversations": 11,
        "not_reached": 0,
        "opened_refused": 0,
        "moved": 0,
        "do_not_contact": 0,
        "doors_opened_share": 11 / 13,
        "conversation_share": 11 / 13,
        "not_reached_share": 0.0,
        "do_not_contact_share": 0.0,
        "buildings_visited_to_date": 12,
        "bureau_doors": None,  # not in the roll extract
        "coverage": None,
        # 11 conversations but 10 topic answers: the non-consenting one answered nothing
        "topic_answers": 0,
        "topics_suppressed": True,
        "topics_suppression_reason": HIDDEN_TOPICS,
        **NO_TOPICS,
    },
    (C, dt.date(2026, 3, 12)): {
        "doors_knocked": 10,  # not 12: the superseded and the future-flagged knocks are out
        "buildings_visited": 5,  # not 6: c6 only appears on the future-flagged knock
        "doors_opened": 10,
        "conversations": 10,
        "not_reached": 0,
        "opened_refused": 0,
        "moved": 0,
        "do_not_contact": 0,
        "doors_opened_share": 1.0,
        "conversation_share": 1.0,
        "not_reached_share": 0.0,
        "do_not_contact_share": 0.0,
        "buildings_visited_to_date": 5,
        "bureau_doors": 5,
        "coverage": 1.0,
        "topic_answers": 0,
        "topics_suppressed": True,
        "topics_suppression_reason": HIDDEN_TOPICS,
        **NO_TOPICS,
    },
}

OPINION_FIGURES = (
    "support_positive_share",
    "support_neutral_share",
    "support_negative_share",
    "intends_to_vote_certain_share",
    "intends_to_vote_likely_share",
    "intends_to_vote_unlikely_share",
    "intends_to_vote_no_share",
    "registered_here_share",
    "wants_to_volunteer_count",
)
QUESTIONS = ("support", "intends_to_vote", "registered_here", "wants_to_volunteer")
NO_ANSWERS = {
    **{f"{q}_answers": 0 for q in QUESTIONS},
    **{f"{q}_suppressed": True for q in QUESTIONS},
    **dict.fromkeys(OPINION_FIGURES, None),
}

EXPECTED_OPINION: dict[str, dict[str, Any]] = {
    A: {  # k_min + 1 conversations: figures on the first 11 answers of each question
        "first_knocked_on": dt.date(2026, 3, 10),
        "last_knocked_on": dt.date(2026, 3, 11),
        "doors_knocked": 18,
        "doors_opened": 13,
        "conversations": 12,
        "suppressed": False,
        "suppression_reason": None,
        # c0..c10 (c11, the 12th answer, waits for the next step of 11)
        "support_answers": 11,
        "support_suppressed": False,
        "support_positive_share": 6 / 11,
        "support_neutral_share": 3 / 11,
        "support_negative_share": 2 / 11,
        # c10's `unknown` is no answer: c0..c9 and c11 make exactly 11
        "intends_to_vote_answers": 11,
        "intends_to_vote_suppressed": False,
        "intends_to_vote_certain_share": 6 / 11,
        "intends_to_vote_likely_share": 3 / 11,
        "intends_to_vote_unlikely_share": 1 / 11,
        "intends_to_vote_no_share": 1 / 11,
        "registered_here_answers": 11,
        "registered_here_suppressed": False,
        "registered_here_share": 8 / 11,
        "wants_to_volunteer_answers": 11,
        "wants_to_volunteer_suppressed": False,
        "wants_to_volunteer_count": 2,
    },
    B: {  # k_min conversations, one without consent: 10 answers, every question hidden
        "first_knocked_on": dt.date(2026, 3, 12),
        "last_knocked_on": dt.date(2026, 3, 12),
        "doors_knocked": 13,
        "doors_opened": 11,
        "conversations": 11,
        "suppressed": True,
        "suppression_reason": HIDDEN_ALL,
        **NO_ANSWERS,
    },
    C: {  # k_min - 1: everything hidden but the counts
        "first_knocked_on": dt.date(2026, 3, 12),
        "last_knocked_on": dt.date(2026, 3, 12),
        "doors_knocked": 10,
        "doors_opened": 10,
        "conversations": 10,
        "suppressed": True,
        "suppression_reason": HIDDEN_ALL,
        **NO_ANSWERS,
    },
}

EXPECTED_CANVASSERS = {
    # (knocks, doors_opened, conversations, active_days, bureaux, flagged_knocks, flag_counts)
    CANVASSER_1: (18, 13, 12, 2, 1, 0, {}),
    CANVASSER_2: (13, 11, 11, 1, 1, 2, {"too_fast_distant": 2}),
    CANVASSER_3: (10, 10, 10, 1, 1, 0, {}),
}


# ---- fixtures ---------------------------------------------------------------------------------


def _ledger(cur: psycopg.Cursor, status: str, name: str) -> int:
    cur.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
        "values (%s, %s, %s, %s, %s) returning batch_id",
        (SOURCE, name, uuid.uuid4().hex, CAMPAIGN, status),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def _insert_rows(cur: psycopg.Cursor) -> None:
    batches = {
        status: _ledger(cur, status, f"{SOURCE}-{status}.json")
        for status in ("loaded", "superseded")
    }
    with cur.copy(f"copy raw.canvass_knocks ({', '.join(KNOCK_COLUMNS)}) from stdin") as copy:
        copy.set_types(list(KNOCK_TYPES))
        for line_no, k in enumerate(KNOCKS, start=1):
            longitude, latitude = k["where"] or (None, None)
            copy.write_row(
                (
                    SOURCE,
                    k["knock_id"],
                    k["campaign_id"],
                    k["canvasser_key"],
                    k["bureau_id"],
                    k["building_key"],
                    k["knocked_at"],
                    k["outcome"],
                    k["topics"],
                    k["intends_to_vote"],
                    k["registered_here"],
                    k["sentiment"],
                    k["wants_to_volunteer"],
                    k["consent"],
                    k["integrity_flags"],
                    batches[k["batch"]],
                    line_no,
                    k["knocked_at"],
                    longitude,
                    latitude,
                )
            )
    # The REU addresses make the bureaux known (int_canvass__bureau_matches counts only knocks
    # in a bureau of the results or the REU).
    reu_batch = _ledger(cur, "loaded", f"{SOURCE}-reu.csv")
    for line, bureau in enumerate((A, B, C), start=1):
        commune, bv = bureau.split("_")
        cur.execute(
            "insert into raw.reu_addresses (batch_id, source_line, code_commune_ref, "
            "id_brut_bv_reu, code_commune, code_commune_results, code_bv, bureau_id, "
            "longitude, latitude, nb_adresses) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, 0, 0, 1)",
            (reu_batch, line, commune, bureau, commune, commune, bv, bureau),
        )
    # ... and results rows make them polling stations: a counted knock in a bureau without
    # election results refuses the build (issue 14, docs/quality.md). A registered election no
    # other module loads; one list takes every valid vote.
    results_batch = _ledger(cur, "loaded", f"{SOURCE}-results.csv")
    for line, bureau in enumerate((A, B, C), start=2):
        commune, bv = bureau.split("_")
        cur.execute(
            "insert into raw.election_results_bureau (batch_id, election_id, source_line, "
            "code_departement, code_commune, code_bv, bureau_id, inscrits, votants, "
            "abstentions, exprimes, blancs, nuls) "
            "values (%s, %s, %s, %s, %s, %s, %s, 100, 50, 50, 48, 1, 1)",
            (results_batch, RESULTS_ELECTION, line, commune[:2], commune, bv, bureau),
        )
        cur.execute(
            "insert into raw.election_results_candidate (batch_id, election_id, source_line, "
            "code_commune, code_bv, bureau_id, numero_panneau, nuance, voix) "
            "values (%s, %s, %s, %s, %s, %s, 1, 'LUG', 48)",
            (results_batch, RESULTS_ELECTION, line, commune, bv, bureau),
        )
    roll_batch = _ledger(cur, "loaded", f"{SOURCE}-roll.csv")
    for bureau, (doors, electors) in ROLL.items():
        commune, bv = bureau.split("_")
        cur.execute(
            "insert into raw.roll_bureau_doors (batch_id, reference_date, code_commune, "
            "code_commune_results, code_bv, bureau_id, doors) "
            "values (%s, '2026-01-01', %s, %s, %s, %s, %s)",
            (roll_batch, commune, commune, bv, bureau, doors),
        )
        cur.execute(
            "insert into raw.roll_bureau_counts (batch_id, reference_date, code_commune, "
            "code_commune_results, code_bv, bureau_id, list_type, age_band, sex, voters) "
            "values (%s, '2026-01-01', %s, %s, %s, %s, 'LP', '35-49', 'F', %s)",
            (roll_batch, commune, commune, bv, bureau, electors),
        )


def _delete_test_rows(cur: psycopg.Cursor, run_ids: list[str]) -> None:
    cur.execute("delete from raw.canvass_knocks where source = %s", (SOURCE,))
    for table in (
        "raw.roll_bureau_doors",
        "raw.roll_bureau_counts",
        "raw.reu_addresses",
        "raw.election_results_candidate",
        "raw.election_results_bureau",
    ):
        cur.execute(f"delete from {table} where bureau_id like %s", (OUR_BUREAUX,))
    cur.execute("delete from raw.batch_ledger where source = %s", (SOURCE,))
    cur.execute("delete from ops.canvass_campaigns where campaign_id = %s", (CAMPAIGN,))
    cur.execute("delete from ops.dbt_results where run_id = any(%s)", (run_ids,))
    cur.execute("delete from ops.quality_results where run_id like %s", (f"{SOURCE}%",))
    # The marts keep our rows until the next build: later modules must never see them.
    for table in (
        *MARTS,
        "polling_stations",
        "polling_station_results",
        "polling_station_nuance_votes",
        "election_results",
    ):
        cur.execute("select to_regclass(%s)", (f"mart_audit.{table}",))
        found = cur.fetchone()
        if found is not None and found[0] is not None:
            cur.execute(f"delete from mart_audit.{table} where bureau_id like %s", (OUR_BUREAUX,))


@pytest.fixture(scope="module", autouse=True)
def campaign_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The module's builds are campaign CAMPAIGN's, whose knocks these are: a build counts its
    own campaign's knocks only (dbt/macros/campaign.sql)."""
    path = tmp_path_factory.mktemp("campaign") / f"{CAMPAIGN}.yml"
    path.write_text(
        f"campaign_id: {CAMPAIGN}\nelection_date: 2027-04-11\ncampaign_start: 2026-09-01\n",
        encoding="utf-8",
    )
    patch = pytest.MonkeyPatch()
    patch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(path))
    yield path
    patch.undo()


@pytest.fixture(scope="module")
def db(warehouse_url: str) -> Iterator[psycopg.Connection]:
    with connect(warehouse_url, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def run_ids() -> list[str]:
    return []


@pytest.fixture(scope="module")
def built(warehouse_url: str, db: psycopg.Connection, run_ids: list[str]) -> Iterator[DbtOutcome]:
    with db.cursor() as cur:
        _delete_test_rows(cur, [])  # an interrupted previous run
        with db.transaction():
            _insert_rows(cur)
    run_id = f"{SOURCE}-{uuid.uuid4().hex[:8]}"
    run_ids.append(run_id)
    try:
        # canvass_progress reads polling_stations, whose relationships tests from the score
        # marts (built in the gate's second stage) would be selected eagerly: leave them out.
        yield build(warehouse_url, run_id, select=CANVASS_SELECTION, exclude="tag:scores")
    finally:
        with db.cursor() as cur:
            _delete_test_rows(cur, run_ids)


def _rows(db: psycopg.Connection, table: str, *key: str) -> dict[Any, dict[str, Any]]:
    """Our rows of a mart as column -> value dicts, keyed by the `key` columns' values."""
    with db.cursor(row_factory=dict_row) as cur:
        cur.execute(f"select * from {table} where bureau_id like %s", (OUR_BUREAUX,))
        rows = cur.fetchall()
    keyed = {tuple(row[k] for k in key): row for row in rows}
    assert len(keyed) == len(rows), f"duplicate {key} in {table}"
    return {k[0] if len(k) == 1 else k: row for k, row in keyed.items()}


def _assert_values(actual: dict[str, Any], expected: dict[str, Any], where: object) -> None:
    for column, value in expected.items():
        if isinstance(value, float):
            assert actual[column] == pytest.approx(value), (where, column)
        else:
            assert actual[column] == value, (where, column)


# ---- the build -------------------------------------------------------------------------------


@pytest.mark.db
@pytest.mark.slow
def test_build_is_green_with_the_canvass_models_and_their_unit_tests(built: DbtOutcome) -> None:
    problems = [r for r in built.results if r.status not in ("success", "pass")]
    assert built.success, problems
    by_id = {r.unique_id: r for r in built.results}
    for model in (
        "stg_canvass__knocks",
        "int_canvass__knocks",
        "int_canvass__bureau_day",
        "int_canvass__bureau_opinion",
        "int_canvass__canvasser_quality",
        *MARTS,
    ):
        assert by_id[f"model.scrutin.{model}"].status == "success", model
    canvass_unit_tests = {
        uid.rsplit(".", 1)[1]
        for uid, r in by_id.items()
        if r.resource_type == "unit_test" and "canvass" in uid and r.status == "pass"
    }
    assert {
        "test_canvass_bureau_opinion_k_min_boundary",
        "test_canvass_bureau_opinion_k_min_from_var",
        "test_canvass_bureau_daily_k_min_boundary",
        "test_canvass_bureau_daily_k_min_from_var",
        "test_stg_canvass_knocks_day_and_filters",
        "test_int_canvass_bureau_day_counts",
        "test_int_canvass_bureau_opinion_counts",
        "test_int_canvass_answers_steps_in_landing_order",
        "test_int_canvass_canvasser_quality_rates",
        "test_int_canvass_bureau_matches_rules",
        "test_int_canvass_knock_versions_dedupe",
        "test_int_canvass_fast_knock_pairs",
        "test_int_canvass_canvasser_contact_rates_threshold",
        "test_int_canvass_canvasser_contact_rates_from_vars",
        "test_int_canvass_knocks_counted_versions_and_flags",
        "test_int_canvass_excluded_knocks_reasons",
    } <= canvass_unit_tests
    k_min_tests = [uid for uid in by_id if uid.startswith("test.scrutin.k_min_suppressed_")]
    assert len(k_min_tests) == 5  # one per opinion question, one for the daily topics
    assert {by_id[uid].status for uid in k_min_tests} == {"pass"}
    for singular in (
        "assert_canvass_answers_only_on_conversations",
        "assert_canvass_marts_reconcile_with_knocks",
        "assert_canvass_landed_knocks_are_counted_or_excluded",
    ):
        assert by_id[f"test.scrutin.{singular}"].status == "pass"


@pytest.mark.db
@pytest.mark.slow
def test_daily_facts_match_hand_computed_values(built: DbtOutcome, db: psycopg.Connection) -> None:
    rows = _rows(db, "mart_audit.canvass_bureau_daily", "bureau_id", "knocked_on")
    assert set(rows) == set(EXPECTED_DAILY)
    for key, expected in EXPECTED_DAILY.items():
        _assert_values(rows[key], expected, key)
        assert f"{rows[key]['code_commune']}_{rows[key]['code_bv']}" == key[0]


@pytest.mark.db
@pytest.mark.slow
def test_opinion_is_suppressed_below_k_min_and_published_from_k_min(
    built: DbtOutcome, db: psycopg.Connection
) -> None:
    # The fixture sits on the boundary of k_min = 11, the k_min the build passes.
    assert campaign_vars()["k_min"] == 11
    rows = _rows(db, "mart_audit.canvass_bureau_opinion", "bureau_id")
    assert set(rows) == set(EXPECTED_OPINION)
    for bureau, expected in EXPECTED_OPINION.items():
        _assert_values(rows[bureau], expected, bureau)
    # k_min - 1: every column outside the public ones is null.
    hidden = set(rows[C]) - _public_columns("canvass_bureau_opinion")
    assert hidden == set(OPINION_FIGURES)
    assert all(rows[C][column] is None for column in hidden)


@pytest.mark.db
@pytest.mark.slow
def test_canvasser_quality_is_computed_and_stays_out_of_the_marts(
    built: DbtOutcome, db: psycopg.Connection
) -> None:
    with db.cursor() as cur:
        cur.execute(
            "select canvasser_key, knocks, doors_opened, conversations, active_days, bureaux, "
            "flagged_knocks, flag_counts, contact_rate, conversation_rate "
            "from intermediate.int_canvass__canvasser_quality where canvasser_key = any(%s)",
            ([CANVASSER_1, CANVASSER_2, CANVASSER_3],),
        )
        rows = {r[0]: r[1:] for r in cur.fetchall()}
        cur.execute(
            "select table_schema from information_schema.tables "
            "where table_name = 'int_canvass__canvasser_quality'"
        )
        schemas = {r[0] for r in cur.fetchall()}
    assert schemas == {"intermediate"}
    assert set(rows) == set(EXPECTED_CANVASSERS)
    for key, expected in EXPECTED_CANVASSERS.items():
        assert rows[key][:7] == expected
        knocks, opened, conversations = expected[:3]
        assert rows[key][7] == pytest.approx(opened / knocks)
        assert rows[key][8] == pytest.approx(conversations / knocks)


@pytest.mark.db
@pytest.mark.slow
def test_canvass_marts_are_documented_contracted_tables(
    built: DbtOutcome, db: psycopg.Connection
) -> None:
    with db.cursor() as cur:
        for table in MARTS:
            cur.execute(
                "select table_type from information_schema.tables "
                "where table_schema = 'mart_audit' and table_name = %s",
                (table,),
            )
            assert cur.fetchone() == ("BASE TABLE",), table
            cur.execute(
                "select a.attname, format_type(a.atttypid, a.atttypmod), "
                "col_description(a.attrelid, a.attnum) "
                "from pg_attribute a where a.attrelid = %s::regclass "
                "and a.attnum > 0 and not a.attisdropped",
                (f"mart_audit.{table}",),
            )
            columns = {name: (kind, comment) for name, kind, comment in cur.fetchall()}
            assert [c for c, (_, comment) in columns.items() if not comment] == [], table
            cur.execute(
                "select obj_description(%s::regclass, 'pg_class')", (f"mart_audit.{table}",)
            )
            assert (cur.fetchone() or [None])[0], table
            if table == "canvass_bureau_daily":
                assert columns["knocked_on"][0] == "date"
                assert columns["coverage"][0] == "double precision"
                assert columns["topic_housing"][0] == "integer"
                assert columns["topics_suppressed"][0] == "boolean"
            elif table == "canvass_bureau_opinion":
                assert columns["support_positive_share"][0] == "double precision"
                assert columns["wants_to_volunteer_count"][0] == "integer"
                assert columns["suppressed"][0] == "boolean"


# ---- the k_min and reconciliation tests, on tampered marts --------------------------------------


def _k_min_test_arguments(model: str) -> list[dict[str, Any]]:
    path = DBT_PROJECT_DIR / "models" / "marts" / "canvass" / f"{model}.yml"
    (node,) = yaml.safe_load(path.read_text(encoding="utf-8"))["models"]
    tests = [t["k_min_suppressed"] for t in node["data_tests"] if "k_min_suppressed" in t]
    return [test["arguments"] for test in tests]


def _public_columns(model: str) -> set[str]:
    """What may stay visible on a row whose every question is below k_min: the columns every
    k_min_suppressed test of the model lists as public (one test per question)."""
    return set.intersection(
        *(
            {*arguments["public_columns"], arguments["count_column"], arguments["flag_column"]}
            for arguments in _k_min_test_arguments(model)
        )
    )


def _failing(url: str, db: psycopg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The data tests of the canvass marts that fail now, with the rows they return."""
    tests = data_tests_of(url, MARTS, present=("int_canvass__knocks",))
    return {name: tests[name].rows(db) for name in failing(db, tests)}


@contextmanager
def tampered(db: psycopg.Connection, do: str, undo: str) -> Iterator[None]:
    """Break our rows of a built mart by hand, and put them back whatever the test does."""
    db.execute(do)
    try:
        yield
    finally:
        db.execute(undo)


@pytest.mark.db
@pytest.mark.slow
def test_the_data_tests_pass_on_the_built_marts(
    built: DbtOutcome, warehouse_url: str, db: psycopg.Connection
) -> None:
    assert _failing(warehouse_url, db) == {}


@pytest.mark.db
@pytest.mark.slow
def test_an_unsuppressed_small_cell_fails_the_k_min_test(
    built: DbtOutcome, warehouse_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    table = "mart_audit.canvass_bureau_opinion"
    with tampered(
        db,
        f"update {table} set support_positive_share = 1.0 where bureau_id = '{C}'",
        f"update {table} set support_positive_share = null where bureau_id = '{C}'",
    ):
        failures = _failing(warehouse_url, db)
        # The real dbt runner refuses it too (what the gate's build does).
        dbt_outcome = run_dbt(
            ["test", "--select", "canvass_bureau_opinion,test_type:data"],
            warehouse_url,
            target_path=tmp_path / "target",  # never the shared dbt/target
            log_path=tmp_path / "logs",
        )
    ((name, rows),) = failures.items()
    assert name.startswith("k_min_suppressed_canvass_bureau_opinion_")
    ((row_values, counted, flagged, k_min, problem),) = rows
    assert row_values["bureau_id"] == C and row_values["support_positive_share"] == 1.0
    assert counted < k_min and flagged is True  # suppressed, yet a figure is shown
    assert problem == f"opinion figure published below k_min = {k_min}"
    failed_tests = [uid for uid in dbt_outcome.failed if "k_min_suppressed" in uid]
    assert len(failed_tests) == 1, dbt_outcome.failed
    assert _failing(warehouse_url, db) == {}  # put back: green again


@pytest.mark.db
@pytest.mark.slow
def test_a_new_column_counts_as_opinion_until_declared_public(
    built: DbtOutcome, warehouse_url: str, db: psycopg.Connection
) -> None:
    """Fail-closed: a figure added to the mart without suppression is caught, by name."""
    table = "mart_audit.canvass_bureau_daily"
    with tampered(
        db,
        f"alter table {table} add column net_support_score double precision; "
        f"update {table} set net_support_score = 0.4 where bureau_id = '{C}'",
        f"alter table {table} drop column net_support_score",
    ):
        failures = _failing(warehouse_url, db)
    ((name, rows),) = failures.items()
    assert name.startswith("k_min_suppressed_canvass_bureau_daily_")
    assert rows and all(r[0]["bureau_id"] == C and r[0]["net_support_score"] == 0.4 for r in rows)


@pytest.mark.db
@pytest.mark.slow
def test_a_topic_count_on_a_small_day_or_a_moved_day_fails_the_daily_tests(
    built: DbtOutcome, warehouse_url: str, db: psycopg.Connection
) -> None:
    table = "mart_audit.canvass_bureau_daily"
    where = f"bureau_id = '{A}' and knocked_on = '2026-03-11'"
    with tampered(
        db,
        f"update {table} set topic_housing = 1, topics_suppressed = false, "
        f"knocked_on = '2026-03-12' where {where}",
        f"update {table} set topic_housing = null, topics_suppressed = true, "
        f"knocked_on = '2026-03-11' where bureau_id = '{A}' and knocked_on = '2026-03-12'",
    ):
        failures = _failing(warehouse_url, db)
    assert set(failures) == {
        next(n for n in failures if n.startswith("k_min_suppressed_canvass_bureau_daily_")),
        "assert_canvass_marts_reconcile_with_knocks",
        # a topic counted on a day whose published step has no answer
        "canvass_bureau_daily_topics_within_conversations",
    }, failures
    (k_min_rows,) = (rows for name, rows in failures.items() if name.startswith("k_min"))
    ((row_values, _, flagged, _, problem),) = k_min_rows
    assert row_values["topic_housing"] == 1 and flagged is False
    assert problem == "topics_suppressed must be true"
    # The knocks of the 11th (Paris) are no longer on the 11th: the day-by-day reconciliation
    # with the knocks says so, for both days; the bureau's totals still agree.
    reconciliation = failures["assert_canvass_marts_reconcile_with_knocks"]
    assert {(r[0], r[1], str(r[2])) for r in reconciliation} == {
        ("canvass_bureau_daily", A, "2026-03-11"),
        ("canvass_bureau_daily", A, "2026-03-12"),
    }


@pytest.mark.db
@pytest.mark.slow
def test_the_stricter_campaign_k_min_wins_in_the_gate(
    built: DbtOutcome, warehouse_url: str, db: psycopg.Connection
) -> None:
    """A campaign loaded with k_min = 12 makes A's 11 published answers a breach, per question
    and on its published topic day."""
    db.execute(
        "insert into ops.canvass_campaigns (campaign_id, election_date, campaign_start, "
        "retention_days, k_min, retention_ends_at, params_hash) "
        "values (%s, '2027-04-11', '2026-09-01', 30, 12, '2027-05-12', 'test')",
        (CAMPAIGN,),
    )
    try:
        failures = _failing(warehouse_url, db)
    finally:
        db.execute("delete from ops.canvass_campaigns where campaign_id = %s", (CAMPAIGN,))
    opinion = [rows for name, rows in failures.items() if "canvass_bureau_opinion" in name]
    assert len(opinion) == len(QUESTIONS)  # one test per question, one row each: A
    problems = set()
    for ((row_values, counted, flagged, k_min, problem),) in opinion:
        assert row_values["bureau_id"] == A and counted == 11 and k_min == 12
        assert flagged is False
        problems.add(problem)
    assert problems == {f"{q}_suppressed must be true" for q in QUESTIONS}
    (daily,) = [rows for name, rows in failures.items() if "canvass_bureau_daily" in name]
    ((row_values, counted, flagged, k_min, problem),) = daily
    assert (row_values["bureau_id"], row_values["knocked_on"]) == (A, "2026-03-10")
    assert counted == 11 and problem == "topics_suppressed must be true"


@pytest.mark.db
@pytest.mark.slow
def test_the_k_min_tests_use_the_build_threshold_and_the_campaigns(warehouse_url: str) -> None:
    """The threshold is the build's var (the campaign file's k_min) or a loaded campaign's."""
    for model in MARTS[:2]:
        tests = [
            t
            for name, t in data_tests_of(warehouse_url, [model]).items()
            if name.startswith("k_min_suppressed_")
        ]
        assert tests, model
        for test in tests:
            assert f"greatest({campaign_vars()['k_min']}," in test.sql
            assert '"ops"."canvass_campaigns"' in test.sql


@pytest.mark.db
@pytest.mark.slow
def test_a_wrong_running_total_or_a_missing_day_fails_the_progress_reconciliation(
    built: DbtOutcome, warehouse_url: str, db: psycopg.Connection
) -> None:
    """The reconciliation reads each bureau's totals on the latest knock day (filtered
    aggregates, not a sort of the calendar): a total off by one there, or a day gone from the
    middle of the calendar, is reported for that bureau and no other."""
    table = "mart_audit.canvass_progress"
    latest = f"(select max(day) from {table})"
    second = f"(select min(day) + 1 from {table} where bureau_id = '{A}')"
    name = "assert_canvass_progress_reconciles_with_knocks"
    columns = [
        "bureau_id",
        "knocks_doors_knocked",
        "progress_doors_knocked",
        "doors_knocked_to_date",
        "knocks_conversations",
        "progress_conversations",
        "conversations_to_date",
        "knocks_buildings_visited",
        "buildings_visited_to_date",
        "first_knocked_on",
        "first_day",
        "latest_knocked_on",
        "last_day",
        "days",
    ]
    with tampered(
        db,
        f"update {table} set doors_knocked_to_date = doors_knocked_to_date + 1 "
        f"where bureau_id = '{A}' and day = {latest}",
        f"update {table} set doors_knocked_to_date = doors_knocked_to_date - 1 "
        f"where bureau_id = '{A}' and day = {latest}",
    ):
        failures = _failing(warehouse_url, db)
    (row,) = (dict(zip(columns, r, strict=True)) for r in failures[name])
    assert row["bureau_id"] == A
    assert row["knocks_doors_knocked"] == row["progress_doors_knocked"]
    assert row["doors_knocked_to_date"] == row["knocks_doors_knocked"] + 1

    with tampered(
        db,
        f"create temp table saved_day as select * from {table} "
        f"where bureau_id = '{A}' and day = {second}; "
        f"delete from {table} where bureau_id = '{A}' and day = {second}",
        f"insert into {table} select * from saved_day; drop table saved_day",
    ):
        (saved,) = db.execute("select count(*) from saved_day").fetchone() or (0,)
        failures = _failing(warehouse_url, db)
    assert saved == 1  # A's calendar has a second day to lose
    (row,) = (dict(zip(columns, r, strict=True)) for r in failures[name])
    assert row["bureau_id"] == A
    assert row["days"] == (row["last_day"] - row["first_day"]).days  # one day short
    assert _failing(warehouse_url, db) == {}  # put back: green again
