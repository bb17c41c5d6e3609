"""The score checks: green on consistent score marts, red on each kind of broken score.

The three score marts (and a minimal `polling_stations`, the canvass opinion mart and raw
results) are written by hand: every score computed with `scrutin.scores.formulas`, the plan with
`scrutin.scores.plan.allocate_hours`, the commune summary summed here; i.e. independently of the
SQL that publishes them. Each test then breaks one thing and asserts that exactly the checks
describing that breakage fail, among the two places the gate runs them: the Python score audit
(`expectations.score_audit`, every check needing the parameters or a formula) and the dbt data
tests of the mart (compiled once per session, `tests/compiled_dbt_tests.py`; structural checks:
ranks, coverage of the polling stations, shares, do_not_mobilise, the plan's budget).
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

from expectations import score_audit
from expectations.results import GateOutcome
from expectations.score_audit import (
    COMMUNE_SUITE,
    COMMUNE_TABLE,
    PLAN_SUITE,
    PLAN_TABLE,
    RECOMPUTED,
    SUITES,
    TARGETING_SUITE,
    TARGETING_TABLE,
    current_params,
    run_score_audit,
    suppression_threshold,
)
from scrutin.scores import formulas
from scrutin.scores.params import ScoreParams
from scrutin.scores.plan import BureauInput, allocate_hours
from scrutin.vocabulary import BLOCS
from tests.compiled_dbt_tests import data_tests_of, ensure_staging_views, failing

pytestmark = [pytest.mark.db]

ELECTION = "2024_legi_t1"
COMMUNE = "29019"
A, B, C, D, E = (f"{COMMUNE}_000{i}" for i in range(1, 6))
NEW_RAW_BUREAU = f"{COMMUNE}_0006"
SUPERSEDED_BUREAU = f"{COMMUNE}_0099"
LEDGER_SOURCE = "test_scores_audit"  # the ledger rows of the raw results written here
# Which mart each suite audits, and the dbt model whose data tests go with it.
MODELS = {
    TARGETING_SUITE: "polling_station_targeting",
    PLAN_SUITE: "canvass_plan",
    COMMUNE_SUITE: "commune_summary",
}
# The relations the `marts` fixture writes.
BUILT_HERE = (
    *MODELS.values(),
    "polling_stations",
    "canvass_bureau_opinion",
    "stg_elections__bureau_results",  # a view on the raw results the fixture writes
)


def _params() -> ScoreParams:
    params, error = current_params()
    assert params is not None, error
    return params


# ---- the hand-built marts --------------------------------------------------------------------

# Inputs per bureau: A leads its rival (centre) and is canvassed, B trails its rival (far
# right: do_not_mobilise) with support suppressed, C without intermittent voters and barely
# canvassed (support and open rate suppressed), D fully covered, E without any election result
# (not scored, no rank) nor canvass. `high` / `low`: bloc shares at h and l (the bureau history
# the audit recomputes the rival and the Pedersen index from); bloc votes = share x voters.
BUREAU_INPUTS: dict[str, dict[str, Any]] = {
    A: dict(voters_high=800, voters_low=500, knocked=40, conversations=15, support_positive=10,
            support_negative=3, support_neutral=2, doors=600.0,
            high={"left": 0.55, "centre": 0.25, "far_right": 0.20},
            low={"left": 0.40, "centre": 0.35, "far_right": 0.25}),
    B: dict(voters_high=700, voters_low=400, knocked=12, conversations=5, support_positive=1,
            support_negative=3, support_neutral=1, doors=500.0,
            high={"left": 0.25, "centre": 0.30, "far_right": 0.45},
            low={"left": 0.30, "centre": 0.30, "far_right": 0.40}),
    C: dict(voters_high=500, voters_low=520, knocked=6, conversations=2, support_positive=2,
            support_negative=0, support_neutral=0, doors=400.0,
            high={"left": 0.58, "right": 0.22, "far_right": 0.20},
            low={"left": 0.50, "right": 0.30, "far_right": 0.20}),
    D: dict(voters_high=900, voters_low=600, knocked=300, conversations=100, support_positive=60,
            support_negative=25, support_neutral=15, doors=300.0,
            high={"left": 0.60, "centre": 0.20, "far_right": 0.20},
            low={"left": 0.50, "centre": 0.30, "far_right": 0.20}),
    E: dict(voters_high=None, voters_low=None, knocked=0, conversations=0, support_positive=0,
            support_negative=0, support_neutral=0, doors=None, high=None, low=None),
}  # fmt: skip
# The bureau history the audit reads (monkeypatched: never the dbt-built table of the session).
HISTORY = "mart_audit.test_bureau_history"


def _votes(b: dict[str, Any], which: str, bloc: str) -> int | None:
    shares = b[which]
    if shares is None:
        return None
    return round(shares.get(bloc, 0.0) * b[f"voters_{which}"])


# The campaign key column of the score marts (dbt/macros/campaign.sql): one campaign per build,
# filled by its default, since the audit never reads it.
CAMPAIGN_COLUMN = ("campaign_id", "text not null default 'test-scores-audit'")
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
    ("rival_rule", "text"),
    ("prior_profile", "text"),
    ("rival_bloc", "text"),
    ("rival_votes_high", "integer"),
    ("rival_share_high", "double precision"),
    ("intermittent_voters", "integer"),
    ("reservoir", "double precision"),
    ("q_mobilisable", "double precision"),
    ("q_updated", "double precision"),
    ("rival_share_updated", "double precision"),
    ("net_margin", "double precision"),
    ("net_per_conversation", "double precision"),
    ("conversations_full_canvass", "double precision"),
    ("net_mobilisation", "double precision"),
    ("volatility_pedersen", "double precision"),
    ("persuadable_share", "double precision"),
    ("persuasion_per_conversation", "double precision"),
    ("persuasion", "double precision"),
    ("predicted_bloc_share", "double precision"),
    ("ecological_gap", "double precision"),
    ("registration_potential", "double precision"),
    ("canvass_doors_knocked", "bigint"),
    ("canvass_conversations", "bigint"),
    ("canvass_support_answers", "bigint"),
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
    ("latitude", "double precision"),
    ("longitude", "double precision"),
    ("map_geometry_source", "text"),
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
    city_trials = sum(b["conversations"] for b in in_reference)
    city = {
        answer: sum(b[f"support_{answer}"] for b in in_reference)
        for answer in ("positive", "negative")
    }
    rows = []
    for position, (bureau_id, b) in enumerate(BUREAU_INPUTS.items()):
        scored = b["high"] is not None
        registered = 1000 + 10 * position
        valid_votes = 600 + 7 * position if scored else None
        bloc_share_target = 0.4 + 0.05 * position if scored else None
        predicted = 0.45 + 0.03 * position
        adult = 1100.0 + 25 * position if scored else None
        rival = rival_share = rival_votes = None
        q = q_updated = rival_updated = margin = net = volatility = persuadable = None
        intermittent = reservoir = per_conversation = None
        bloc_share_high = None
        if scored:
            shares = {x: b["high"].get(x, 0.0) for x in BLOCS}
            bloc_share_high = shares[params.bloc]
            rival = formulas.strongest_other(shares, params.bloc, BLOCS)
            rival_share = shares[rival]
            rival_votes = _votes(b, "high", rival)
            intermittent = formulas.intermittent_voters(b["voters_high"], b["voters_low"])
            reservoir = formulas.reservoir(
                _votes(b, "high", params.bloc), _votes(b, "low", params.bloc)
            )
            volatility = formulas.pedersen_index(
                [shares[x] for x in BLOCS], [b["low"].get(x, 0.0) for x in BLOCS]
            )
            q = bloc_share_high

            def relative(prior: float, answer: str, b: dict[str, Any] = b) -> float:
                return formulas.relative_rate_update(
                    prior,
                    params.kappa,
                    b[f"support_{answer}"],
                    b["conversations"],
                    city_successes=city[answer],
                    city_trials=city_trials,
                    k_min=estimate_k_min,
                ).mean

            q_updated = relative(q, "positive")
            rival_updated = relative(rival_share, "negative")
            persuadable = formulas.beta_update(
                volatility,
                params.kappa,
                b["support_neutral"],
                b["conversations"],
                estimate_k_min,
            ).mean
            margin = formulas.net_value_per_mobilised_voter(q_updated, rival_updated)
            net = formulas.net_per_conversation(margin, params.tau)
            per_conversation = formulas.persuasion_per_conversation(persuadable, params.pi)
        open_rate = formulas.beta_update(
            params.open_rate_prior, params.kappa, b["conversations"], b["knocked"], estimate_k_min
        ).mean
        doors = b["doors"]
        coverage = formulas.coverage_share(b["knocked"], doors if doors is not None else 0.0)
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
                rival=rival,
                high_label=params.high_salience_election,
                q=q_updated,
                q_rival=rival_updated,
                margin=margin,
                persuadable=persuadable,
                persuasion_per_conv=per_conversation,
                net_per_conv=net,
                profile=params.profile,
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
                "doors_source": "roll_addresses" if doors is not None else None,
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
                "bloc_votes_high": _votes(b, "high", params.bloc),
                "bloc_votes_low": _votes(b, "low", params.bloc),
                "bloc_share_high": bloc_share_high,
                "rival_rule": params.rival,
                "prior_profile": params.profile,
                "rival_bloc": rival,
                "rival_votes_high": rival_votes,
                "rival_share_high": rival_share,
                "intermittent_voters": None if intermittent is None else int(intermittent),
                "reservoir": reservoir,
                "q_mobilisable": q,
                "q_updated": q_updated,
                "rival_share_updated": rival_updated,
                "net_margin": margin,
                "net_per_conversation": net,
                "conversations_full_canvass": conversations_full,
                "net_mobilisation": _product(conversations_full, net),
                "volatility_pedersen": volatility,
                "persuadable_share": persuadable,
                "persuasion_per_conversation": per_conversation,
                "persuasion": _product(valid_votes, persuadable, params.pi),
                "predicted_bloc_share": predicted,
                "ecological_gap": (
                    predicted - bloc_share_target if bloc_share_target is not None else None
                ),
                "registration_potential": registration,
                "canvass_doors_knocked": b["knocked"],
                "canvass_conversations": b["conversations"],
                # every conversation of these inputs answered the support question
                "canvass_support_answers": b["conversations"],
                "coverage": coverage,
                "open_rate_estimate": open_rate,
                "open_rate_suppressed": b["knocked"] < k_min,
                "support_suppressed": support_suppressed,
                "value_per_canvasser_hour": value,
                "value_per_canvasser_hour_uncovered": uncovered,
                "targeting_rank": None,
                "do_not_mobilise": None if margin is None else margin <= 0,
                "why": why,
                "params_version": params.params_version(),
                "ecological_fit_run_id": "fit-test",
                "census_vintage": 2021,
                "roll_reference_date": dt.date(2025, 1, 1),
                "canvass_data_until": dt.date(2026, 3, 11),
                # bureau_map's centroid (not audited: the dbt tests check it against the shape)
                "latitude": 48.39,
                "longitude": -4.49,
                "map_geometry_source": "contour",
            }
        )
    # Scored bureaux only: row_number() over (order by do_not_mobilise,
    # value_per_canvasser_hour desc, bureau_id); an unscored bureau has no rank.
    ordered = sorted(
        (r for r in rows if r["value_per_canvasser_hour"] is not None),
        key=lambda r: (r["do_not_mobilise"], -r["value_per_canvasser_hour"], r["bureau_id"]),
    )
    for rank, row in enumerate(ordered, start=1):
        row["targeting_rank"] = rank
    return rows


def plan_rows(params: ScoreParams, targeting: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan of scrutin.scores.plan.allocate_hours on the scored bureaux."""
    budget = params.plan_hours
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


