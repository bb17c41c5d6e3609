"""The scores audit suites: green on consistent targeting rows, red on each kind of broken score.

The dbt models are built elsewhere; here the two marts (and a minimal `polling_stations`) are
written by hand, every score computed with `scrutin.scores.formulas` and the plan with
`scrutin.scores.plan.allocate_hours`, i.e. independently of the SQL the suites run. Each test
then breaks one thing and asserts that exactly the checks describing that breakage fail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest

from expectations import registry, suites_scores_audit
from expectations.runner import GateOutcome, run_suite, run_suites
from expectations.suites_canvass_audit import K_MIN
from expectations.suites_scores_audit import (
    AUDIT_CANVASS_PLAN,
    AUDIT_POLLING_STATION_TARGETING,
    AUDIT_SUITES,
    PARAMS,
    PLAN_TABLE,
    RAW_SUITES,
    RECOMPUTED,
    SUITES,
    TARGETING_TABLE,
    current_params,
    plan_hours,
    plan_suite,
    targeting_suite,
)
from scrutin.scores import formulas
from scrutin.scores.params import ScoreParams
from scrutin.scores.plan import BureauInput, allocate_hours

pytestmark = [pytest.mark.db, pytest.mark.slow]

TARGETING = AUDIT_POLLING_STATION_TARGETING.name
PLAN = AUDIT_CANVASS_PLAN.name
ELECTION = "2024_legi_t1"
COMMUNE = "29019"
A, B, C, D, E = (f"{COMMUNE}_000{i}" for i in range(1, 6))
NEW_RAW_BUREAU = f"{COMMUNE}_0006"
SUPERSEDED_BUREAU = f"{COMMUNE}_0099"
DEFAULT_PLAN_HOURS = 10.0  # only until ScoreParams has plan_hours


def _params() -> ScoreParams:
    assert PARAMS is not None, suites_scores_audit.PARAMS_ERROR
    return PARAMS


# ---- the hand-built marts --------------------------------------------------------------------

# Inputs per bureau: A warm and canvassed, B cold (q < 0.5) with support suppressed, C without
# intermittent voters (q falls back on the bloc share) and barely canvassed (support and open rate
# suppressed), D fully covered, E without any election result (not scored) nor canvass.
BUREAU_INPUTS: dict[str, dict[str, Any]] = {
    A: dict(voters_high=800, voters_low=500, bloc_votes_high=420, bloc_votes_low=200,
            bloc_share_high=0.55, knocked=40, conversations=15, support_positive=10, doors=600.0),
    B: dict(voters_high=700, voters_low=400, bloc_votes_high=150, bloc_votes_low=100,
            bloc_share_high=0.25, knocked=12, conversations=5, support_positive=1, doors=500.0),
    C: dict(voters_high=500, voters_low=520, bloc_votes_high=260, bloc_votes_low=240,
            bloc_share_high=0.58, knocked=6, conversations=2, support_positive=2, doors=400.0),
    D: dict(voters_high=900, voters_low=600, bloc_votes_high=500, bloc_votes_low=300,
            bloc_share_high=0.6, knocked=300, conversations=100, support_positive=60, doors=300.0),
    E: dict(voters_high=None, voters_low=None, bloc_votes_high=None, bloc_votes_low=None,
            bloc_share_high=None, knocked=0, conversations=0, support_positive=0, doors=None),
}  # fmt: skip

TARGETING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("bureau_id", "text"),
    ("code_commune", "text"),
    ("commune_name", "text"),
    ("code_bv", "text"),
    ("polling_place_name", "text"),
    ("registered", "integer"),
    ("registered_voters_roll", "integer"),
    ("doors", "double precision"),
    ("doors_source", "text"),
    ("share_pcs_executives", "double precision"),
    ("share_pcs_workers", "double precision"),
    ("share_pcs_retired", "double precision"),
    ("share_diploma_higher", "double precision"),
    ("share_owners", "double precision"),
    ("share_social_renters", "double precision"),
    ("share_foreigners", "double precision"),
    ("median_income_approx", "double precision"),
    ("adult_french_population_approx", "double precision"),
    ("bloc", "text"),
    ("target_election_id", "text"),
    ("high_salience_election_id", "text"),
    ("low_salience_election_id", "text"),
    ("turnout_target", "double precision"),
    ("valid_votes_target", "integer"),
    ("bloc_share_target", "double precision"),
    ("voters_high", "integer"),
    ("voters_low", "integer"),
    ("turnout_high", "double precision"),
    ("turnout_low", "double precision"),
    ("bloc_votes_high", "integer"),
    ("bloc_votes_low", "integer"),
    ("bloc_share_high", "double precision"),
    ("intermittent_voters", "integer"),
    ("reservoir", "double precision"),
    ("q_mobilisable", "double precision"),
    ("q_updated", "double precision"),
    ("net_per_conversation", "double precision"),
    ("conversations_full_canvass", "double precision"),
    ("net_mobilisation", "double precision"),
    ("persuasion", "double precision"),
    ("predicted_bloc_share", "double precision"),
    ("ecological_gap", "double precision"),
    ("registration_potential", "double precision"),
    ("canvass_doors_knocked", "bigint"),
    ("canvass_conversations", "bigint"),
    ("coverage", "double precision"),
    ("open_rate_estimate", "double precision"),
    ("open_rate_suppressed", "boolean"),
    ("support_suppressed", "boolean"),
    ("value_per_canvasser_hour", "double precision"),
    ("value_per_canvasser_hour_uncovered", "double precision"),
    ("targeting_rank", "bigint"),
    ("do_not_mobilise", "boolean"),
    ("why", "text"),
    ("params_version", "text"),
    ("ecological_fit_run_id", "text"),
    ("census_vintage", "integer"),
    ("roll_reference_date", "date"),
    ("canvass_data_until", "date"),
)

PLAN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("bureau_id", "text"),
    ("code_commune", "text"),
    ("commune_name", "text"),
    ("code_bv", "text"),
    ("plan_rank", "bigint"),
    ("hours", "numeric"),
    ("expected_net_votes", "double precision"),
    ("coverage_before", "double precision"),
    ("coverage_after", "double precision"),
    ("value_per_canvasser_hour", "double precision"),
    ("params_version", "text"),
    ("plan_hours_budget", "double precision"),
)


def _product(*values: float | None) -> float | None:
    return None if any(v is None for v in values) else math.prod(v for v in values if v is not None)


def targeting_rows(
    params: ScoreParams,
    *,
    k_min: int,
    estimate_k_min: int | None = None,
    reference_includes_suppressed: bool = False,
) -> list[dict[str, Any]]:
    """Every column of the targeting mart, computed with scrutin.scores.formulas.

    `estimate_k_min` is the threshold the canvass updates use (default `k_min`): a lower one
    simulates a model that forgot the suppression but is otherwise consistent. The reference
    support rate is campaign-wide over the bureaux with at least k_min conversations (published
    figures only); `reference_includes_suppressed` simulates a model that leaks the others.
    """
    estimate_k_min = k_min if estimate_k_min is None else estimate_k_min
    in_reference = [
        b
        for b in BUREAU_INPUTS.values()
        if reference_includes_suppressed or b["conversations"] >= k_min
    ]
    city_successes = sum(b["support_positive"] for b in in_reference)
    city_trials = sum(b["conversations"] for b in in_reference)
    rows = []
    for position, (bureau_id, b) in enumerate(BUREAU_INPUTS.items()):
        scored = b["voters_high"] is not None
        registered = 1000 + 10 * position
        valid_votes = 600 + 7 * position if scored else None
        bloc_share_target = 0.4 + 0.05 * position if scored else None
        predicted = 0.45 + 0.03 * position
        adult = 1100.0 + 25 * position if scored else None
        if scored:
            intermittent = formulas.intermittent_voters(b["voters_high"], b["voters_low"])
            reservoir = formulas.reservoir(b["bloc_votes_high"], b["bloc_votes_low"])
            q = formulas.mobilisable_bloc_share(reservoir, intermittent, b["bloc_share_high"])
            q_updated = formulas.relative_rate_update(
                q,
                params.kappa,
                b["support_positive"],
                b["conversations"],
                city_successes=city_successes,
                city_trials=city_trials,
                k_min=estimate_k_min,
            ).mean
            net = formulas.net_per_conversation(q_updated, params.tau)
        else:
            intermittent = reservoir = q = q_updated = net = None
        open_rate = formulas.beta_update(
            params.open_rate_prior, params.kappa, b["conversations"], b["knocked"], estimate_k_min
        ).mean
        doors = b["doors"]
        coverage = formulas.coverage_share(b["knocked"], doors if doors is not None else 0.0)
        per_conversation = formulas.persuasion_per_conversation(params.volatility, params.pi)
        value = uncovered = None
        if net is not None:
            value, uncovered = (
                formulas.value_per_canvasser_hour(
                    params.doors_per_canvasser_hour,
                    open_rate,
                    net,
                    per_conversation,
                    coverage=cov,
                    gamma=params.coverage_gamma,
                )
                for cov in (coverage, 0.0)
            )
        conversations_full = _product(doors, open_rate)
        # The roll's count first, the target election's when the roll has none (spec).
        registration = (
            formulas.registration_potential(adult, registered + 3) if adult is not None else None
        )
        support_suppressed = b["conversations"] < k_min
        if net is None:
            why = "Not scored: the bureau has no results for the reference elections."
        else:
            why = formulas.why_sentence(
                bloc=params.bloc,
                high_label=params.high_salience_election,
                low_label=params.low_salience_election,
                reservoir_votes=reservoir,
                q=q_updated,
                net_per_conv=net,
                coverage=coverage,
                suppressed=support_suppressed,
                registration=registration,
            )
        rows.append(
            {
                "bureau_id": bureau_id,
                "code_commune": COMMUNE,
                "commune_name": "Brest",
                "code_bv": bureau_id.split("_")[1],
                "polling_place_name": f"École {position + 1}",
                "registered": registered,
                "registered_voters_roll": registered + 3,
                "doors": doors,
                "doors_source": "roll" if doors is not None else None,
                "share_pcs_executives": 0.2,
                "share_pcs_workers": 0.15,
                "share_pcs_retired": 0.3,
                "share_diploma_higher": 0.35,
                "share_owners": 0.4,
                "share_social_renters": 0.2,
                "share_foreigners": 0.05,
                "median_income_approx": 21000.0,
                "adult_french_population_approx": adult,
                "bloc": params.bloc,
                "target_election_id": params.target_election,
                "high_salience_election_id": params.high_salience_election,
                "low_salience_election_id": params.low_salience_election,
                "turnout_target": 0.6 if scored else None,
                "valid_votes_target": valid_votes,
                "bloc_share_target": bloc_share_target,
                "voters_high": b["voters_high"],
                "voters_low": b["voters_low"],
                "turnout_high": 0.7 if scored else None,
                "turnout_low": 0.45 if scored else None,
                "bloc_votes_high": b["bloc_votes_high"],
                "bloc_votes_low": b["bloc_votes_low"],
                "bloc_share_high": b["bloc_share_high"],
                "intermittent_voters": None if intermittent is None else int(intermittent),
                "reservoir": reservoir,
                "q_mobilisable": q,
                "q_updated": q_updated,
                "net_per_conversation": net,
                "conversations_full_canvass": conversations_full,
                "net_mobilisation": _product(conversations_full, net),
                "persuasion": (
                    formulas.persuasion(valid_votes, params.volatility, params.pi)
                    if valid_votes is not None
                    else None
                ),
                "predicted_bloc_share": predicted,
                "ecological_gap": (
                    predicted - bloc_share_target if bloc_share_target is not None else None
                ),
                "registration_potential": registration,
                "canvass_doors_knocked": b["knocked"],
                "canvass_conversations": b["conversations"],
                "coverage": coverage,
                "open_rate_estimate": open_rate,
                "open_rate_suppressed": b["knocked"] < k_min,
                "support_suppressed": support_suppressed,
                "value_per_canvasser_hour": value,
                "value_per_canvasser_hour_uncovered": uncovered,
                "targeting_rank": None,
                "do_not_mobilise": None if net is None else net < 0,
                "why": why,
                "params_version": params.params_version(),
                "ecological_fit_run_id": "fit-test",
                "census_vintage": 2021,
                "roll_reference_date": dt.date(2025, 1, 1),
                "canvass_data_until": dt.date(2026, 3, 11),
            }
        )
    # row_number() over (order by value_per_canvasser_hour desc nulls last, bureau_id)
    ordered = sorted(
        rows,
        key=lambda r: (
            r["value_per_canvasser_hour"] is None,
            -(r["value_per_canvasser_hour"] or 0.0),
            r["bureau_id"],
        ),
    )
    for rank, row in enumerate(ordered, start=1):
        row["targeting_rank"] = rank
    return rows


def plan_rows(params: ScoreParams, targeting: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan of scrutin.scores.plan.allocate_hours on the scored bureaux."""
    budget = plan_hours(params) or DEFAULT_PLAN_HOURS
    by_id = {row["bureau_id"]: row for row in targeting}
    candidates = [
        BureauInput(
            bureau_id=row["bureau_id"],
            value_per_hour=row["value_per_canvasser_hour_uncovered"],
            doors=row["doors"],
            coverage=row["coverage"],
            net_positive=not row["do_not_mobilise"],
        )
        for row in targeting
        if row["do_not_mobilise"] is not None
    ]
    allocated = allocate_hours(
        candidates,
        budget,
        params.plan_step_hours,
        doors_per_hour=params.doors_per_canvasser_hour,
        gamma=params.coverage_gamma,
    )
    return [
        {
            "bureau_id": plan.bureau_id,
            "code_commune": COMMUNE,
            "commune_name": "Brest",
            "code_bv": plan.bureau_id.split("_")[1],
            "plan_rank": rank,
            "hours": plan.hours,
            "expected_net_votes": plan.expected_net_votes,
            "coverage_before": by_id[plan.bureau_id]["coverage"],
            "coverage_after": plan.coverage_after,
            "value_per_canvasser_hour": by_id[plan.bureau_id]["value_per_canvasser_hour"],
            "params_version": params.params_version(),
            "plan_hours_budget": budget,
        }
        for rank, plan in enumerate(allocated, start=1)
    ]


