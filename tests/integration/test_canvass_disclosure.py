"""Disclosure control across releases (issue 14): the differencing attack, with real dbt builds.

The probe of issue 14 published canvass opinion figures that two releases could be combined to
undo: a bureau going from 11 to 12 answers gave the new respondent's answer as
12 x s12 - 11 x s11, and the daily topic counts of the day it was given as a plain difference.
And a bureau with 11 conversations, 10 of them refused consent, published the one answer there
was as shares of 1/11.

Here the attacker is a BI user who keeps every publication. Real 2024 results make the bureaux
known; hand-made knocks go through the canvass models in three builds:

1. bureau X: 11 consenting conversations on 10 March (a k_min cell, published); bureau P: the
   probe, 11 conversations of which 10 refused consent;
2. X gets a 12th respondent, on the same day (a late export): the attacker differences every
   published figure of X between builds 1 and 2, in canvass_bureau_opinion (shares times any
   published count that grew by one) and in canvass_bureau_daily (the day's topic counts);
3. X gets 10 more (22 answers): the figures move, by a whole step of k_min answers.

The targeting scores read the canvass through int_canvass__bureau_opinion only (checked on the
manifest): its answer counts must not move between builds 1 and 2 either, or q_updated would
carry the new answer into polling_station_targeting, bureau_map and the exports.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from pipeline.dbt_runner import build, build_target_path
from scrutin.db import connect
from tests.conftest import TEST_DB, TOUR1, drop_warehouse, fresh_warehouse

pytestmark = [pytest.mark.db, pytest.mark.slow]

K_MIN = 11  # config/campaign.yml, the k_min every build of this module runs with
SOURCE = "test_canvass_disclosure"
CAMPAIGN = "test-canvass-disclosure"
X = "29019_0001"  # the differencing attack
P = "29019_0002"  # the refused-consent probe
DB_NAME = f"{TEST_DB}_disclosure"
SELECTION = "+canvass_bureau_daily +canvass_bureau_opinion"
QUESTIONS = {
    "support": ("sentiment", ("positive", "neutral", "negative", "unknown")),
    "intends_to_vote": ("intends_to_vote", ("certain", "likely", "unlikely", "no", "unknown")),
}
# The 12th respondent of X: what the attacker wants to learn.
NEW_ANSWER = {
    "sentiment": "negative",
    "intends_to_vote": "no",
    "registered_here": True,
    "topics": ["jobs"],
}


def _conversation(bureau: str, n: int, at: dt.datetime, **answers: Any) -> dict[str, Any]:
    return {
        "bureau_id": bureau,
        "knock_id": f"{bureau}-{n}",
        "knocked_at": at,
        "consent": answers.pop("consent", True),
        "sentiment": None,
        "intends_to_vote": None,
        "registered_here": None,
        "wants_to_volunteer": None,
        "topics": None,
        **answers,
    }


def _x_first_eleven() -> list[dict[str, Any]]:
    """Mixed answers, so that no share is 0 or 1 and no difference is one-hot by chance."""
    sentiments = ["positive"] * 5 + ["neutral"] * 3 + ["negative"] * 3
    intents = ["certain"] * 5 + ["likely"] * 3 + ["unlikely"] * 2 + ["no"]
    topics = [["housing"]] * 4 + [["jobs", "housing"]] * 3 + [["security"]] * 4
    return [
        _conversation(
            X,
            i,
            dt.datetime(2026, 3, 10, 9, i, tzinfo=dt.UTC),
            sentiment=sentiments[i],
            intends_to_vote=intents[i],
            registered_here=i % 2 == 0,
            wants_to_volunteer=i < 3,
            topics=topics[i],
        )
        for i in range(11)
    ]


def _probe() -> list[dict[str, Any]]:
    """11 conversations, 10 of them without consent (so without any answer)."""
    answered = _conversation(
        P,
        0,
        dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC),
        sentiment="positive",
        intends_to_vote="certain",
        registered_here=True,
        wants_to_volunteer=True,
        topics=["housing"],
    )
    refused = [
        _conversation(P, i, dt.datetime(2026, 3, 10, 14, i, tzinfo=dt.UTC), consent=False)
        for i in range(1, 11)
    ]
    return [answered, *refused]


def _twelfth() -> list[dict[str, Any]]:
    """The new respondent: same day as the first eleven (the daily attack), loaded later."""
    return [_conversation(X, 11, dt.datetime(2026, 3, 10, 17, 0, tzinfo=dt.UTC), **NEW_ANSWER)]


def _ten_more() -> list[dict[str, Any]]:
    return [
        _conversation(
            X,
            12 + i,
            dt.datetime(2026, 3, 12, 9, i, tzinfo=dt.UTC),
            sentiment="positive",
            intends_to_vote="likely",
            registered_here=False,
            wants_to_volunteer=False,
            topics=["transport"],
        )
        for i in range(10)
    ]


def _land(conn: psycopg.Connection, knocks: list[dict[str, Any]]) -> None:
    """One export file: a ledger row and its knocks, as the canvass loader lands them."""
    row = conn.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
        "values (%s, %s, %s, %s, 'loaded') returning batch_id",
        (SOURCE, f"{SOURCE}-{uuid.uuid4().hex[:8]}.json", uuid.uuid4().hex, CAMPAIGN),
    ).fetchone()
    assert row is not None
    for line_no, k in enumerate(knocks, start=1):
        landed = {
            **k,
            "source": SOURCE,
            "campaign_id": CAMPAIGN,
            "canvasser_key": f"{SOURCE}-canvasser-{k['knock_id']}",
            "building_key": f"{SOURCE}-building-{k['knock_id']}",
            "source_updated_at": k["knocked_at"],
            "outcome": "opened_conversation",
            "integrity_flags": [],
            "batch_id": row[0],
            "line_no": line_no,
        }
        conn.execute(
            f"insert into raw.canvass_knocks ({', '.join(landed)}) "
            f"values ({', '.join(['%s'] * len(landed))})",
            list(landed.values()),
        )


def _snapshot(url: str) -> dict[str, dict[Any, dict[str, Any]]]:
    """What a BI user sees of our bureaux (and what the scores read), one build."""
    queries = {
        "opinion": ("select * from mart_audit.canvass_bureau_opinion", ("bureau_id",)),
        "daily": ("select * from mart_audit.canvass_bureau_daily", ("bureau_id", "knocked_on")),
        "scores_input": (
            "select * from intermediate.int_canvass__bureau_opinion",
            ("bureau_id",),
        ),
    }
    snapshot: dict[str, dict[Any, dict[str, Any]]] = {}
    with connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        for name, (sql, key) in queries.items():
            cur.execute(f"{sql} where bureau_id in (%s, %s)", (X, P))
            rows = cur.fetchall()
            snapshot[name] = {
                tuple(r[k] for k in key) if len(key) > 1 else r[key[0]]: r for r in rows
            }
    return snapshot


Publications = list[dict[str, dict[Any, dict[str, Any]]]]


@pytest.fixture(scope="module", autouse=True)
def campaign_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The module's builds are campaign CAMPAIGN's, whose knocks these are: a build counts its
    own campaign's knocks only (dbt/macros/campaign.sql)."""
    path = tmp_path_factory.mktemp("campaign") / f"{CAMPAIGN}.yml"
    path.write_text(
        f"campaign_id: {CAMPAIGN}\nelection_date: 2027-04-11\ncampaign_start: 2026-09-01\n"
        f"k_min: {K_MIN}\n",
        encoding="utf-8",
    )
    patch = pytest.MonkeyPatch()
    patch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(path))
    yield path
    patch.undo()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield fresh_warehouse(DB_NAME)
    drop_warehouse(DB_NAME)


