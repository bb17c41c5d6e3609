"""The score audit: the published score rows recomputed with the Python reference formulas.

`mart_audit.polling_station_targeting` ranks every bureau for door-to-door canvassing,
`mart_audit.canvass_plan` hands out the volunteers' hours and `mart_audit.commune_summary` adds
them up per commune (docs/scores.md). A wrong number there sends volunteers to the wrong doors,
or to doors where each conversation LOSES votes. dbt computes them in SQL (dbt/macros/scores.sql,
what is published); this audit recomputes them right before the swap with the reference
implementation, `scrutin/scores/formulas.py` and `scrutin/scores/plan.py`, and with the score
parameters the gate reads now. The formulas so exist twice: Python as the reference, SQL as what
is published. A row that disagrees refuses the publication.

What the audit checks, and why (every check is `fail`):
- The components recompute: each component (INT, RES, q, net per conversation, C, NET, PERS,
  value per canvasser-hour with and without coverage, GAP, REG, open rate, coverage) is
  recomputed from the row's BASE inputs with formulas.py, not from the published intermediate
  components, so one wrong link fails every figure built on it; |published - recomputed| > 1e-6,
  or only one of them null, refuses the row. A missing input gives null, as in the model.
- k_min (opinion is special-category data, GDPR art. 9): `support_suppressed` is true exactly
  when canvass_support_answers (the published step of support answers) < k_min, and then
  q_updated = q_mobilisable; `open_rate_suppressed`
  exactly when canvass_doors_knocked < k_min, and then open_rate_estimate = open_rate_prior. The
  threshold is the stricter of the campaign's `k_min` (the one the models are built with) and the
  `k_min` every loaded campaign's knocks were collected under (`ops.canvass_campaigns`). "Exactly"
  both ways: a needlessly suppressed row ignores real canvass data, so its score is wrong.
- q_updated comes from PUBLISHED canvass figures only: recomputed from canvass_bureau_opinion's
  unsuppressed support shares and their published answers (support_answers, the published step:
  docs/privacy.md), their campaign-wide rate as the reference. A model whose reference
  rate read a suppressed bureau's support could be inverted to recover that bureau's opinions.
- Parameters current: every row carries the `params_version` of the parameters the gate reads
  now, and their bloc and election ids. A stale build (parameters edited after dbt ran) is
  refused, not published under a version it was not computed with.
- The plan: hours in multiples of plan_step_hours, one budget equal to `scores.plan_hours`,
  sum(hours) within it, and the whole plan equal to `plan.allocate_hours` on the targeting rows.
- The commune summary adds up from the targeting rows and the plan, commune by commune.

What is not here: what needs no parameter and no formula (ranks dense and in order, one row per
polling station, shares in [0, 1], do_not_mobilise = net < 0, no plan hour on a do_not_mobilise
bureau, ...) is a dbt test of the model (dbt/models/marts/targeting/*.yml), run by the gate's
second dbt build. docs/operations.md maps every former GX check name to where it lives now.

Fail-closed: unreadable score parameters refuse each suite with the reason; a missing table
refuses its suite ("table ... does not exist"). Results go to `ops.quality_results` like the
Great Expectations checks (expectation `score_audit`), the failures to `ops.gate_runs`.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from expectations.results import (
    EXAMPLES_KEPT,
    CheckResult,
    GateOutcome,
    SuiteOutcome,
    describe,
    error_result,
    record,
    scrub_examples,
)
from scrutin.scores import formulas
from scrutin.scores.params import RIVAL_RUNOFF_OPPONENT, RIVAL_STRONGEST_OTHER

if TYPE_CHECKING:
    import psycopg

    from scrutin.scores.params import ScoreParams

TARGETING_TABLE = "mart_audit.polling_station_targeting"
PLAN_TABLE = "mart_audit.canvass_plan"
COMMUNE_TABLE = "mart_audit.commune_summary"
OPINION_TABLE = "mart_audit.canvass_bureau_opinion"
# Every bloc's votes and shares per bureau and election: the rival and the volatility are
# recomputed from it (the targeting row carries the rival's share only).
HISTORY_TABLE = "intermediate.int_bureau_history__by_election"
CAMPAIGNS_TABLE = "ops.canvass_campaigns"

TARGETING_SUITE = "audit_polling_station_targeting"
PLAN_SUITE = "audit_canvass_plan"
COMMUNE_SUITE = "audit_commune_summary"
SUITES: tuple[str, ...] = (TARGETING_SUITE, PLAN_SUITE, COMMUNE_SUITE)
# What `ops.quality_results.expectation` says of these checks.
EXPECTATION = "score_audit"
MISSING_TABLE_CHECK = "table_exists"
PARAMS_LABEL = "score parameters are readable from the campaign file"

# Published vs recomputed: scores are doubles; 1e-6 is far above float noise and far below any
# figure a volunteer would act on.
RECOMPUTE_TOLERANCE = 1e-6
# A suppressed figure is a copy of its prior: equal up to storage rounding only.
COPY_TOLERANCE = 1e-9

Row = dict[str, Any]

# The rows each query returned during one run_score_audit: the targeting mart is read by all
# three audits (69,000 rows nationally, about 0.7 s a read), and nothing writes between them.
_RUN_ROWS: ContextVar[dict[str, list[Row]] | None] = ContextVar("_RUN_ROWS", default=None)


@dataclass(frozen=True)
class Finding:
    """A check and the rows that break it (keys first: they become the examples)."""

    label: str
    columns: tuple[str, ...]
    offending: list[Row]


# ---- public API -------------------------------------------------------------------------------


def current_params() -> tuple[ScoreParams | None, str | None]:
    """The score parameters the gate reads now, or the reason they cannot be read.

    Never raises: a broken campaign file refuses the publication through a failed check.
    """
    from scrutin.campaign import CampaignConfigError
    from scrutin.scores.params import load_score_params

    try:
        return load_score_params(), None
    except (CampaignConfigError, ValueError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def run_score_audit(url: str, run_id: str, params: ScoreParams | None = None) -> GateOutcome:
    """Audit the three score marts of `mart_audit` and record every check in ops.quality_results.

    `params` defaults to the campaign file's (`current_params()`); tests pass others.
    """
    from psycopg.rows import dict_row

    from scrutin.db import connect

    error = None
    if params is None:
        params, error = current_params()
    outcomes = []
    with _one_read_per_query(), connect(url, autocommit=True) as conn:
        conn.row_factory = dict_row  # type: ignore[assignment]
        for suite, target, required, audit in (
            (TARGETING_SUITE, TARGETING_TABLE, (OPINION_TABLE, CAMPAIGNS_TABLE), audit_targeting),
            (PLAN_SUITE, PLAN_TABLE, (TARGETING_TABLE,), audit_plan),
            (COMMUNE_SUITE, COMMUNE_TABLE, (TARGETING_TABLE, PLAN_TABLE), audit_commune_summary),
        ):
            started = time.perf_counter()
            missing = _missing_table(conn, (target, *required))
            if missing is not None:
                why = (
                    f"table {missing} does not exist (not loaded yet, or the build that creates "
                    "it failed): nothing to validate"
                )
                results = [error_result(suite, target, why, expectation=MISSING_TABLE_CHECK)]
            elif params is None:
                finding = Finding(PARAMS_LABEL, (), [{"error": error or "no score parameters"}])
                results = [_result(suite, target, finding)]
            else:
                with np.errstate(invalid="ignore"):  # NaN stands for null: it may meet a NaN
                    results = [_result(suite, target, f) for f in audit(conn, params)]
            record(url, run_id, results)
            outcomes.append(
                SuiteOutcome(
                    suite=suite,
                    target=target,
                    run_id=run_id,
                    results=tuple(results),
                    duration_s=time.perf_counter() - started,
                    error=results[0].observed["error"] if missing is not None else None,
                )
            )
    return GateOutcome(run_id=run_id, outcomes=tuple(outcomes))


# ---- polling_station_targeting ----------------------------------------------------------------

# column -> (the formula as the label says it, recomputation from the row, inputs shown).
# A recomputation takes one row (a dict of values, null as None) or every row at once
# (`_Columns`: a float array per column, null as NaN): audit_targeting evaluates each formula
# once per column (69,000 rows nationally); other checks call the same functions on one row.
Recompute = Callable[[Any, "ScoreParams"], Any]


def _intermittent(row: Row, p: ScoreParams) -> float | None:
    return _value(formulas.intermittent_voters(_f(row["voters_high"]), _f(row["voters_low"])))


def _reservoir(row: Row, p: ScoreParams) -> float | None:
    return _value(formulas.reservoir(_f(row["bloc_votes_high"]), _f(row["bloc_votes_low"])))


def _q(row: Row, p: ScoreParams) -> float | None:
    """q: the bloc's share at h, for a scored bureau (both references: a volatility)."""
    return _when_known(row.get("volatility_recomputed"), row["bloc_share_high"])