def _create(conn: psycopg.Connection, table: str, columns: Sequence[tuple[str, str]]) -> None:
    conn.execute(f"drop table if exists {table}")
    conn.execute(f"create table {table} ({', '.join(f'{n} {t}' for n, t in columns)})")


def _copy(
    conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    with conn.cursor() as cur, cur.copy(f"copy {table} ({', '.join(columns)}) from stdin") as cp:
        for row in rows:
            cp.write_row(row)


def write_targeting(conn: psycopg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    names = [name for name, _ in TARGETING_COLUMNS]
    _create(conn, TARGETING_TABLE, TARGETING_COLUMNS)
    _copy(conn, TARGETING_TABLE, names, ([row[n] for n in names] for row in rows))


def write_plan(conn: psycopg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    names = [name for name, _ in PLAN_COLUMNS]
    _create(conn, PLAN_TABLE, PLAN_COLUMNS)
    _copy(conn, PLAN_TABLE, names, ([row[n] for n in names] for row in rows))


def write_opinion(conn: psycopg.Connection, k_min: int) -> None:
    """The published canvass opinion mart, as dbt builds it: support shares behind k_min."""
    _create(
        conn,
        "mart_audit.canvass_bureau_opinion",
        (("bureau_id", "text"), ("conversations", "integer"), ("suppressed", "boolean"),
         ("support_positive_share", "double precision")),
    )  # fmt: skip
    _copy(
        conn,
        "mart_audit.canvass_bureau_opinion",
        ("bureau_id", "conversations", "suppressed", "support_positive_share"),
        (
            (
                bureau_id,
                b["conversations"],
                b["conversations"] < k_min,
                b["support_positive"] / b["conversations"] if b["conversations"] >= k_min else None,
            )
            for bureau_id, b in BUREAU_INPUTS.items()
            if b["conversations"] > 0
        ),
    )


def _ledger_batch(conn: psycopg.Connection, status: str) -> int:
    row = conn.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
        "values ('elections', %s, %s, %s, %s) returning batch_id",
        (f"results-{status}.csv", uuid.uuid4().hex, ELECTION, status),
    ).fetchone()
    assert row is not None
    return int(row[0])


def write_raw_results(conn: psycopg.Connection, bureaux: Sequence[str], status: str) -> None:
    batch_id = _ledger_batch(conn, status)
    columns = (
        "batch_id",
        "election_id",
        "source_line",
        "code_departement",
        "code_commune",
        "code_bv",
        "bureau_id",
        "inscrits",
        "votants",
        "abstentions",
        "exprimes",
        "blancs",
        "nuls",
    )
    rows = [
        (batch_id, ELECTION, line, "29", COMMUNE, bureau_id.split("_")[1], bureau_id,
         1000, 600, 400, 580, 12, 8)
        for line, bureau_id in enumerate(bureaux, start=2)
    ]  # fmt: skip
    _copy(conn, "raw.election_results_bureau", columns, rows)


@pytest.fixture
def marts(conn: psycopg.Connection) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Fresh, consistent marts for each test (a test may break them at will)."""
    params = _params()
    conn.execute("create schema if not exists mart_audit")
    conn.execute("delete from raw.election_results_bureau")
    conn.execute("delete from raw.batch_ledger")
    conn.execute("delete from ops.canvass_campaigns")
    _create(
        conn,
        "mart_audit.polling_stations",
        (("bureau_id", "text"), ("code_commune", "text"), ("commune_name", "text"),
         ("code_bv", "text")),
    )  # fmt: skip
    _copy(
        conn,
        "mart_audit.polling_stations",
        ("bureau_id", "code_commune", "commune_name", "code_bv"),
        ((b, COMMUNE, "Brest", b.split("_")[1]) for b in BUREAU_INPUTS),
    )
    # E has no result of the reference elections but is a bureau of the target one.
    write_raw_results(conn, list(BUREAU_INPUTS), "loaded")
    # A bureau of a superseded batch is not a bureau the mart must have.
    write_raw_results(conn, [SUPERSEDED_BUREAU], "superseded")
    targeting = targeting_rows(params, k_min=max(K_MIN, params.k_min))
    plan = plan_rows(params, targeting)
    write_targeting(conn, targeting)
    write_plan(conn, plan)
    write_opinion(conn, max(K_MIN, params.k_min))
    yield {"targeting": targeting, "plan": plan}


def _run(url: str, names: Sequence[str]) -> GateOutcome:
    return run_suites(url, names, f"test-scores-audit-{uuid.uuid4().hex[:8]}")


def assert_fails_exactly(outcome: GateOutcome, *fragments: str) -> None:
    """The gate is refused, each fragment names one failed check, and nothing else failed."""
    failures = outcome.failed_checks
    assert not outcome.success
    for fragment in fragments:
        assert any(fragment in f for f in failures), (fragment, failures)
    assert len(failures) == len(fragments), failures


# ---- green -----------------------------------------------------------------------------------


def test_the_fixture_covers_every_case_the_checks_distinguish(
    marts: dict[str, list[dict[str, Any]]],
) -> None:
    """Guard the fixture itself: the cases below need these rows to exist."""
    rows = {r["bureau_id"]: r for r in marts["targeting"]}
    assert rows[A]["targeting_rank"] == 1 and not rows[A]["support_suppressed"]
    assert rows[A]["q_updated"] != rows[A]["q_mobilisable"]  # the canvass moved it
    assert rows[B]["do_not_mobilise"] and rows[B]["support_suppressed"]
    assert not rows[B]["open_rate_suppressed"]
    assert rows[C]["intermittent_voters"] <= 0
    assert rows[C]["q_mobilisable"] == BUREAU_INPUTS[C]["bloc_share_high"]
    assert rows[C]["open_rate_suppressed"] and rows[C]["support_suppressed"]
    assert 0 < rows[C]["canvass_conversations"] < rows[C]["canvass_doors_knocked"]
    assert rows[D]["coverage"] == 1.0 and rows[D]["value_per_canvasser_hour"] == 0.0
    assert rows[E]["value_per_canvasser_hour"] is None and rows[E]["do_not_mobilise"] is None
    assert rows[E]["targeting_rank"] == len(rows)
    planned = {p["bureau_id"] for p in marts["plan"]}
    assert A in planned and C in planned and B not in planned and E not in planned
    assert len({p["expected_net_votes"] for p in marts["plan"]}) == len(marts["plan"])


def test_both_suites_pass_on_consistent_marts(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    outcome = _run(warehouse_url, list(AUDIT_SUITES))
    assert outcome.success, outcome.failed_checks
    assert outcome.warnings == []
    for suite_outcome in outcome.outcomes:
        assert len(suite_outcome.results) == len(SUITES[suite_outcome.suite].checks)
    recorded = conn.execute(
        "select count(*) from ops.quality_results where run_id = %s", (outcome.run_id,)
    ).fetchone()
    assert recorded == (
        len(AUDIT_POLLING_STATION_TARGETING.checks) + len(AUDIT_CANVASS_PLAN.checks),
    )


# ---- red: one breakage, the checks that describe it ----------------------------------------

T = TARGETING_TABLE
P = PLAN_TABLE

TARGETING_BREAKAGES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "duplicated rank",
        f"update {T} set targeting_rank = 1 where targeting_rank = 2",
        (
            "expect_column_values_to_be_unique(targeting_rank)",
            "targeting_rank is dense",
            "targeting_rank is row_number() over",
        ),
    ),
    (
        "gap in ranks",
        f"update {T} set targeting_rank = 6 where targeting_rank = 5",
        ("targeting_rank is dense", "targeting_rank is row_number() over"),
    ),
    (
        "null rank",
        f"update {T} set targeting_rank = null where targeting_rank = 5",
        (
            "expect_column_values_to_not_be_null(targeting_rank)",
            "targeting_rank is dense",
            "targeting_rank is row_number() over",
        ),
    ),
    (
        "a share of 1.2",
        f"update {T} set share_owners = 1.2 where bureau_id = '{A}'",
        ("expect_column_values_to_be_between(share_owners)",),
    ),
    (
        "a negative turnout",
        f"update {T} set turnout_low = -0.1 where bureau_id = '{C}'",
        ("expect_column_values_to_be_between(turnout_low)",),
    ),
    (
        "an unlisted share column of 1.2",
        f"alter table {T} add column share_new_thing double precision; "
        f"update {T} set share_new_thing = 1.2 where bureau_id = '{A}'",
        ("every other share_/bloc_share_/turnout_ column is in [0, 1]",),
    ),
    (
        "support_suppressed unset below k_min",
        f"update {T} set support_suppressed = false where bureau_id = '{B}'",
        ("support_suppressed is true exactly when canvass_conversations < k_min",),
    ),
    (
        "support_suppressed set from k_min on",
        f"update {T} set support_suppressed = true where bureau_id = '{A}'",
        (
            "support_suppressed is true exactly when canvass_conversations < k_min",
            "q_updated = q_mobilisable when support is suppressed",
        ),
    ),
    (
        "open_rate_suppressed unset below k_min",
        f"update {T} set open_rate_suppressed = false where bureau_id = '{C}'",
        ("open_rate_suppressed is true exactly when canvass_doors_knocked < k_min",),
    ),
    (
        "params_version of an older build",
        f"update {T} set params_version = 'deadbeef0000' where bureau_id = '{C}'",
        ("params_version is the current ScoreParams.params_version()",),
    ),
    (
        "params_version missing",
        f"update {T} set params_version = null where bureau_id = '{C}'",
        (
            "expect_column_values_to_not_be_null(params_version)",
            "params_version is the current ScoreParams.params_version()",
        ),
    ),
    (
        "another bloc",
        f"update {T} set bloc = 'right' where bureau_id = '{A}'",
        ("bloc and election ids are the current score parameters'",),
    ),
    (
        "another high-salience election",
        f"update {T} set high_salience_election_id = '2017_pres_t1' where bureau_id = '{D}'",
        ("bloc and election ids are the current score parameters'",),
    ),
    (
        "a missing bureau",
        f"delete from {T} where bureau_id = '{E}'",
        (
            "every bureau of mart_audit.polling_stations has a targeting row",
            "no bureau of the loaded results of raw.election_results_bureau is missing",
        ),
    ),
    (
        "a bureau that is not a polling station",
        f"delete from mart_audit.polling_stations where bureau_id = '{E}'",
        ("every targeting row is a bureau of mart_audit.polling_stations",),
    ),
    (
        "do_not_mobilise false on a losing bureau",
        f"update {T} set do_not_mobilise = false where bureau_id = '{B}'",
        ("do_not_mobilise = (net_per_conversation < 0)",),
    ),
    (
        "do_not_mobilise decided without a net_per_conversation",
        f"update {T} set do_not_mobilise = false where bureau_id = '{E}'",
        ("do_not_mobilise = (net_per_conversation < 0)",),
    ),
    (
        "why missing",
        f"update {T} set why = null where bureau_id = '{A}'",
        ("expect_column_values_to_not_be_null(why)",),
    ),
    (
        "value_per_canvasser_hour off by 0.01",
        f"update {T} set value_per_canvasser_hour = value_per_canvasser_hour + 0.01 "
        f"where bureau_id = '{A}'",
        ("value_per_canvasser_hour recomputes",),
    ),
    (
        "a value published where q is unknown",
        f"update {T} set value_per_canvasser_hour = 0 where bureau_id = '{E}'",
        ("value_per_canvasser_hour recomputes", "targeting_rank is row_number() over"),
    ),
    (
        "a value lost where q is known",
        f"update {T} set value_per_canvasser_hour_uncovered = null where bureau_id = '{C}'",
        ("value_per_canvasser_hour_uncovered recomputes",),
    ),
]


@pytest.mark.parametrize(
    ("breakage", "sql", "expected"),
    TARGETING_BREAKAGES,
    ids=[case[0] for case in TARGETING_BREAKAGES],
)
def test_a_broken_targeting_row_fails_the_check_that_describes_it(
    *,
    marts: dict[str, list[dict[str, Any]]],
    warehouse_url: str,
    conn: psycopg.Connection,
    breakage: str,
    sql: str,
    expected: tuple[str, ...],
) -> None:
    conn.execute(sql)
    assert_fails_exactly(_run(warehouse_url, [TARGETING]), *expected)


# Integer columns move by one unit, the others by 0.01.
_RECOMPUTE_DELTA = {"intermittent_voters": 1}


@pytest.mark.parametrize("column", list(RECOMPUTED))
def test_every_score_component_is_recomputed(
    marts: dict[str, list[dict[str, Any]]],
    warehouse_url: str,
    conn: psycopg.Connection,
    column: str,
) -> None:
    """A published component off by a small amount fails its own recompute check only."""
    delta = _RECOMPUTE_DELTA.get(column, 0.01)
    conn.execute(f"update {T} set {column} = {column} + {delta} where bureau_id = '{A}'")
    outcome = _run(warehouse_url, [TARGETING])
    assert_fails_exactly(outcome, f"{column} recomputes")
    assert A in outcome.failed_checks[0]  # the example names the bureau


def test_a_model_that_ignores_support_suppression_fails_even_when_consistent(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """B's 5 and C's 2 conversations move q_updated, C's 6 knocks its open rate (k_min not
    applied to the updates), every other figure consistent with them: only the k_min rule can
    tell."""
    params = _params()
    rows = targeting_rows(params, k_min=max(K_MIN, params.k_min), estimate_k_min=1)
    by_id = {r["bureau_id"]: r for r in rows}
    assert by_id[B]["q_updated"] != by_id[B]["q_mobilisable"]
    write_targeting(conn, rows)
    outcome = _run(warehouse_url, [TARGETING])
    assert_fails_exactly(
        outcome,
        "q_updated = q_mobilisable when support is suppressed",
        "open_rate_estimate = open_rate_prior when the open rate is suppressed",
    )
    support, open_rate = outcome.failed_checks
    assert B in support and C in support and A not in support
    assert C in open_rate and B not in open_rate  # B's 12 knocks may move its open rate


def test_the_stricter_campaign_k_min_wins(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """A loaded campaign promised k_min = 16: A's 15 conversations and B's 12 knocks may no
    longer move anything, although the marts were built with the campaign file's k_min."""
    conn.execute(
        "insert into ops.canvass_campaigns (campaign_id, election_date, campaign_start, "
        "retention_days, k_min, retention_ends_at, params_hash) "
        "values ('stricter', '2027-04-11', '2026-09-01', 30, 16, '2027-05-12', 'test')"
    )
    outcome = _run(warehouse_url, [TARGETING])
    assert_fails_exactly(
        outcome,
        "support_suppressed is true exactly when canvass_conversations < k_min",
        "q_updated = q_mobilisable when support is suppressed",
        "open_rate_suppressed is true exactly when canvass_doors_knocked < k_min",
        "open_rate_estimate = open_rate_prior when the open rate is suppressed",
    )
    failures = "\n".join(outcome.failed_checks)
    assert '"k_min": 16' in failures
    support = next(f for f in outcome.failed_checks if "support_suppressed is true" in f)
    assert A in support and B not in support


def test_only_loaded_results_decide_the_bureau_coverage(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """SUPERSEDED_BUREAU (in a superseded batch) is not required; a newly loaded bureau is."""
    write_raw_results(conn, [NEW_RAW_BUREAU], "loaded")
    outcome = _run(warehouse_url, [TARGETING])
    assert_fails_exactly(
        outcome, "no bureau of the loaded results of raw.election_results_bureau is missing"
    )
    assert NEW_RAW_BUREAU in outcome.failed_checks[0]
    assert SUPERSEDED_BUREAU not in outcome.failed_checks[0]


# ---- canvass_plan ----------------------------------------------------------------------------


def _plan_breakages() -> list[tuple[str, str, tuple[str, ...]]]:
    params = _params()
    budget = plan_hours(params) or DEFAULT_PLAN_HOURS
    return [
        (
            "a plan row on a do_not_mobilise bureau",
            f"insert into {P} (bureau_id, code_commune, commune_name, code_bv, plan_rank, hours, "
            f"expected_net_votes, coverage_before, coverage_after, value_per_canvasser_hour, "
            f"params_version, plan_hours_budget) "
            f"select '{B}', '{COMMUNE}', 'Brest', '0002', count(*) + 1, 0.5, -1.0, 0.0, 0.0, "
            f"-0.1, '{params.params_version()}', {budget} from {P}",
            ("no plan bureau is do_not_mobilise",),
        ),
        (
            "a plan row on a bureau of unknown effect",
            f"insert into {P} (bureau_id, code_commune, commune_name, code_bv, plan_rank, hours, "
            f"expected_net_votes, coverage_before, coverage_after, value_per_canvasser_hour, "
            f"params_version, plan_hours_budget) "
            f"select '{E}', '{COMMUNE}', 'Brest', '0005', count(*) + 1, 0.5, -1.0, 0.0, 0.0, "
            f"null, '{params.params_version()}', {budget} from {P}",
            ("no plan bureau is do_not_mobilise",),
        ),
        (
            "plan hours over budget",
            f"update {P} set hours = hours + {budget} where plan_rank = 1",
            ("sum(hours) <= plan_hours_budget",),
        ),
        (
            "zero hours",
            f"update {P} set hours = 0 where plan_rank = 2",
            ("expect_column_values_to_be_between(hours)",),
        ),
        (
            "hours off the step",
            f"update {P} set hours = hours + 0.2 where plan_rank = 1",
            ("hours are a multiple of plan_step_hours",),
        ),
        (
            "a plan bureau unknown to the targeting mart",
            f"update {P} set bureau_id = '{COMMUNE}_0098' where plan_rank = 2",
            ("every plan bureau is a bureau of mart_audit.polling_station_targeting",),
        ),
        (
            "duplicated plan rank",
            f"update {P} set plan_rank = 1 where plan_rank = 2",
            (
                "expect_column_values_to_be_unique(plan_rank)",
                "plan_rank is dense",
                "plan_rank is row_number() over (order by expected_net_votes desc, bureau_id)",
            ),
        ),
        (
            "gap in plan ranks",
            f"update {P} set plan_rank = plan_rank + 1 where plan_rank = 2",
            ("plan_rank is dense", "plan_rank is row_number() over"),
        ),
        (
            "plan params_version of an older build",
            f"update {P} set params_version = 'deadbeef0000' where plan_rank = 1",
            ("params_version is the current ScoreParams.params_version()",),
        ),
        (
            "two budgets in one plan",
            f"update {P} set plan_hours_budget = plan_hours_budget * 2 where plan_rank = 2",
            ("one plan_hours_budget for the whole plan", "plan_hours_budget = scores.plan_hours"),
        ),
    ]


PLAN_BREAKAGE_IDS = [
    "do_not_mobilise bureau",
    "unknown-effect bureau",
    "over budget",
    "zero hours",
    "off step",
    "unknown bureau",
    "duplicated rank",
    "rank gap",
    "old params_version",
    "two budgets",
]


@pytest.mark.parametrize("index", range(len(PLAN_BREAKAGE_IDS)), ids=PLAN_BREAKAGE_IDS)
def test_a_broken_plan_fails_the_check_that_describes_it(
    marts: dict[str, list[dict[str, Any]]],
    warehouse_url: str,
    conn: psycopg.Connection,
    index: int,
) -> None:
    assert len(marts["plan"]) >= 2
    _, sql, expected = _plan_breakages()[index]
    conn.execute(sql)
    assert_fails_exactly(_run(warehouse_url, [PLAN]), *expected)


def test_the_plan_budget_is_the_parameters_plan_hours(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """A plan built for a bigger budget than the campaign's: refused, even though its hours fit."""
    params = _params()
    if plan_hours(params) is None:
        pytest.skip("ScoreParams has no plan_hours yet")
    conn.execute(f"update {P} set plan_hours_budget = plan_hours_budget * 10")
    assert_fails_exactly(_run(warehouse_url, [PLAN]), "plan_hours_budget = scores.plan_hours")
    # And the budget is checked against the parameters, not only against the column.
    conn.execute(f"update {P} set hours = hours + {plan_hours(params)} where plan_rank = 1")
    outcome = _run(warehouse_url, [PLAN])
    assert any("sum(hours) <= plan_hours_budget" in f for f in outcome.failed_checks)


def test_an_empty_plan_passes(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """No bureau worth an hour is a legitimate plan (sum over no row is not a breach)."""
    conn.execute(f"delete from {P}")
    outcome = _run(warehouse_url, [PLAN])
    assert outcome.success, outcome.failed_checks


# ---- missing tables, unreadable parameters, registration ------------------------------------


def test_a_missing_targeting_mart_refuses_both_suites(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    conn.execute(f"drop table {PLAN_TABLE}")
    conn.execute(f"drop table {TARGETING_TABLE}")
    outcome = _run(warehouse_url, list(AUDIT_SUITES))
    assert not outcome.success
    targeting, plan = outcome.outcomes
    assert targeting.failed_checks == [
        f"{TARGETING}: table {TARGETING_TABLE} does not exist (not loaded yet, or the build "
        "that creates it failed): nothing to validate"
    ]
    assert PLAN_TABLE in plan.failed_checks[0] and "does not exist" in plan.failed_checks[0]
    # Only the plan missing: the targeting suite is unaffected, the plan suite refused.
    write_targeting(conn, marts["targeting"])
    outcome = _run(warehouse_url, list(AUDIT_SUITES))
    assert outcome.outcomes[0].success
    assert f"table {PLAN_TABLE} does not exist" in outcome.outcomes[1].failed_checks[0]


def test_unreadable_parameters_fail_closed(
    marts: dict[str, list[dict[str, Any]]],
    warehouse_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    campaign = tmp_path / "campaign.yml"
    campaign.write_text(
        "campaign_id: test\nelection_date: 2027-04-11\ncampaign_start: 2026-09-01\n"
        "scores:\n  tau: 2\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(campaign))
    params, error = current_params()
    assert params is None and error is not None
    assert str(campaign) in error and "scores.tau" in error
    for suite in (targeting_suite(None, K_MIN, error), plan_suite(None, error)):
        outcome = run_suite(warehouse_url, suite, f"test-scores-audit-{uuid.uuid4().hex[:8]}")
        assert not outcome.success
        (failure,) = outcome.failed_checks  # everything else still holds
        assert "score parameters are readable from the campaign file" in failure
        assert "scores.tau" in failure and str(campaign) in failure


def test_the_suites_follow_the_parameters_they_are_built_with(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str
) -> None:
    """Parameters edited after the build (tau changed): the stale marts are refused."""
    edited = dataclasses.replace(_params(), tau=0.05)
    outcome = run_suite(warehouse_url, targeting_suite(edited), "test-scores-audit-edited")
    failures = outcome.failed_checks
    assert any("params_version is the current" in f for f in failures), failures
    assert any("net_per_conversation recomputes" in f for f in failures), failures
    assert not any("intermittent_voters" in f for f in failures)  # tau-free: still right


def test_suites_are_registered_for_the_gate() -> None:
    assert RAW_SUITES == ()
    assert set(AUDIT_SUITES) == set(SUITES) == {TARGETING, PLAN}
    assert set(AUDIT_SUITES) <= set(registry.audit_suite_names())
    for name in AUDIT_SUITES:
        assert registry.all_suites()[name] is SUITES[name]
    for spec in SUITES.values():
        assert spec.table.startswith("mart_audit.")
        assert all(check.severity == "fail" for check in spec.checks)
    # Every recompute check is there, one per component.
    labels = [c.label or "" for c in AUDIT_POLLING_STATION_TARGETING.checks]
    for column in RECOMPUTED:
        assert sum(label.startswith(f"{column} recomputes") for label in labels) == 1


def test_the_threshold_is_the_stricter_of_the_build_and_the_parameters() -> None:
    params = _params()
    stricter = dataclasses.replace(params, k_min=params.k_min + 9)
    queries = [
        c.kwargs.get("unexpected_rows_query", "")
        for c in targeting_suite(stricter, k_min=params.k_min).checks
    ]
    assert sum(f"greatest({params.k_min + 9}," in q for q in queries) == 5


def test_a_reference_rate_reading_suppressed_bureaux_is_refused(
    conn: psycopg.Connection, warehouse_url: str, marts: dict[str, list[dict[str, Any]]]
) -> None:
    """A model whose reference support rate sums every canvassed bureau, the ones below k_min
    included, is otherwise self-consistent; but its q_updated could be inverted to recover the
    support of the suppressed bureaux (B, C): the gate refuses it."""
    params = _params()
    leaking = targeting_rows(
        params, k_min=max(K_MIN, params.k_min), reference_includes_suppressed=True
    )
    assert any(
        not math.isclose(a["q_updated"] or 0.0, b["q_updated"] or 0.0)
        for a, b in zip(leaking, marts["targeting"], strict=True)
    )
    write_targeting(conn, leaking)
    assert_fails_exactly(
        _run(warehouse_url, [TARGETING]), "q_updated recomputes from the published canvass"
    )