COMMUNE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("code_commune", "text"),
    ("commune_name", "text"),
    ("bureaux", "bigint"),
    ("bureaux_scored", "bigint"),
    ("bureaux_do_not_mobilise", "bigint"),
    ("registered", "bigint"),
    ("valid_votes_target", "bigint"),
    ("bloc_votes_target", "double precision"),
    ("bloc_share_target", "double precision"),
    ("intermittent_voters", "bigint"),
    ("reservoir", "double precision"),
    ("doors", "double precision"),
    ("canvass_doors_knocked", "bigint"),
    ("canvass_conversations", "bigint"),
    ("coverage", "double precision"),
    ("best_bureau_id", "text"),
    ("best_value_per_canvasser_hour", "double precision"),
    ("plan_hours", "double precision"),
    ("plan_expected_net_votes", "double precision"),
    ("params_version", "text"),
)


def commune_rows(
    targeting: Sequence[dict[str, Any]], plan: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The one commune of the fixture, summed by hand from its bureaux and its plan."""

    def total(column: str) -> Any:
        return sum(r[column] for r in targeting if r[column] is not None)

    valid = total("valid_votes_target")
    bloc_votes = sum(
        r["bloc_share_target"] * r["valid_votes_target"]
        for r in targeting
        if r["bloc_share_target"] is not None
    )
    worth = sorted(
        (
            r
            for r in targeting
            if (r["value_per_canvasser_hour"] or 0) > 0 and not r["do_not_mobilise"]
        ),
        key=lambda r: r["targeting_rank"],
    )
    return [
        {
            "code_commune": COMMUNE,
            "commune_name": "Brest",
            "bureaux": len(targeting),
            "bureaux_scored": sum(r["value_per_canvasser_hour"] is not None for r in targeting),
            "bureaux_do_not_mobilise": sum(r["do_not_mobilise"] is True for r in targeting),
            "registered": total("registered"),
            "valid_votes_target": valid,
            "bloc_votes_target": bloc_votes,
            "bloc_share_target": bloc_votes / valid,
            "intermittent_voters": total("intermittent_voters"),
            "reservoir": total("reservoir"),
            "doors": total("doors"),
            "canvass_doors_knocked": total("canvass_doors_knocked"),
            "canvass_conversations": total("canvass_conversations"),
            "coverage": min(1.0, total("canvass_doors_knocked") / total("doors")),
            "best_bureau_id": worth[0]["bureau_id"],
            "best_value_per_canvasser_hour": worth[0]["value_per_canvasser_hour"],
            "plan_hours": sum(p["hours"] for p in plan),
            "plan_expected_net_votes": sum(p["expected_net_votes"] for p in plan),
            "params_version": targeting[0]["params_version"],
        }
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
    _create(conn, TARGETING_TABLE, (CAMPAIGN_COLUMN, *TARGETING_COLUMNS))
    _copy(conn, TARGETING_TABLE, names, ([row[n] for n in names] for row in rows))


def write_plan(conn: psycopg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    names = [name for name, _ in PLAN_COLUMNS]
    _create(conn, PLAN_TABLE, (CAMPAIGN_COLUMN, *PLAN_COLUMNS))
    _copy(conn, PLAN_TABLE, names, ([row[n] for n in names] for row in rows))


def write_commune_summary(conn: psycopg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    names = [name for name, _ in COMMUNE_COLUMNS]
    _create(conn, COMMUNE_TABLE, (CAMPAIGN_COLUMN, *COMMUNE_COLUMNS))
    _copy(conn, COMMUNE_TABLE, names, ([row[n] for n in names] for row in rows))


def write_opinion(conn: psycopg.Connection, k_min: int) -> None:
    """The published canvass opinion mart, as dbt builds it: support shares behind k_min (every
    conversation of these inputs answered the support question)."""
    answers = ("positive", "negative", "neutral")
    _create(
        conn,
        "mart_audit.canvass_bureau_opinion",
        (
            ("bureau_id", "text"),
            ("conversations", "integer"),
            ("support_answers", "integer"),
            ("support_suppressed", "boolean"),
            *((f"support_{a}_share", "double precision") for a in answers),
        ),
    )
    _copy(
        conn,
        "mart_audit.canvass_bureau_opinion",
        (
            "bureau_id",
            "conversations",
            "support_answers",
            "support_suppressed",
            *(f"support_{a}_share" for a in answers),
        ),
        (
            (
                bureau_id,
                b["conversations"],
                b["conversations"],
                b["conversations"] < k_min,
                *(
                    b[f"support_{a}"] / b["conversations"] if b["conversations"] >= k_min else None
                    for a in answers
                ),
            )
            for bureau_id, b in BUREAU_INPUTS.items()
            if b["conversations"] > 0
        ),
    )


def write_history(conn: psycopg.Connection, params: ScoreParams) -> None:
    """The bureau history at h and l: every bloc's share and votes (the audit's input)."""
    columns = [("election_id", "text"), ("bureau_id", "text")]
    for x in BLOCS:
        columns += [(f"share_{x}", "double precision"), (f"votes_{x}", "integer")]
    _create(conn, HISTORY, columns)
    rows = []
    for bureau_id, b in BUREAU_INPUTS.items():
        for which, election in (
            ("high", params.high_salience_election),
            ("low", params.low_salience_election),
        ):
            if b[which] is None:
                continue
            row: list[Any] = [election, bureau_id]
            for x in BLOCS:
                row += [b[which].get(x, 0.0), _votes(b, which, x)]
            rows.append(row)
    _copy(conn, HISTORY, [n for n, _ in columns], rows)


def _ledger_batch(conn: psycopg.Connection, status: str) -> int:
    row = conn.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
        "values (%s, %s, %s, %s, %s) returning batch_id",
        (LEDGER_SOURCE, f"results-{status}.csv", uuid.uuid4().hex, ELECTION, status),
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
def marts(
    conn: psycopg.Connection, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Fresh, consistent marts for each test (a test may break them at will)."""
    params = _params()
    monkeypatch.setattr(score_audit, "HISTORY_TABLE", HISTORY)
    ensure_staging_views(conn, warehouse_url, "stg_elections__bureau_results")
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
    targeting = targeting_rows(params, k_min=params.k_min)
    plan = plan_rows(params, targeting)
    communes = commune_rows(targeting, plan)
    write_targeting(conn, targeting)
    write_plan(conn, plan)
    write_commune_summary(conn, communes)
    write_opinion(conn, params.k_min)
    write_history(conn, params)
    yield {"targeting": targeting, "plan": plan, "communes": communes}
    # Leave `raw` as other modules expect it: none of these results, nor their batches.
    conn.execute(
        "delete from raw.election_results_bureau where batch_id in "
        "(select batch_id from raw.batch_ledger where source = %s)",
        (LEDGER_SOURCE,),
    )
    conn.execute("delete from raw.batch_ledger where source = %s", (LEDGER_SOURCE,))
    conn.execute("delete from ops.canvass_campaigns where params_hash = 'test'")