def _rival_prior(row: Row, p: ScoreParams) -> float | None:
    """The rival's share at h (the rival recomputed from the history), for a scored bureau."""
    return _when_known(row.get("volatility_recomputed"), row.get("rival_share_recomputed"))


def _when_known(condition: Any, value: Any) -> Any:
    """`value` where `condition` is not null, else null (a row's values or whole columns)."""
    if isinstance(condition, np.ndarray):
        return np.where(np.isnan(condition), np.nan, _f(value))
    return None if condition is None else _f_or_none(value)


def _margin(row: Row, p: ScoreParams) -> float | None:
    return _value(
        formulas.net_value_per_mobilised_voter(_f(row["q_updated"]), _f(row["rival_share_updated"]))
    )


def _net_per_conversation(row: Row, p: ScoreParams) -> float | None:
    return _value(formulas.net_per_conversation(_f(_margin(row, p)), p.tau))


def _persuasion_per_conversation(row: Row, p: ScoreParams) -> float | None:
    return _value(formulas.persuasion_per_conversation(_f(row["persuadable_share"]), p.pi))


def _conversations_full(row: Row, p: ScoreParams) -> float | None:
    return _value(_f(row["doors"]) * _f(row["open_rate_estimate"]))


def _net_mobilisation(row: Row, p: ScoreParams) -> float | None:
    return _value(
        formulas.net_mobilisation(_f(_conversations_full(row, p)), _f(_margin(row, p)), p.tau)
    )


def _persuasion(row: Row, p: ScoreParams) -> float | None:
    return _value(
        formulas.persuasion(_f(row["valid_votes_target"]), _f(row["persuadable_share"]), p.pi)
    )