@pytest.fixture(scope="module")
def publications(url: str) -> Publications:
    """Three builds of the canvass models, as three successive publications."""
    from ingestion.loaders.elections import load_results_file

    load_results_file(url, TOUR1, "2024_legi_t1")
    snapshots = []
    for knocks in (_x_first_eleven() + _probe(), _twelfth(), _ten_more()):
        with connect(url, autocommit=True) as conn:
            _land(conn, knocks)
        outcome = build(url, f"{SOURCE}-{uuid.uuid4().hex[:8]}", select=SELECTION)
        k_min_tests = [r for r in outcome.results if r.unique_id.startswith("test.scrutin.k_min_")]
        assert k_min_tests and {r.status for r in k_min_tests} == {"pass"}, outcome.failed
        snapshots.append(_snapshot(url))
    return snapshots


def _is(value: Any) -> bool:
    return value is not None


def _counts(row: dict[str, Any]) -> dict[str, int]:
    """Every published integer of a row: what the attacker can multiply a share by."""
    return {c: v for c, v in row.items() if isinstance(v, int) and not isinstance(v, bool)}


def _one_hot(values: list[float], index: int) -> bool:
    return all(abs(v - (1.0 if i == index else 0.0)) < 1e-9 for i, v in enumerate(values))


def _recovered_from_opinion(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The attack of issue 14 on canvass_bureau_opinion: for each question, each published
    count n that grew by exactly one (the new respondent) and the question's share columns
    s, n_after x s_after - n_before x s_before is the new answer's one-hot vector."""
    found = []
    for question, (answer_field, categories) in QUESTIONS.items():
        columns = [f"{question}_{c}_share" for c in categories if f"{question}_{c}_share" in after]
        if not columns or not all(_is(before[c]) and _is(after[c]) for c in columns):
            continue
        answered = [c.removeprefix(f"{question}_").removesuffix("_share") for c in columns]
        new = NEW_ANSWER[answer_field]
        assert new in answered  # the attacker knows every category of the question
        for name, n_after in _counts(after).items():
            n_before = before.get(name)
            if n_before is None or n_after - n_before != 1:
                continue
            deltas = [n_after * after[c] - n_before * before[c] for c in columns]
            if _one_hot(deltas, answered.index(new)):
                found.append(f"{question}: {name} x shares gives {new}")
    registered_before, registered_after = (
        before.get("registered_here_share"),
        after.get("registered_here_share"),
    )
    if _is(registered_before) and _is(registered_after):
        for name, n_after in _counts(after).items():
            n_before = before.get(name)
            if n_before is not None and n_after - n_before == 1:
                delta = n_after * registered_after - n_before * registered_before
                if abs(delta - float(NEW_ANSWER["registered_here"])) < 1e-9:
                    found.append(f"registered_here: {name} x share gives the answer")
    return found


def _recovered_from_daily(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The day's topic counts, differenced: exactly the new respondent's topics."""
    columns = [c for c in after if c.startswith("topic_") and c != "topic_answers"]
    if not all(_is(before[c]) and _is(after[c]) for c in columns):
        return []
    deltas = {c.removeprefix("topic_"): after[c] - before[c] for c in columns}
    if deltas == {t: int(t in NEW_ANSWER["topics"]) for t in deltas}:
        return [f"the day's topics give {NEW_ANSWER['topics']}"]
    return []


def test_one_new_respondent_cannot_be_differenced_out_of_two_publications(
    publications: Publications,
) -> None:
    first, second, _ = publications
    day = (X, dt.date(2026, 3, 10))
    # The attacker's preconditions hold: X was published, and one respondent was added.
    assert second["opinion"][X]["conversations"] == first["opinion"][X]["conversations"] + 1
    assert second["daily"][day]["conversations"] == first["daily"][day]["conversations"] + 1
    recovered = _recovered_from_opinion(first["opinion"][X], second["opinion"][X])
    recovered += _recovered_from_daily(first["daily"][day], second["daily"][day])
    assert recovered == []
    # Nothing an opinion figure is made of moved: not the published figures, not what the
    # targeting scores read (their q_updated would carry the answer into every score table).
    facts = {
        "doors_knocked",
        "doors_opened",
        "conversations",
        "first_knocked_on",
        "last_knocked_on",
    }
    for table, key in (("opinion", X), ("scores_input", X)):
        changed = {
            c for c, v in second[table][key].items() if v != first[table][key][c] and c not in facts
        }
        assert changed == set(), (table, changed)


def test_figures_move_by_whole_steps_of_k_min_answers(
    publications: Publications,
) -> None:
    third = publications[2]
    rows = [p["opinion"][X] for p in publications]
    assert [r["support_answers"] for r in rows] == [11, 11, 22]
    assert [r["intends_to_vote_answers"] for r in rows] == [11, 11, 22]
    # The third publication is on all 22 answers: the first 11, the 12th respondent (negative)
    # and the 10 of the third export (positive).
    assert third["opinion"][X]["support_positive_share"] == pytest.approx((5 + 10) / 22)
    assert third["opinion"][X]["support_negative_share"] == pytest.approx((3 + 1) / 22)
    # Between any two publications a question's denominator grows by 0 or by >= k_min
    # answers: differencing them describes at least k_min people.
    for question in ("support", "intends_to_vote", "registered_here", "wants_to_volunteer"):
        counts = [r[f"{question}_answers"] for r in rows]
        for a in counts:
            for b in counts:
                assert a == b or abs(a - b) >= K_MIN, (question, counts)
    # The daily topics: the 10 March cell keeps its 11 first answers (the 12th waits for
    # 10 more that day); 12 March, 10 answers, shows none.
    march_10 = [p["daily"][(X, dt.date(2026, 3, 10))] for p in publications]
    assert [d["topic_answers"] for d in march_10] == [11, 11, 11]
    assert {json.dumps({c: d[c] for c in d if c.startswith("topic_")}) for d in march_10} == {
        json.dumps({c: march_10[0][c] for c in march_10[0] if c.startswith("topic_")})
    }
    march_12 = third["daily"][(X, dt.date(2026, 3, 12))]
    assert march_12["topics_suppressed"] and march_12["topic_jobs"] is None


def test_refused_consent_does_not_count_toward_k_min(
    publications: Publications,
) -> None:
    """The probe: 11 conversations, 10 refused consent. One person's answers, as 1/11
    shares, is what the issue found published."""
    for publication in publications:
        opinion = publication["opinion"][P]
        assert opinion["conversations"] == 11
        figures = {c: v for c, v in opinion.items() if c.endswith("_share") or c.endswith("_count")}
        assert figures and all(v is None for v in figures.values()), figures
        daily = publication["daily"][(P, dt.date(2026, 3, 10))]
        topics = {c: v for c, v in daily.items() if c.startswith("topic_") and c != "topic_answers"}
        assert topics and all(v is None for v in topics.values()), topics


def test_the_scores_read_the_canvass_through_the_published_steps_only(
    url: str, publications: Publications
) -> None:
    """A guard rather than the attack: every canvass model (dbt/models/**/canvass/) the score
    marts (and bureau_map, the report's and the exports' source) depend on, directly or not, is
    the stepped int_canvass__bureau_opinion or upstream of it, so the attack's check of that
    model covers what they publish: nothing else carries answers to them."""
    # the manifest of the module's builds (dbt writes every model of the project in it)
    manifest_file = build_target_path(url) / "manifest.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    nodes = manifest["nodes"]

    def parents(unique_id: str) -> set[str]:
        seen: set[str] = set()
        todo = [unique_id]
        while todo:
            for parent in nodes.get(todo.pop(), {}).get("depends_on", {}).get("nodes", []):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    opinion = "model.scrutin.int_canvass__bureau_opinion"
    allowed = {opinion, *parents(opinion)}
    for mart in ("polling_station_targeting", "canvass_plan", "commune_summary", "bureau_map"):
        read = {
            p
            for p in parents(f"model.scrutin.{mart}")
            if "/canvass/" in nodes.get(p, {}).get("original_file_path", "")
        }
        assert read <= allowed, (mart, read - allowed)
        if mart == "polling_station_targeting":
            assert opinion in read