def _audit(url: str, params: ScoreParams | None = None) -> GateOutcome:
    return run_score_audit(url, f"test-scores-audit-{uuid.uuid4().hex[:8]}", params)


def failures(
    url: str, conn: psycopg.Connection, suite: str, params: ScoreParams | None = None
) -> list[str]:
    """The failed checks of one mart: its score-audit suite, then its dbt data tests."""
    audit = _audit(url, params)
    (outcome,) = (o for o in audit.outcomes if o.suite == suite)
    dbt_tests = data_tests_of(url, [MODELS[suite]], present=BUILT_HERE)
    failed_dbt = [f"dbt test {name}" for name in failing(conn, dbt_tests)]
    return [*outcome.failed_checks, *failed_dbt]


def assert_fails_exactly(failed: list[str], *fragments: str) -> None:
    """Each fragment names one failed check, and nothing else failed."""
    for fragment in fragments:
        assert any(fragment in f for f in failed), (fragment, failed)
    assert len(failed) == len(fragments), failed


# ---- green -----------------------------------------------------------------------------------


def test_the_fixture_covers_every_case_the_checks_distinguish(
    marts: dict[str, list[dict[str, Any]]],
) -> None:
    """Guard the fixture itself: the cases below need these rows to exist."""
    rows = {r["bureau_id"]: r for r in marts["targeting"]}
    assert rows[A]["targeting_rank"] == 1 and not rows[A]["support_suppressed"]
    assert rows[A]["q_updated"] != rows[A]["q_mobilisable"]  # the canvass moved it
    assert rows[A]["rival_share_updated"] != rows[A]["rival_share_high"]
    assert rows[A]["persuadable_share"] != rows[A]["volatility_pedersen"]
    assert (rows[A]["rival_bloc"], rows[B]["rival_bloc"], rows[C]["rival_bloc"]) == (
        "centre",
        "far_right",
        "right",
    )
    assert rows[B]["do_not_mobilise"] and rows[B]["support_suppressed"]
    assert rows[B]["value_per_canvasser_hour"] > 0  # persuasion: ranked last all the same
    assert rows[B]["targeting_rank"] == 4
    assert not rows[B]["open_rate_suppressed"]
    assert rows[C]["intermittent_voters"] <= 0
    assert rows[C]["open_rate_suppressed"] and rows[C]["support_suppressed"]
    assert 0 < rows[C]["canvass_conversations"] < rows[C]["canvass_doors_knocked"]
    assert rows[D]["coverage"] == 1.0 and rows[D]["value_per_canvasser_hour"] == 0.0
    assert rows[E]["value_per_canvasser_hour"] is None and rows[E]["do_not_mobilise"] is None
    assert rows[E]["targeting_rank"] is None
    planned = {p["bureau_id"] for p in marts["plan"]}
    assert A in planned and C in planned and B not in planned and E not in planned
    assert len({p["expected_net_votes"] for p in marts["plan"]}) == len(marts["plan"])