def _value_per_hour(row: Row, p: ScoreParams, coverage: float) -> float | None:
    return _value(
        formulas.value_per_canvasser_hour(
            p.doors_per_canvasser_hour,
            _f(row["open_rate_estimate"]),
            _f(_net_per_conversation(row, p)),
            _f(_persuasion_per_conversation(row, p)),
            coverage=coverage,
            gamma=p.coverage_gamma,
        )
    )


def _ecological_gap(row: Row, p: ScoreParams) -> float | None:
    return _value(_f(row["predicted_bloc_share"]) - _f(row["bloc_share_target"]))


def _registration(row: Row, p: ScoreParams) -> float | None:
    registered = _coalesce(row["registered_voters_roll"], row["registered"])
    return _value(
        formulas.registration_potential(_f(row["adult_french_population_approx"]), _f(registered))
    )


def _coverage(row: Row, p: ScoreParams) -> float | None:
    doors = _coalesce(row["doors"], 0.0)
    return _value(formulas.coverage_share(_f(row["canvass_doors_knocked"]), _f(doors)))


def _coalesce(value: Any, default: Any) -> Any:
    """SQL's coalesce on a row's value or a whole column (null: None or NaN)."""
    if isinstance(value, np.ndarray):
        return np.where(np.isnan(value), _f(default), value)
    return default if value is None else value


RECOMPUTED: Mapping[str, tuple[str, Recompute, tuple[str, ...]]] = {
    "intermittent_voters": (
        "voters_high - voters_low",
        _intermittent,
        ("voters_high", "voters_low"),
    ),
    "reservoir": (
        "max(0, bloc_votes_high - bloc_votes_low)",
        _reservoir,
        ("bloc_votes_high", "bloc_votes_low"),
    ),
    "q_mobilisable": (
        "bloc_share_high where both reference elections have results (null otherwise)",
        _q,
        ("bloc_share_high", "volatility_pedersen"),
    ),
    "rival_share_high": (
        "the rival's share at h (the rival recomputed from the bureau history)",
        lambda row, p: row.get("rival_share_recomputed"),
        ("rival_bloc",),
    ),
    "volatility_pedersen": (
        "1/2 * sum over the blocs of |share at h - share at l| (from the bureau history)",
        lambda row, p: row.get("volatility_recomputed"),
        ("high_salience_election_id", "low_salience_election_id"),
    ),
    "net_margin": (
        "q_updated - rival_share_updated",
        _margin,
        ("q_updated", "rival_share_updated"),
    ),
    "net_per_conversation": (
        "tau * (q_updated - rival_share_updated)",
        _net_per_conversation,
        ("q_updated", "rival_share_updated"),
    ),
    "persuasion_per_conversation": (
        "persuadable_share * pi",
        _persuasion_per_conversation,
        ("persuadable_share",),
    ),
    "conversations_full_canvass": (
        "doors * open_rate_estimate",
        _conversations_full,
        ("doors", "open_rate_estimate"),
    ),
    "net_mobilisation": (
        "doors * open_rate_estimate * tau * (q_updated - rival_share_updated)",
        _net_mobilisation,
        ("doors", "open_rate_estimate", "q_updated", "rival_share_updated"),
    ),
    "persuasion": (
        "valid_votes_target * persuadable_share * pi",
        _persuasion,
        ("valid_votes_target", "persuadable_share"),
    ),
    "value_per_canvasser_hour": (
        "doors_per_canvasser_hour * open_rate_estimate * (tau * (q_updated - rival_share_updated)"
        " + persuadable_share * pi) * (0 if coverage >= 1 else (1 - coverage) ^ coverage_gamma)",
        lambda row, p: _value_per_hour(row, p, _f(_coverage(row, p))),
        (
            "open_rate_estimate",
            "q_updated",
            "rival_share_updated",
            "persuadable_share",
            "canvass_doors_knocked",
            "doors",
        ),
    ),
    "value_per_canvasser_hour_uncovered": (
        "doors_per_canvasser_hour * open_rate_estimate * (tau * (q_updated - rival_share_updated)"
        " + persuadable_share * pi)",
        lambda row, p: _value_per_hour(row, p, 0.0),
        ("open_rate_estimate", "q_updated", "rival_share_updated", "persuadable_share"),
    ),
    "ecological_gap": (
        "predicted_bloc_share - bloc_share_target",
        _ecological_gap,
        ("predicted_bloc_share", "bloc_share_target"),
    ),
    "registration_potential": (
        "max(0, adult_french_population_approx - coalesce(registered_voters_roll, registered))",
        _registration,
        ("adult_french_population_approx", "registered_voters_roll", "registered"),
    ),
    "coverage": (
        "clip(canvass_doors_knocked / doors, 0, 1), 0 when doors are unknown",
        _coverage,
        ("canvass_doors_knocked", "doors"),
    ),
}


def audit_targeting(conn: psycopg.Connection[Any], params: ScoreParams) -> list[Finding]:
    """Every check of `polling_station_targeting` (see the module docstring)."""
    rows = _rows(conn, f"select * from {TARGETING_TABLE} order by bureau_id")
    _attach_references(conn, rows, params)
    k_min = suppression_threshold(params, _campaign_k_mins(conn))
    findings = [
        Finding(
            f"rival_bloc is the rival of rule {params.rival!r}, recomputed from the bureau "
            "history at the high-salience election",
            ("rival_bloc",),
            [
                _keyed(row, "rival_bloc") | {"recomputed": row["rival_recomputed"]}
                for row in rows
                if row["rival_bloc"] != row["rival_recomputed"]
            ],
        ),
        Finding(
            "targeting_rank is null exactly for the bureaux that cannot be scored (no value)",
            ("targeting_rank", "value_per_canvasser_hour"),
            [
                _keyed(row, "targeting_rank", "value_per_canvasser_hour")
                for row in rows
                if (row["targeting_rank"] is None) != (row["value_per_canvasser_hour"] is None)
            ],
        ),
        _suppressed_copy(
            rows,
            "rival_share_updated = the rival's share at h when support is suppressed",
            ("rival_share_updated", "rival_share_high", "canvass_support_answers"),
            flag="support_suppressed",
            count="canvass_support_answers",
            k_min=k_min,
            published="rival_share_updated",
            prior=lambda row: _rival_prior(row, params),
        ),
        _suppressed_copy(
            rows,
            "persuadable_share = volatility_pedersen when the canvass is suppressed (below k_min)",
            ("persuadable_share", "volatility_pedersen", "canvass_support_answers"),
            flag="support_suppressed",
            count="canvass_support_answers",
            k_min=k_min,
            published="persuadable_share",
            prior=lambda row: row["volatility_recomputed"],
        ),
        _suppression_flag(rows, "support_suppressed", "canvass_support_answers", k_min),
        _suppressed_copy(
            rows,
            "q_updated = q_mobilisable when support is suppressed (below k_min)",
            ("q_updated", "q_mobilisable", "canvass_support_answers"),
            flag="support_suppressed",
            count="canvass_support_answers",
            k_min=k_min,
            published="q_updated",
            prior=lambda row: _q(row, params),
        ),
        *_canvass_from_published_figures(conn, rows, params, k_min),
        _suppression_flag(rows, "open_rate_suppressed", "canvass_doors_knocked", k_min),
        _suppressed_copy(
            rows,
            "open_rate_estimate = open_rate_prior when the open rate is suppressed (below k_min)",
            ("open_rate_estimate", "canvass_doors_knocked"),
            flag="open_rate_suppressed",
            count="canvass_doors_knocked",
            k_min=k_min,
            published="open_rate_estimate",
            prior=lambda row: params.open_rate_prior,
        ),
        _open_rate_updated(rows, params, k_min),
        _current_params_version(rows, params),
        Finding(
            "bloc and election ids are the current score parameters'",
            ("bloc", "target_election_id", "high_salience_election_id", "low_salience_election_id"),
            [
                _keyed(row, "bloc", *_ELECTION_ID_COLUMNS)
                for row in rows
                if (row["bloc"], *(row[c] for c in _ELECTION_ID_COLUMNS))
                != (
                    params.bloc,
                    params.target_election,
                    params.high_salience_election,
                    params.low_salience_election,
                )
            ],
        ),
    ]
    columns = _Columns(rows)
    for column, (formula, recompute, inputs) in RECOMPUTED.items():
        offending = []
        recomputed = np.broadcast_to(_f(recompute(columns, params)), (len(rows),))
        for i in np.flatnonzero(_differ(columns[column], recomputed, RECOMPUTE_TOLERANCE)):
            row = rows[i]
            offending.append(
                {
                    "bureau_id": row["bureau_id"],
                    column: row[column],
                    "recomputed": _value(recomputed[i]),
                }
                | {name: row[name] for name in inputs}
            )
        findings.append(
            Finding(
                f"{column} recomputes: {formula} (within {RECOMPUTE_TOLERANCE:g})",
                (column, *inputs),
                offending,
            )
        )
    return findings


_ELECTION_ID_COLUMNS = (
    "target_election_id",
    "high_salience_election_id",
    "low_salience_election_id",
)


def suppression_threshold(params: ScoreParams, campaign_k_mins: Iterable[int]) -> int:
    """The stricter of the campaign file's k_min and every loaded campaign's: knocks collected
    under a promise of k = 16 are never published at a threshold lowered afterwards."""
    return max([params.k_min, *campaign_k_mins])


def _campaign_k_mins(conn: psycopg.Connection[Any]) -> list[int]:
    return [int(r["k_min"]) for r in _rows(conn, f"select k_min from {CAMPAIGNS_TABLE}")]


def _suppression_flag(rows: Sequence[Row], flag: str, count: str, k_min: int) -> Finding:
    return Finding(
        f"{flag} is true exactly when {count} < k_min",
        (flag, count),
        [
            _keyed(row, count, flag) | {"k_min": k_min}
            for row in rows
            if _distinct(row[flag], None if row[count] is None else row[count] < k_min)
        ],
    )


def _below_k_min(row: Row, flag: str, count: str, k_min: int) -> bool:
    """The row is below the threshold or says it is suppressed (either way, nothing moves)."""
    return (row[count] or 0) < k_min or row[flag] is True


def _suppressed_copy(
    rows: Sequence[Row],
    label: str,
    columns: tuple[str, ...],
    *,
    flag: str,
    count: str,
    k_min: int,
    published: str,
    prior: Callable[[Row], Any],
) -> Finding:
    """Below k_min the canvass must not move the figure: it equals its prior."""
    return Finding(
        label,
        columns,
        [
            _keyed(row, count, published) | {"prior": prior(row), "k_min": k_min}
            for row in rows
            if _below_k_min(row, flag, count, k_min)
            and (
                row[published] is None
                or prior(row) is None
                or abs(float(row[published]) - float(prior(row))) >= COPY_TOLERANCE
            )
            and not (row[published] is None and prior(row) is None)
        ],
    )