def test_every_check_passes_on_consistent_marts_and_is_recorded(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    outcome = _audit(warehouse_url)
    assert outcome.success, outcome.failed_checks
    assert outcome.warnings == []
    assert [o.suite for o in outcome.outcomes] == list(SUITES)
    recorded = conn.execute(
        "select suite, expectation, severity, bool_and(success), count(*) "
        "from ops.quality_results where run_id = %s group by 1, 2, 3 order by 1",
        (outcome.run_id,),
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in recorded] == [
        (suite, "score_audit", "fail", True) for suite in sorted(SUITES)
    ]
    assert sum(r[4] for r in recorded) == outcome.evaluated
    dbt_tests = data_tests_of(warehouse_url, MODELS.values(), present=BUILT_HERE)
    assert len(dbt_tests) > 20
    assert failing(conn, dbt_tests) == {}


def test_every_recompute_check_is_in_the_audit(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str
) -> None:
    (targeting, *_) = _audit(warehouse_url).outcomes
    descriptions = [r.description for r in targeting.results]
    for column in RECOMPUTED:
        assert sum(f"[{column} recomputes: " in d for d in descriptions) == 1, column


# ---- red: one breakage, the checks that describe it ----------------------------------------

T = TARGETING_TABLE
P = PLAN_TABLE
CS = COMMUNE_TABLE
RANK_FOLLOWS = "dbt test polling_station_targeting_targeting_rank_follows_value_per_canvasser_hour"
RANK_DENSE = "dbt test polling_station_targeting_targeting_rank_is_dense"
RANK_NULL = "dbt test polling_station_targeting_rank_null_exactly_when_not_scored"
AUDIT_RANK_NULL = "targeting_rank is null exactly for the bureaux that cannot be scored"
DO_NOT_MOBILISE = "dbt test polling_station_targeting_do_not_mobilise_when_the_bloc_does_not_lead"
FRACTIONS = "dbt test polling_station_targeting_fractions_in_unit_interval"

TARGETING_BREAKAGES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "duplicated rank",
        f"update {T} set targeting_rank = 1 where targeting_rank = 2",
        ("dbt test unique_polling_station_targeting_targeting_rank", RANK_DENSE, RANK_FOLLOWS),
    ),
    (
        "gap in ranks",
        f"update {T} set targeting_rank = 5 where targeting_rank = 4",
        (RANK_DENSE, RANK_FOLLOWS),
    ),
    (
        "null rank on a scored bureau",
        f"update {T} set targeting_rank = null where targeting_rank = 4",
        (RANK_FOLLOWS, RANK_NULL, AUDIT_RANK_NULL),
    ),
    (
        "a rank for an unscored bureau",
        f"update {T} set targeting_rank = 5 where bureau_id = '{E}'",
        (RANK_NULL, AUDIT_RANK_NULL),
    ),
    (
        "a do_not_mobilise bureau ranked before a mobilisable one",
        f"update {T} set targeting_rank = 5 - targeting_rank where targeting_rank in (1, 4)",
        (RANK_FOLLOWS,),
    ),
    (
        "another rival",
        f"update {T} set rival_bloc = 'far_right' where bureau_id = '{A}'",
        ("rival_bloc is the rival of rule",),
    ),
    (
        "a share of 1.2",
        f"update {T} set share_owners = 1.2 where bureau_id = '{A}'",
        (FRACTIONS,),
    ),
    (
        "a negative turnout",
        f"update {T} set turnout_low = -0.1 where bureau_id = '{C}'",
        (FRACTIONS,),
    ),
    (
        "an unlisted share column of 1.2",
        f"alter table {T} add column share_new_thing double precision; "
        f"update {T} set share_new_thing = 1.2 where bureau_id = '{A}'",
        (FRACTIONS,),
    ),
    (
        "q of 1.5",
        f"update {T} set q_mobilisable = 1.5 where bureau_id = '{A}'",
        (
            "dbt test accepted_range_polling_station_targeting_q_mobilisable",
            "q_mobilisable recomputes",
        ),
    ),
    (
        "support_suppressed unset below k_min",
        f"update {T} set support_suppressed = false where bureau_id = '{B}'",
        ("support_suppressed is true exactly when canvass_support_answers < k_min",),
    ),
    (
        "support_suppressed set from k_min on",
        f"update {T} set support_suppressed = true where bureau_id = '{A}'",
        (
            "support_suppressed is true exactly when canvass_support_answers < k_min",
            "q_updated = q_mobilisable when support is suppressed",
            "rival_share_updated = the rival's share at h when support is suppressed",
            "persuadable_share = volatility_pedersen when the canvass is suppressed",
        ),
    ),
    (
        "open_rate_suppressed unset below k_min",
        f"update {T} set open_rate_suppressed = false where bureau_id = '{C}'",
        ("open_rate_suppressed is true exactly when canvass_doors_knocked < k_min",),
    ),
    (
        "an open rate off its Beta update",
        f"update {T} set open_rate_estimate = open_rate_estimate + 0.01 where bureau_id = '{D}'",
        (
            "open_rate_estimate recomputes from k_min knocks on",
            # and every figure computed from it (D is fully covered: its value is 0 anyway)
            "conversations_full_canvass recomputes",
            "value_per_canvasser_hour_uncovered recomputes",
        ),
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
            "dbt test not_null_polling_station_targeting_params_version",
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
            "dbt test polling_station_targeting_has_a_row_for_every_polling_station",
            "dbt test polling_station_targeting_has_every_loaded_results_bureau",
        ),
    ),
    (
        "a bureau that is not a polling station",
        f"delete from mart_audit.polling_stations where bureau_id = '{E}'",
        ("dbt test polling_station_targeting_bureaux_are_polling_stations",),
    ),
    (
        "do_not_mobilise false where the bloc trails its rival",
        f"update {T} set do_not_mobilise = false where bureau_id = '{B}'",
        (DO_NOT_MOBILISE, RANK_FOLLOWS),
    ),
    (
        "do_not_mobilise decided without a net_margin",
        f"update {T} set do_not_mobilise = false where bureau_id = '{E}'",
        (DO_NOT_MOBILISE,),
    ),
    (
        "why missing",
        f"update {T} set why = null where bureau_id = '{A}'",
        ("dbt test not_null_polling_station_targeting_why",),
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
        ("value_per_canvasser_hour recomputes", RANK_FOLLOWS, RANK_NULL, AUDIT_RANK_NULL),
    ),
    (
        "a value lost where q is known",
        f"update {T} set value_per_canvasser_hour_uncovered = null where bureau_id = '{C}'",
        ("value_per_canvasser_hour_uncovered recomputes",),
    ),
]