def _attach_references(conn: psycopg.Connection[Any], rows: list[Row], params: ScoreParams) -> None:
    """Add to each row the rival, its share at h and the Pedersen index, recomputed with
    formulas.py from `intermediate.int_bureau_history__by_election` (every bloc's share at h and
    l), never from the published columns."""
    from scrutin.vocabulary import BLOCS

    columns = ", ".join(f"share_{b}, votes_{b}" for b in BLOCS)
    history: dict[tuple[str, str], Row] = {
        (r["election_id"], r["bureau_id"]): r
        for r in _rows(
            conn,
            f"select election_id, bureau_id, {columns} from {HISTORY_TABLE} "
            f"where election_id in ('{params.high_salience_election}', "
            f"'{params.low_salience_election}')",
        )
    }
    territory = {row["bureau_id"] for row in rows}
    runoff = None
    if params.rival == RIVAL_RUNOFF_OPPONENT:
        totals = {
            b: sum(
                float(r[f"votes_{b}"] or 0)
                for (election, bureau), r in history.items()
                if election == params.high_salience_election and bureau in territory
            )
            for b in BLOCS
        }
        runoff = formulas.runoff_opponent(totals, params.bloc, BLOCS)
    both: list[tuple[Row, Row, Row]] = []
    for row in rows:
        high = history.get((params.high_salience_election, row["bureau_id"]))
        low = history.get((params.low_salience_election, row["bureau_id"]))
        rival = None
        rival_share = None
        if high is not None:
            if params.rival == RIVAL_STRONGEST_OTHER:
                shares = {b: _f_or_none(high[f"share_{b}"]) for b in BLOCS}
                rival = formulas.strongest_other(shares, params.bloc, BLOCS)
            else:
                rival = runoff if runoff is not None else params.rival
            rival_share = _f_or_none(high[f"share_{rival}"])
        row["rival_recomputed"] = rival
        row["rival_share_recomputed"] = rival_share
        row["volatility_recomputed"] = None
        if high is not None and low is not None:
            both.append((row, high, low))
    if both:
        # one call over every bureau with both references: a row of shares per bureau
        volatility = formulas.pedersen_index(
            _share_matrix([high for _row, high, _low in both], BLOCS),
            _share_matrix([low for _row, _high, low in both], BLOCS),
        )
        for (row, _high, _low), value in zip(both, np.atleast_1d(volatility), strict=True):
            row["volatility_recomputed"] = _value(value)


def _share_matrix(history_rows: Sequence[Row], blocs: Sequence[str]) -> np.ndarray:
    """Every bloc's share of each row (one line per row, one column per bloc), null as NaN."""
    keys = [f"share_{b}" for b in blocs]
    nan = math.nan
    return np.array(
        [[nan if (v := r[k]) is None else v for k in keys] for r in history_rows],
        dtype=np.float64,
    ).reshape(len(history_rows), len(blocs))


def _canvass_from_published_figures(
    conn: psycopg.Connection[Any], rows: Sequence[Row], params: ScoreParams, k_min: int
) -> list[Finding]:
    """q_updated, rival_share_updated and persuadable_share of every unsuppressed row,
    recomputed from the PUBLISHED opinion figures only (canvass_bureau_opinion's unsuppressed
    shares, their campaign-wide rate as the reference): q with formulas.relative_rate_update on
    the positive answers, the rival's share on the negative ones, the persuadable share with
    formulas.beta_update on the undecided (neutral) ones. A model whose reference rate read a
    suppressed bureau's answers could be inverted to recover that bureau's opinions."""
    answers = ("positive", "negative", "neutral")
    published: dict[str, tuple[float, dict[str, float | None]]] = {}
    for r in _rows(
        conn,
        "select bureau_id, support_answers, "
        + ", ".join(f"support_{a}_share" for a in answers)
        + f" from {OPINION_TABLE} where not support_suppressed",
    ):
        trials = float(r["support_answers"])
        published[r["bureau_id"]] = (
            trials,
            {
                a: None
                if r[f"support_{a}_share"] is None
                else float(r[f"support_{a}_share"]) * trials
                for a in answers
            },
        )
    reference_trials = sum(trials for trials, _ in published.values())
    reference = {a: sum(counts[a] or 0.0 for _, counts in published.values()) for a in answers}
    checks = (
        ("q_updated", "positive", lambda row: _q(row, params), "q_mobilisable"),
        (
            "rival_share_updated",
            "negative",
            lambda row: _rival_prior(row, params),
            "rival_share_high",
        ),
        (
            "persuadable_share",
            "neutral",
            lambda row: row["volatility_recomputed"],
            "volatility_pedersen",
        ),
    )
    findings = []
    for column, answer, prior_of, prior_column in checks:
        offending = []
        for row in rows:
            answered = row["canvass_support_answers"]
            if row["support_suppressed"] is not False or answered is None:
                continue
            if answered < k_min:
                continue
            prior = prior_of(row)
            entry = published.get(row["bureau_id"])
            bureau_trials = entry[0] if entry else None
            successes = entry[1].get(answer) if entry else None
            expected: float | None = None
            if prior is not None and bureau_trials is not None and successes is not None:
                if answer == "neutral":
                    estimate = formulas.beta_update(
                        prior, params.kappa, successes, bureau_trials, 0
                    )
                else:
                    estimate = formulas.relative_rate_update(
                        prior,
                        params.kappa,
                        successes,
                        bureau_trials,
                        city_successes=reference[answer],
                        city_trials=reference_trials,
                        k_min=0,  # the published rows are above k_min by construction
                    )
                expected = _value(estimate.mean)
            if _differs(_f_or_none(row[column]), expected, RECOMPUTE_TOLERANCE):
                offending.append(_keyed(row, column) | {"from_published": expected})
        findings.append(
            Finding(
                f"{column} recomputes from the published canvass figures only ({answer} "
                "answers; no suppressed bureau's answers in the reference rate)",
                (column, prior_column, "canvass_support_answers"),
                offending,
            )
        )
    return findings


def _open_rate_updated(rows: Sequence[Row], params: ScoreParams, k_min: int) -> Finding:
    """From k_min knocks on, the open rate is the prior updated by formulas.beta_update."""
    columns = _Columns(rows)
    expected = np.broadcast_to(
        _f(
            formulas.beta_update(
                params.open_rate_prior,
                params.kappa,
                columns["canvass_conversations"],
                columns["canvass_doors_knocked"],
                k_min,
            ).mean
        ),
        (len(rows),),
    )
    differ = _differ(columns["open_rate_estimate"], expected, RECOMPUTE_TOLERANCE)
    offending = [
        _keyed(row, "canvass_doors_knocked", "canvass_conversations", "open_rate_estimate")
        | {"recomputed": _value(expected[i])}
        for i in np.flatnonzero(differ)
        if not _below_k_min(
            row := rows[int(i)], "open_rate_suppressed", "canvass_doors_knocked", k_min
        )
    ]
    return Finding(
        "open_rate_estimate recomputes from k_min knocks on: (kappa * open_rate_prior "
        f"+ conversations) / (kappa + knocks) (within {RECOMPUTE_TOLERANCE:g})",
        ("open_rate_estimate", "canvass_doors_knocked", "canvass_conversations"),
        offending,
    )


def _current_params_version(
    rows: Sequence[Row], params: ScoreParams, key: str = "bureau_id"
) -> Finding:
    version = params.params_version()
    return Finding(
        f"params_version is the current ScoreParams.params_version() ({version})",
        ("params_version",),
        [
            _keyed(row, "params_version", key=key) | {"current_params_version": version}
            for row in rows
            if row["params_version"] != version
        ],
    )


# ---- canvass_plan -----------------------------------------------------------------------------


def audit_plan(conn: psycopg.Connection[Any], params: ScoreParams) -> list[Finding]:
    """The plan's parameters, and the plan itself recomputed with plan.allocate_hours."""
    plan = _rows(conn, f"select * from {PLAN_TABLE} order by plan_rank, bureau_id")
    step = params.plan_step_hours
    total = sum(float(row["hours"]) for row in plan if row["hours"] is not None)
    return [
        _current_params_version(plan, params),
        Finding(
            "hours are a multiple of plan_step_hours",
            ("hours",),
            [
                _keyed(row, "hours") | {"plan_step_hours": step}
                for row in plan
                if row["hours"] is not None
                and abs(float(row["hours"]) / step - round(float(row["hours"]) / step))
                > COPY_TOLERANCE
            ],
        ),
        Finding(
            "plan_hours_budget = scores.plan_hours",
            ("plan_hours_budget",),
            [
                _keyed(row, "plan_hours_budget") | {"plan_hours": params.plan_hours}
                for row in plan
                if row["plan_hours_budget"] is None
                or abs(float(row["plan_hours_budget"]) - params.plan_hours) > COPY_TOLERANCE
            ],
        ),
        Finding(
            "sum(hours) <= scores.plan_hours",
            ("hours",),
            [{"total_hours": total, "plan_hours": params.plan_hours, "plan_rows": len(plan)}]
            if total > params.plan_hours + COPY_TOLERANCE
            else [],
        ),
        _plan_recomputes(conn, plan, params),
    ]


def _plan_recomputes(
    conn: psycopg.Connection[Any], plan: Sequence[Row], params: ScoreParams
) -> Finding:
    """The published plan is `allocate_hours` on the published targeting rows: same bureaux in
    the same order, the same hours, expected net votes and coverage reached."""
    from scrutin.scores.plan import BureauInput, allocate_hours

    targeting = _rows(
        conn,
        "select bureau_id, value_per_canvasser_hour_uncovered, doors, coverage, do_not_mobilise "
        f"from {TARGETING_TABLE} order by bureau_id",
    )
    expected = allocate_hours(
        [
            BureauInput(
                bureau_id=row["bureau_id"],
                value_per_hour=float(row["value_per_canvasser_hour_uncovered"]),
                doors=float(row["doors"]),
                coverage=float(row["coverage"]),
                net_positive=row["do_not_mobilise"] is False,
            )
            for row in targeting
            if row["value_per_canvasser_hour_uncovered"] is not None
            and row["doors"] is not None
            and row["coverage"] is not None
        ],
        params.plan_hours,
        params.plan_step_hours,
        doors_per_hour=params.doors_per_canvasser_hour,
        gamma=params.coverage_gamma,
    )
    recomputed = {
        e.bureau_id: {
            "plan_rank": rank,
            "hours": e.hours,
            "expected_net_votes": e.expected_net_votes,
            "coverage_after": e.coverage_after,
        }
        for rank, e in enumerate(expected, start=1)
    }
    published = {row["bureau_id"]: row for row in plan}
    offending = []
    for bureau_id in sorted(published.keys() | recomputed.keys()):
        row, mine = published.get(bureau_id), recomputed.get(bureau_id)
        if row is None or mine is None:
            offending.append(
                {"bureau_id": bureau_id, "published": row is not None, "recomputed": mine}
            )
            continue
        differing = {
            column: {"published": row[column], "recomputed": value}
            for column, value in mine.items()
            if _differs(_f_or_none(row[column]), value, RECOMPUTE_TOLERANCE)
        }
        if differing:
            offending.append({"bureau_id": bureau_id, **differing})
    return Finding(
        "canvass_plan recomputes with scrutin.scores.plan.allocate_hours on the targeting rows "
        f"(within {RECOMPUTE_TOLERANCE:g})",
        ("bureau_id", "plan_rank", "hours", "expected_net_votes", "coverage_after"),
        offending,
    )