def test_a_share_out_of_range_is_named_with_its_bureau(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """The fail-closed share test says which column of which bureau, even an unlisted one."""
    conn.execute(f"alter table {T} add column turnout_new_thing double precision")
    conn.execute(f"update {T} set turnout_new_thing = -0.5 where bureau_id = '{C}'")
    fractions = data_tests_of(warehouse_url, ["polling_station_targeting"])[
        FRACTIONS.rsplit(maxsplit=1)[-1]
    ]
    assert [(key, column, float(value)) for key, column, value in fractions.rows(conn)] == [
        (C, "turnout_new_thing", -0.5)
    ]


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
    failed = failures(warehouse_url, conn, TARGETING_SUITE)
    assert_fails_exactly(failed, f"{column} recomputes")
    assert A in failed[0]  # the example names the bureau


def test_a_model_that_ignores_support_suppression_fails_even_when_consistent(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """B's 5 and C's 2 conversations move q_updated, C's 6 knocks its open rate (k_min not
    applied to the updates), every other figure consistent with them: only the k_min rule can
    tell."""
    params = _params()
    rows = targeting_rows(params, k_min=params.k_min, estimate_k_min=1)
    by_id = {r["bureau_id"]: r for r in rows}
    assert by_id[B]["q_updated"] != by_id[B]["q_mobilisable"]
    write_targeting(conn, rows)
    failed = failures(warehouse_url, conn, TARGETING_SUITE)
    assert_fails_exactly(
        failed,
        "rival_share_updated = the rival's share at h when support is suppressed",
        "persuadable_share = volatility_pedersen when the canvass is suppressed",
        "q_updated = q_mobilisable when support is suppressed",
        "open_rate_estimate = open_rate_prior when the open rate is suppressed",
    )
    support = next(f for f in failed if "q_updated = q_mobilisable" in f)
    open_rate = next(f for f in failed if "open_rate_estimate = open_rate_prior" in f)
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
    failed = failures(warehouse_url, conn, TARGETING_SUITE)
    assert_fails_exactly(
        failed,
        "support_suppressed is true exactly when canvass_support_answers < k_min",
        "q_updated = q_mobilisable when support is suppressed",
        "rival_share_updated = the rival's share at h when support is suppressed",
        "persuadable_share = volatility_pedersen when the canvass is suppressed",
        "open_rate_suppressed is true exactly when canvass_doors_knocked < k_min",
        "open_rate_estimate = open_rate_prior when the open rate is suppressed",
    )
    assert '"k_min": 16' in "\n".join(failed)
    support = next(f for f in failed if "support_suppressed is true" in f)
    assert A in support and B not in support


def test_the_threshold_is_the_stricter_of_the_campaign_file_and_the_loaded_campaigns() -> None:
    params = _params()
    assert suppression_threshold(params, []) == params.k_min
    assert suppression_threshold(params, [params.k_min - 1, params.k_min + 5]) == params.k_min + 5
    stricter_file = dataclasses.replace(params, k_min=params.k_min + 9)
    assert suppression_threshold(stricter_file, [params.k_min]) == params.k_min + 9


def test_only_loaded_results_decide_the_bureau_coverage(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """SUPERSEDED_BUREAU (in a superseded batch) is not required; a newly loaded bureau is."""
    write_raw_results(conn, [NEW_RAW_BUREAU], "loaded")
    assert_fails_exactly(
        failures(warehouse_url, conn, TARGETING_SUITE),
        "dbt test polling_station_targeting_has_every_loaded_results_bureau",
    )
    (test,) = (
        t
        for name, t in data_tests_of(warehouse_url, ["polling_station_targeting"]).items()
        if name.endswith("has_every_loaded_results_bureau")
    )
    assert test.rows(conn) == [(NEW_RAW_BUREAU,)]


def test_a_reference_rate_reading_suppressed_bureaux_is_refused(
    conn: psycopg.Connection, warehouse_url: str, marts: dict[str, list[dict[str, Any]]]
) -> None:
    """A model whose reference support rate sums every canvassed bureau, the ones below k_min
    included, is otherwise self-consistent; but its q_updated (and the rival's share, from the
    negative answers) could be inverted to recover the answers of the suppressed bureaux (B, C):
    the gate refuses it."""
    params = _params()
    leaking = targeting_rows(params, k_min=params.k_min, reference_includes_suppressed=True)
    assert any(
        not math.isclose(a["q_updated"] or 0.0, b["q_updated"] or 0.0)
        for a, b in zip(leaking, marts["targeting"], strict=True)
    )
    write_targeting(conn, leaking)
    assert_fails_exactly(
        failures(warehouse_url, conn, TARGETING_SUITE),
        "q_updated recomputes from the published canvass",
        "rival_share_updated recomputes from the published canvass",
    )


# ---- canvass_plan ----------------------------------------------------------------------------

PLAN_RECOMPUTES = "canvass_plan recomputes with scrutin.scores.plan.allocate_hours"
PLAN_RANK_DENSE = "dbt test canvass_plan_plan_rank_is_dense"
PLAN_RANK_FOLLOWS = "dbt test canvass_plan_plan_rank_follows_expected_net_votes"


def _plan_row(bureau_id: str, value: str, params: ScoreParams) -> str:
    return (
        f"insert into {P} (bureau_id, code_commune, commune_name, code_bv, plan_rank, hours, "
        f"expected_net_votes, coverage_before, coverage_after, value_per_canvasser_hour, "
        f"params_version, plan_hours_budget) "
        f"select '{bureau_id}', '{COMMUNE}', 'Brest', '{bureau_id[-4:]}', count(*) + 1, 0.5, "
        # the plan's own version: the row is wrong for its bureau, not for its parameters
        f"-1.0, 0.0, 0.0, {value}, min(params_version), {params.plan_hours} from {P}"
    )


def _plan_breakages() -> list[tuple[str, str, tuple[str, ...]]]:
    params = _params()
    sends = "dbt test assert_canvass_plan_sends_no_one_where_a_conversation_loses_votes"
    return [
        ("do_not_mobilise bureau", _plan_row(B, "-0.1", params), (sends, PLAN_RECOMPUTES)),
        ("unknown-effect bureau", _plan_row(E, "null", params), (sends, PLAN_RECOMPUTES)),
        (
            "over budget",
            f"update {P} set hours = hours + {params.plan_hours} where plan_rank = 1",
            (
                "dbt test canvass_plan_hours_within_budget",
                "sum(hours) <= scores.plan_hours",
                PLAN_RECOMPUTES,
            ),
        ),
        (
            "zero hours",
            f"update {P} set hours = 0 where plan_rank = 2",
            ("dbt test canvass_plan_hours_are_positive", PLAN_RECOMPUTES),
        ),
        (
            "off step",
            f"update {P} set hours = hours + 0.2 where plan_rank = 1",
            ("hours are a multiple of plan_step_hours", PLAN_RECOMPUTES),
        ),
        (
            "unknown bureau",
            f"update {P} set bureau_id = '{COMMUNE}_0098' where plan_rank = 2",
            (
                "dbt test relationships_canvass_plan_bureau_id__bureau_id__ref_polling_station_",
                PLAN_RECOMPUTES,
            ),
        ),
        (
            "duplicated rank",
            f"update {P} set plan_rank = 1 where plan_rank = 2",
            (
                "dbt test unique_canvass_plan_plan_rank",
                PLAN_RANK_DENSE,
                PLAN_RANK_FOLLOWS,
                PLAN_RECOMPUTES,
            ),
        ),
        (
            "rank gap",
            f"update {P} set plan_rank = plan_rank + 1 where plan_rank = 2",
            (PLAN_RANK_DENSE, PLAN_RANK_FOLLOWS, PLAN_RECOMPUTES),
        ),
        (
            "old params_version",
            f"update {P} set params_version = 'deadbeef0000' where plan_rank = 1",
            ("params_version is the current ScoreParams.params_version()",),
        ),
        (
            "two budgets",
            f"update {P} set plan_hours_budget = plan_hours_budget * 2 where plan_rank = 2",
            ("dbt test canvass_plan_has_one_budget", "plan_hours_budget = scores.plan_hours"),
        ),
    ]


def test_the_plan_budget_is_the_parameters_plan_hours(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """A plan built for a bigger budget than the campaign's: refused, even though its hours fit."""
    params = _params()
    conn.execute(f"update {P} set plan_hours_budget = plan_hours_budget * 10")
    assert_fails_exactly(
        failures(warehouse_url, conn, PLAN_SUITE), "plan_hours_budget = scores.plan_hours"
    )
    # And the hours are held to the parameters' budget, not only to the column.
    conn.execute(f"update {P} set hours = hours + {params.plan_hours} where plan_rank = 1")
    failed = failures(warehouse_url, conn, PLAN_SUITE)
    assert any("sum(hours) <= scores.plan_hours" in f for f in failed), failed
    assert not any("canvass_plan_hours_within_budget" in f for f in failed), failed


def test_an_empty_plan_breaks_no_budget_or_rank_check(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """Sums, budgets and ranks over no row are no breach; only the recomputation, which would
    hand hours out here, refuses an empty plan."""
    conn.execute(f"delete from {P}")
    assert_fails_exactly(failures(warehouse_url, conn, PLAN_SUITE), PLAN_RECOMPUTES)


# ---- commune_summary -------------------------------------------------------------------------

COMMUNE_BREAKAGES: list[tuple[str, str, tuple[str, ...]]] = [
    (
        "a bureau counted twice",
        f"update {CS} set bureaux = bureaux + 1",
        ("bureaux adds up from polling_station_targeting and canvass_plan",),
    ),
    (
        "another best bureau",
        f"update {CS} set best_bureau_id = '{D}'",
        ("best_bureau_id adds up",),
    ),
    (
        "plan hours of another plan",
        f"update {CS} set plan_hours = plan_hours + 0.5",
        ("plan_hours adds up",),
    ),
    (
        "a coverage above one",
        f"update {CS} set coverage = 1.5",
        ("dbt test accepted_range_commune_summary_coverage", "coverage adds up"),
    ),
    (
        "a commune without bureaux",
        f"insert into {CS} (code_commune, bureaux, params_version) "
        f"select '29020', 1, params_version from {CS}",
        ("one commune_summary row per commune of polling_station_targeting",),
    ),
    (
        "a stale params_version",
        f"update {CS} set params_version = 'deadbeef0000'",
        ("params_version is the current ScoreParams.params_version()",),
    ),
]


def _breakages() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(id, suite, sql, expected failures) of every mart breakage of this module."""
    return [
        *(
            (f"targeting: {name}", TARGETING_SUITE, sql, exp)
            for name, sql, exp in TARGETING_BREAKAGES
        ),
        *((f"plan: {name}", PLAN_SUITE, sql, exp) for name, sql, exp in _plan_breakages()),
        *((f"commune: {name}", COMMUNE_SUITE, sql, exp) for name, sql, exp in COMMUNE_BREAKAGES),
    ]


@pytest.mark.parametrize(
    ("suite", "sql", "expected"),
    [case[1:] for case in _breakages()],
    ids=[case[0] for case in _breakages()],
)
def test_a_broken_mart_fails_the_checks_that_describe_it(
    *,
    marts: dict[str, list[dict[str, Any]]],
    warehouse_url: str,
    conn: psycopg.Connection,
    suite: str,
    sql: str,
    expected: tuple[str, ...],
) -> None:
    """One breakage: the checks of its mart that describe it fail, and no other check of it."""
    assert len(marts["plan"]) >= 2  # the plan breakages need two rows
    conn.execute(sql)
    assert_fails_exactly(failures(warehouse_url, conn, suite), *expected)


# ---- missing tables, unreadable and edited parameters -----------------------------------------


def test_a_missing_targeting_mart_refuses_every_suite(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    conn.execute(f"drop table {PLAN_TABLE}")
    conn.execute(f"drop table {TARGETING_TABLE}")
    outcome = _audit(warehouse_url)
    assert not outcome.success
    targeting, plan, commune = outcome.outcomes
    assert targeting.failed_checks == [
        f"{TARGETING_SUITE}: table {TARGETING_TABLE} does not exist (not loaded yet, or the "
        "build that creates it failed): nothing to validate"
    ]
    assert f"table {PLAN_TABLE} does not exist" in plan.failed_checks[0]
    assert f"table {TARGETING_TABLE} does not exist" in commune.failed_checks[0]
    recorded = conn.execute(
        "select expectation, success from ops.quality_results where run_id = %s",
        (outcome.run_id,),
    ).fetchall()
    assert recorded == [("table_exists", False)] * 3
    # Only the plan missing: the targeting suite is unaffected, the plan and commune refused.
    write_targeting(conn, marts["targeting"])
    targeting, plan, commune = _audit(warehouse_url).outcomes
    assert targeting.success
    assert f"table {PLAN_TABLE} does not exist" in plan.failed_checks[0]
    assert f"table {PLAN_TABLE} does not exist" in commune.failed_checks[0]


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
    outcome = _audit(warehouse_url)
    assert [len(o.failed_checks) for o in outcome.outcomes] == [1, 1, 1]
    for failure in outcome.failed_checks:
        assert "score parameters are readable from the campaign file" in failure
        assert "scores.tau" in failure and str(campaign) in failure


def test_the_audit_follows_the_parameters_it_is_given(
    marts: dict[str, list[dict[str, Any]]], warehouse_url: str, conn: psycopg.Connection
) -> None:
    """Parameters edited after the build (tau changed): the stale marts are refused."""
    edited = dataclasses.replace(_params(), tau=0.05)
    failed = failures(warehouse_url, conn, TARGETING_SUITE, edited)
    assert any("params_version is the current" in f for f in failed), failed
    assert any("net_per_conversation recomputes" in f for f in failed), failed
    assert not any("intermittent_voters" in f for f in failed)  # tau-free: still right