# ---- commune_summary --------------------------------------------------------------------------


def _sum(values: Iterable[Any]) -> float | None:
    """SQL's sum: nulls ignored, null when nothing is left."""
    present = [float(v) for v in values if v is not None]
    return math.fsum(present) if present else None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _commune_figures(bureaux: Sequence[Row], plan: Sequence[Row]) -> Row:
    """One commune of commune_summary, from its bureaux' targeting rows and its plan rows."""
    bloc_votes = _sum(
        float(b["bloc_share_target"]) * float(b["valid_votes_target"])
        for b in bureaux
        if b["bloc_share_target"] is not None and b["valid_votes_target"] is not None
    )
    valid_votes = _sum(b["valid_votes_target"] for b in bureaux)
    doors = _sum(b["doors"] for b in bureaux)
    knocked = _sum(b["canvass_doors_knocked"] for b in bureaux)
    coverage = _ratio(knocked, doors)
    worth = [
        b
        for b in bureaux
        if b["value_per_canvasser_hour"] is not None
        and b["value_per_canvasser_hour"] > 0
        and b["do_not_mobilise"] is False
    ]
    best = min(worth, key=lambda b: b["targeting_rank"], default=None)
    return {
        "bureaux": len(bureaux),
        "bureaux_scored": sum(b["value_per_canvasser_hour"] is not None for b in bureaux),
        "bureaux_do_not_mobilise": sum(b["do_not_mobilise"] is True for b in bureaux),
        "registered": _sum(b["registered"] for b in bureaux),
        "valid_votes_target": valid_votes,
        "bloc_votes_target": bloc_votes,
        "bloc_share_target": _ratio(bloc_votes, valid_votes),
        "intermittent_voters": _sum(b["intermittent_voters"] for b in bureaux),
        "reservoir": _sum(b["reservoir"] for b in bureaux),
        "doors": doors,
        "canvass_doors_knocked": knocked,
        "canvass_conversations": _sum(b["canvass_conversations"] for b in bureaux),
        # As published: least(1.0, knocks / nullif(doors, 0)), and PostgreSQL's least() skips
        # a null, so a commune whose doors are unknown shows 1.0 (see docs/scores.md).
        "coverage": 1.0 if coverage is None else min(1.0, coverage),
        "best_bureau_id": None if best is None else best["bureau_id"],
        "best_value_per_canvasser_hour": None if best is None else best["value_per_canvasser_hour"],
        "plan_hours": _sum(p["hours"] for p in plan) or 0.0,
        "plan_expected_net_votes": _sum(p["expected_net_votes"] for p in plan) or 0.0,
    }


def audit_commune_summary(conn: psycopg.Connection[Any], params: ScoreParams) -> list[Finding]:
    """Every commune row adds up from the targeting rows and the plan, column by column."""
    bureaux: dict[str, list[Row]] = defaultdict(list)
    for row in _rows(conn, f"select * from {TARGETING_TABLE} order by bureau_id"):
        bureaux[row["code_commune"]].append(row)
    planned: dict[str, list[Row]] = defaultdict(list)
    for row in _rows(conn, f"select * from {PLAN_TABLE} order by bureau_id"):
        planned[row["code_commune"]].append(row)
    published = {r["code_commune"]: r for r in _rows(conn, f"select * from {COMMUNE_TABLE}")}
    recomputed = {code: _commune_figures(rows, planned[code]) for code, rows in bureaux.items()}
    findings = [
        _current_params_version(list(published.values()), params, key="code_commune"),
        Finding(
            "one commune_summary row per commune of polling_station_targeting, and no other",
            ("code_commune",),
            [
                {"code_commune": code, "published": code in published, "bureaux": code in bureaux}
                for code in sorted(published.keys() ^ bureaux.keys())
            ],
        ),
    ]
    columns = next(iter(recomputed.values()), None) or _commune_figures([], [])
    codes = sorted(published.keys() & recomputed.keys())
    for column in columns:
        mine = [recomputed[code][column] for code in codes]
        theirs = [published[code][column] for code in codes]
        offending = [
            {"code_commune": codes[i], column: theirs[i], "recomputed": mine[i]}
            for i in _unequal(theirs, mine)
        ]
        findings.append(
            Finding(
                f"{column} adds up from polling_station_targeting and canvass_plan",
                (column,),
                offending,
            )
        )
    return findings


# ---- plumbing ---------------------------------------------------------------------------------


def _result(suite: str, target: str, finding: Finding) -> CheckResult:
    success = not finding.offending
    observed = scrub_examples(
        {
            "unexpected_count": len(finding.offending),
            "partial_unexpected_list": finding.offending[:EXAMPLES_KEPT],
            "query_label": finding.label,
        },
        target,
    )
    column = ", ".join(finding.columns) or None
    return CheckResult(
        suite=suite,
        target=target,
        expectation=EXPECTATION,
        column=column,
        severity="fail",
        success=success,
        observed=observed,
        description=describe(
            suite, f"{EXPECTATION}({column or ''})", finding.label, success, observed, noun="rows"
        ),
    )


def _missing_table(conn: psycopg.Connection[Any], tables: Iterable[str]) -> str | None:
    for table in tables:
        row = conn.execute("select to_regclass(%s) is not null as present", (table,)).fetchone()
        if not (row and row["present"]):
            return table
    return None


@contextmanager
def _one_read_per_query() -> Iterator[None]:
    """Within the block, `_rows` runs each query once and hands its rows out again."""
    token = _RUN_ROWS.set({})
    try:
        yield
    finally:
        _RUN_ROWS.reset(token)


def _rows(conn: psycopg.Connection[Any], query: str) -> list[Row]:
    """The rows as dicts, numeric values as floats (the formulas compute in doubles): the
    connection loads `numeric` as float (`_numeric_as_float`), no conversion per value. Within
    one run_score_audit a query is run once (`_RUN_ROWS`): callers must not remove or change
    the values they read (`_attach_references` only adds its own keys)."""
    cache = _RUN_ROWS.get()
    if cache is not None and query in cache:
        return cache[query]
    _numeric_as_float(conn)
    rows: list[Row] = conn.execute(query).fetchall()
    if cache is not None:
        cache[query] = rows
    return rows


def _numeric_as_float(conn: psycopg.Connection[Any]) -> None:
    """Load `numeric` columns as Python floats on this connection (16 million Decimal checks
    and conversions a national audit did in Python)."""
    from psycopg.types.numeric import FloatLoader

    conn.adapters.register_loader("numeric", FloatLoader)


def _keyed(row: Row, *columns: str, key: str = "bureau_id") -> Row:
    """The row's key, then `columns`: an example of a failed check."""
    return {key: row[key], **{c: row[c] for c in columns}}


def _f(value: Any) -> Any:
    """A row value as the formulas take it: NaN for null (it propagates like SQL's null); a
    column (`_Columns`) is already so."""
    if isinstance(value, np.ndarray):
        return value
    return math.nan if value is None else float(value)


def _f_or_none(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value
    return None if value is None else float(value)


def _value(value: Any) -> Any:
    """A formula's result as a row value: null for NaN (a column keeps its NaN)."""
    if isinstance(value, np.ndarray) and value.ndim:
        return value
    number = math.nan if value is None else float(value)  # the formulas return floats
    return None if math.isnan(number) else number


class _Columns:
    """Every row's value of a column as one float array, null as NaN: what a recomputation
    reads instead of one row (the formulas of scrutin.scores.formulas take arrays)."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = rows
        self._arrays: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            self._arrays[name] = np.array(
                [math.nan if r.get(name) is None else r[name] for r in self._rows],
                dtype=np.float64,
            )
        return self._arrays[name]

    def get(self, name: str) -> np.ndarray:
        return self[name]


def _differ(published: np.ndarray, recomputed: np.ndarray, tolerance: float) -> np.ndarray:
    """`_differs` on whole columns (NaN for null)."""
    published_null, recomputed_null = np.isnan(published), np.isnan(recomputed)
    with np.errstate(invalid="ignore"):
        far = np.abs(published - recomputed) > tolerance
    return (published_null != recomputed_null) | (~published_null & ~recomputed_null & far)


def _unequal(published: Sequence[Any], recomputed: Sequence[Any]) -> list[int]:
    """Positions where a published value and its recomputation disagree: text compared as is
    (null equal to null), numbers null-safe within RECOMPUTE_TOLERANCE (`_differs`), a whole
    column at once when neither side holds text."""
    if any(isinstance(v, str) for v in (*published, *recomputed)):
        return [
            i
            for i, (theirs, mine) in enumerate(zip(published, recomputed, strict=True))
            if (
                mine != theirs
                if isinstance(mine, str) or isinstance(theirs, str)
                else _differs(_f_or_none(theirs), _f_or_none(mine), RECOMPUTE_TOLERANCE)
            )
        ]
    theirs, mine = (
        np.array([_f(v) for v in values], dtype=np.float64) for values in (published, recomputed)
    )
    return [int(i) for i in np.flatnonzero(_differ(theirs, mine, RECOMPUTE_TOLERANCE))]


def _distinct(a: Any, b: Any) -> bool:
    """SQL's `is distinct from`."""
    return (a is None) != (b is None) or (a is not None and a != b)


def _differs(published: float | None, recomputed: float | None, tolerance: float) -> bool:
    """Null-safe "not equal within tolerance": one null and not the other is a difference."""
    if published is None or recomputed is None:
        return (published is None) != (recomputed is None)
    return abs(published - recomputed) > tolerance
