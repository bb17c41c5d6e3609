"""Audit suites of the targeting scores (`scores_audit`): a broken score blocks the publication.

`mart_audit.polling_station_targeting` ranks every bureau for door-to-door canvassing and
`mart_audit.canvass_plan` hands out the volunteers' hours (docs/scores.md; contract:
notes/targeting_spec.md). A wrong number there sends volunteers to the wrong doors, or to doors
where each conversation LOSES votes, so the gate re-derives the scores itself, independently of
the dbt models, right before the swap. Why each check exists:

- targeting_rank not null, unique, dense (1..n) and in the published order
  (value_per_canvasser_hour desc nulls last, bureau_id): the rank is what volunteers read; a gap, a
  tie or an order that disagrees with the value column means the ranking is not the score's.
- Bureau coverage: exactly one row per bureau of `mart_audit.polling_stations`, both ways, and no
  bureau of a loaded results file (`raw.election_results_bureau` joined to the ledger, status
  `loaded`) missing. A bureau dropped by a join would silently never be canvassed.
- Shares in [0, 1] (nulls allowed): the spec's share, bloc share, turnout, q, coverage and open
  rate columns by name (a missing column fails too), plus, fail-closed, any other column whose
  name starts with `share_`, `bloc_share_` or `turnout_` (a column added later is checked without
  anyone remembering to list it).
- k_min: below the threshold the canvass must not move a published figure (opinion is
  special-category data, GDPR art. 9). `support_suppressed` is true exactly when
  canvass_conversations < k_min, and then q_updated = q_mobilisable; `open_rate_suppressed`
  exactly when canvass_doors_knocked < k_min, and then open_rate_estimate = open_rate_prior. The
  threshold follows `suites_canvass_audit`: the stricter of the build's `k_min` (the campaign's)
  and the `k_min` of every loaded campaign (`ops.canvass_campaigns`). "Exactly" is `fail` both
  ways here (the canvass suites only warn on needless suppression): a needlessly suppressed row
  ignores real canvass data, so its score is wrong.
- Parameters current: every row carries the `params_version` of the parameters the gate reads
  now (`load_score_params().params_version()`), and the bloc and the three election ids of those
  parameters. A stale build (parameters edited after dbt ran) is refused, not published under a
  version it was not computed with.
- do_not_mobilise = (net_per_conversation < 0), with SQL's null semantics as the spec writes it:
  null when net_per_conversation is null (q unknown). The plan treats null like true: a bureau
  whose effect is unknown gets no hours.
- The score recomputes: intermittent_voters, reservoir, q_mobilisable, net_per_conversation (from
  q_updated), conversations_full_canvass, net_mobilisation, persuasion, value_per_canvasser_hour,
  value_per_canvasser_hour_uncovered, ecological_gap and registration_potential are recomputed in
  SQL from the row's own inputs and the parameters, following `scrutin/scores/formulas.py` (the
  reference implementation) on known inputs, and a row is refused when
  |published - recomputed| > 1e-6 or only one of the two is null. A missing input gives null
  (dbt/macros/scores.sql's rule): where formulas.py would turn an unknown INT (NaN) into the
  bloc_share_high fallback, q is unknown here, as in the model; an unknown RES with INT > 0
  gives an unknown q, as formulas.py's NaN does. This is what makes "a broken score blocks
  publication" true even when the dbt model itself is wrong: dbt's unit tests check the model
  against its author's expectations, this checks the published rows against the formulas. Each
  component is recomputed from the base inputs, not from the published intermediate components,
  so one wrong link fails every figure built on it.
- canvass_plan: hours > 0 and a multiple of plan_step_hours, sum(hours) <= plan_hours_budget (one
  budget per plan, equal to `scores.plan_hours` once ScoreParams has it), no do_not_mobilise
  bureau, every bureau a targeting bureau, plan_rank unique, dense and in the published order
  (expected_net_votes desc, bureau_id), params_version current.

Fail-closed on configuration: when the score parameters cannot be read (campaign file missing or
invalid), importing this module does not crash the gate; each suite instead carries a check
"score parameters are readable" that always fails with the error.

A missing table is a failure: the runner refuses a suite whose table (or a table of `requires`)
does not exist, with "table mart_audit.polling_station_targeting does not exist (not loaded yet,
or the build that creates it failed)". That is deliberate (targeting mart missing = nothing
audited = nothing published), and it means these suites fail the gate until the dbt models are
built by the gate's pipeline.

No row-count minimum: the targeting mart has exactly the rows of `mart_audit.polling_stations`
(whose own suite requires at least one), and an empty plan is legitimate (no positive bureau).
Every check is `fail`. SQL checks that need no other table cross join a one-row table (no_rows'
JOIN rule): the score parameters `p` where the check uses them, which keeps every parameter of
the SQL in one visible place.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from expectations.suites import (
    BATCH_LEDGER_TABLE,
    RAW_BUREAU_TABLE,
    Check,
    SuiteSpec,
    between,
    no_rows,
    not_null,
)
from expectations.suites_canvass_audit import AUDIT_OPINION_TABLE, CAMPAIGNS_TABLE, K_MIN
from expectations.suites_polling_stations import AUDIT_POLLING_STATIONS_TABLE
from scrutin.scores.params import ScoreParams

TARGETING_TABLE = "mart_audit.polling_station_targeting"
PLAN_TABLE = "mart_audit.canvass_plan"

# Published vs recomputed: scores are doubles; 1e-6 is far above float noise and far below any
# figure a volunteer would act on.
RECOMPUTE_TOLERANCE = 1e-6
# A suppressed figure is a copy of its prior: equal up to storage rounding only.
COPY_TOLERANCE = 1e-9
# sum(hours) may reach the budget exactly (steps of 0.5 h add up without error in binary).
BUDGET_SLACK = 1e-9

# The spec's fractions, checked by name (GX also fails when one is missing).
TARGETING_SHARE_COLUMNS = (
    "share_pcs_executives",
    "share_pcs_workers",
    "share_pcs_retired",
    "share_diploma_higher",
    "share_owners",
    "share_social_renters",
    "share_foreigners",
    "turnout_target",
    "turnout_high",
    "turnout_low",
    "bloc_share_target",
    "bloc_share_high",
    "q_mobilisable",
    "q_updated",
    "coverage",
    "open_rate_estimate",
    "predicted_bloc_share",
)
# Any other column with one of these prefixes is a fraction too (fail-closed).
SHARE_PREFIXES = ("share_", "bloc_share_", "turnout_")


def current_params() -> tuple[ScoreParams | None, str | None]:
    """The score parameters the gate reads now, or the reason they cannot be read.

    Never raises: a broken campaign file must refuse the publication through a failed check, not
    crash the import of every suite of the gate.
    """
    from scrutin.campaign import CampaignConfigError
    from scrutin.scores.params import load_score_params

    try:
        return load_score_params(), None
    except (CampaignConfigError, ValueError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def plan_hours(params: ScoreParams) -> float | None:
    """`params.plan_hours` once ScoreParams has that field, else None (budget check skipped)."""
    value = getattr(params, "plan_hours", None)
    return None if value is None else float(value)


# ---- SQL fragments --------------------------------------------------------------------------


def _text(value: str) -> str:
    """A SQL string literal. Braces are doubled: GX fills `{batch}` with `str.format`."""
    escaped = value.replace("'", "''").replace("{", "{{").replace("}", "}}")
    return "'" + escaped + "'"


def _float(value: float | None) -> str:
    return (
        "cast(null as double precision)"
        if value is None
        else f"cast({value!r} as double precision)"
    )


def _params_join(params: ScoreParams) -> str:
    """`cross join` of the one-row table `p` holding every parameter a check needs."""
    return f"""cross join (
    select
        {_text(params.params_version())} as params_version,
        {_text(params.bloc)} as bloc,
        {_text(params.target_election)} as target_election,
        {_text(params.high_salience_election)} as high_salience_election,
        {_text(params.low_salience_election)} as low_salience_election,
        {_float(params.tau)} as tau,
        {_float(params.pi)} as pi,
        {_float(params.volatility)} as volatility,
        {_float(params.open_rate_prior)} as open_rate_prior,
        {_float(params.kappa)} as kappa,
        {_float(params.doors_per_canvasser_hour)} as doors_per_canvasser_hour,
        {_float(params.coverage_gamma)} as coverage_gamma,
        {_float(params.plan_step_hours)} as plan_step_hours,
        {_float(plan_hours(params))} as plan_hours
) as p"""


def _threshold_join(k_min: int) -> str:
    """`cross join` of the k_min threshold: the stricter of the build's and every loaded
    campaign's (the rule of `suites_canvass_audit`)."""
    return f"""cross join (
    select greatest({int(k_min)}, coalesce(max(c.k_min), 0)) as k_min
    from {CAMPAIGNS_TABLE} as c
) as threshold"""


def _col(name: str) -> str:
    """A row input as a double (columns may be integer, numeric or double precision)."""
    return f"cast(t.{name} as double precision)"


def _non_negative(expr: str) -> str:
    """max(0, x), null-preserving (PostgreSQL's greatest() would turn a null into 0)."""
    return f"(case when {expr} < 0 then 0.0 else {expr} end)"


def _clip01(expr: str) -> str:
    """clip(x, 0, 1), null-preserving."""
    return f"(case when {expr} < 0 then 0.0 when {expr} > 1 then 1.0 else {expr} end)"


def _differs(published: str, recomputed: str, tolerance: float) -> str:
    """Null-safe "not equal within tolerance": one null and not the other counts as a difference."""
    return (
        f"(({published}) is null) <> (({recomputed}) is null) "
        f"or abs(({published}) - ({recomputed})) > {tolerance!r}"
    )


# formulas.py, term by term, on the row's base inputs.
_INT = f"({_col('voters_high')} - {_col('voters_low')})"
_RES = _non_negative(f"({_col('bloc_votes_high')} - {_col('bloc_votes_low')})")
_Q = (
    f"(case when {_INT} is null then null when {_INT} > 0 then {_clip01(f'{_RES} / {_INT}')} "
    f"else {_col('bloc_share_high')} end)"
)
_NET_PER_CONVERSATION = f"(p.tau * (2.0 * {_col('q_updated')} - 1.0))"
_CONVERSATIONS_FULL = f"({_col('doors')} * {_col('open_rate_estimate')})"
_PERSUASION_PER_CONVERSATION = "(p.volatility * p.pi)"
_DISCOUNT = (
    f"(case when {_col('coverage')} >= 1 then 0.0 "
    f"else power(1.0 - {_clip01(_col('coverage'))}, p.coverage_gamma) end)"
)
_VALUE_UNCOVERED = (
    f"(p.doors_per_canvasser_hour * {_col('open_rate_estimate')} "
    f"* ({_NET_PER_CONVERSATION} + {_PERSUASION_PER_CONVERSATION}))"
)

# column -> (formula as the label says it, SQL expression, inputs shown on a failed row)
RECOMPUTED: Mapping[str, tuple[str, str, tuple[str, ...]]] = MappingProxyType(
    {
        "intermittent_voters": (
            "voters_high - voters_low",
            _INT,
            ("voters_high", "voters_low"),
        ),
        "reservoir": (
            "max(0, bloc_votes_high - bloc_votes_low)",
            _RES,
            ("bloc_votes_high", "bloc_votes_low"),
        ),
        "q_mobilisable": (
            "clip(RES / INT, 0, 1) if INT > 0 else bloc_share_high (null if INT is)",
            _Q,
            ("voters_high", "voters_low", "bloc_votes_high", "bloc_votes_low", "bloc_share_high"),
        ),
        "net_per_conversation": (
            "tau * (2 * q_updated - 1)",
            _NET_PER_CONVERSATION,
            ("q_updated",),
        ),
        "conversations_full_canvass": (
            "doors * open_rate_estimate",
            _CONVERSATIONS_FULL,
            ("doors", "open_rate_estimate"),
        ),
        "net_mobilisation": (
            "doors * open_rate_estimate * tau * (2 * q_updated - 1)",
            f"({_CONVERSATIONS_FULL} * {_NET_PER_CONVERSATION})",
            ("doors", "open_rate_estimate", "q_updated"),
        ),
        "persuasion": (
            "valid_votes_target * volatility * pi",
            f"({_col('valid_votes_target')} * {_PERSUASION_PER_CONVERSATION})",
            ("valid_votes_target",),
        ),
        "value_per_canvasser_hour": (
            "doors_per_canvasser_hour * open_rate_estimate * (tau * (2 * q_updated - 1) "
            "+ volatility * pi) * (0 if coverage >= 1 else (1 - coverage) ^ coverage_gamma)",
            f"({_VALUE_UNCOVERED} * {_DISCOUNT})",
            ("open_rate_estimate", "q_updated", "coverage"),
        ),
        "value_per_canvasser_hour_uncovered": (
            "doors_per_canvasser_hour * open_rate_estimate * (tau * (2 * q_updated - 1) "
            "+ volatility * pi)",
            _VALUE_UNCOVERED,
            ("open_rate_estimate", "q_updated"),
        ),
        "ecological_gap": (
            "predicted_bloc_share - bloc_share_target",
            f"({_col('predicted_bloc_share')} - {_col('bloc_share_target')})",
            ("predicted_bloc_share", "bloc_share_target"),
        ),
        "registration_potential": (
            "max(0, adult_french_population_approx - coalesce(registered_voters_roll, registered))",
            _non_negative(
                f"({_col('adult_french_population_approx')} - coalesce("
                f"{_col('registered_voters_roll')}, {_col('registered')}))"
            ),
            ("adult_french_population_approx", "registered_voters_roll", "registered"),
        ),
    }
)


def _recompute_check(params: ScoreParams, column: str) -> Check:
    formula, expression, inputs = RECOMPUTED[column]
    shown = "".join(f",\n    r.{name}" for name in inputs)
    carried = "".join(f",\n        t.{name}" for name in inputs)
    query = f"""
select
    r.bureau_id,
    r.published as {column},
    r.recomputed{shown}
from (
    select
        t.bureau_id,
        cast(t.{column} as double precision) as published,
        {expression} as recomputed{carried}
    from {{batch}} as t
    {_params_join(params)}
) as r
where {_differs("r.published", "r.recomputed", RECOMPUTE_TOLERANCE)}
"""
    return no_rows(
        f"{column} recomputes: {formula} (within {RECOMPUTE_TOLERANCE:g})",
        query,
        columns=(column, *inputs),
    )


def _params_unreadable(error: str) -> Check:
    """A check that always fails, carrying why the parameters could not be read.

    Colons are escaped for SQLAlchemy's `text()` (`:name` would read as a bind parameter).
    """
    literal = _text(error).replace(":", "\\:")
    query = f"""
select
    e.error
from (select {literal} as error) as e
left join (
    select 1 as present
    from {{batch}} as t
    limit 1
) as x
    on true
"""
    return no_rows("score parameters are readable from the campaign file", query, columns=())


def _dense_rank(rank: str) -> Check:
    """Ranks are exactly 1..n: a rank missing from 1..n, or a row whose rank is outside it."""
    query = f"""
select
    t.bureau_id,
    coalesce(t.{rank}, expected.{rank}) as {rank},
    case when t.bureau_id is null then 'missing' else 'outside 1..n' end as problem
from {{batch}} as t
full outer join generate_series(
    1,
    (select count(*) from {{batch}} as n)
) as expected ({rank})
    on expected.{rank} = t.{rank}
where t.bureau_id is null
    or expected.{rank} is null
"""
    return no_rows(f"{rank} is dense: min = 1 and max = row count", query, columns=(rank,))


def _rank_order(rank: str, value: str, order: tuple[str, ...]) -> Check:
    """The rank is the spec's row_number() over the published column (ties by bureau_id)."""
    query = f"""
select
    t.bureau_id,
    t.{rank},
    o.expected_rank,
    t.{value}
from {{batch}} as t
inner join (
    select
        s.bureau_id,
        row_number() over (order by {", ".join(f"s.{term}" for term in order)}) as expected_rank
    from {{batch}} as s
) as o
    on o.bureau_id = t.bureau_id
where t.{rank} is distinct from o.expected_rank
"""
    label = f"{rank} is row_number() over (order by {', '.join(order)})"
    return no_rows(label, query, columns=(rank, value))


def _current_params_version(params: ScoreParams) -> Check:
    query = f"""
select
    t.bureau_id,
    t.params_version,
    p.params_version as current_params_version
from {{batch}} as t
{_params_join(params)}
where t.params_version is distinct from p.params_version
"""
    return no_rows(
        f"params_version is the current ScoreParams.params_version() ({params.params_version()})",
        query,
        columns=("params_version",),
    )


# ---- polling_station_targeting ----------------------------------------------------------------

_POLLING_STATION_WITHOUT_TARGETING = f"""
select
    ps.bureau_id
from {AUDIT_POLLING_STATIONS_TABLE} as ps
left join {{batch}} as t
    on t.bureau_id = ps.bureau_id
where t.bureau_id is null
"""

_TARGETING_NOT_A_POLLING_STATION = f"""
select
    t.bureau_id
from {{batch}} as t
left join {AUDIT_POLLING_STATIONS_TABLE} as ps
    on ps.bureau_id = t.bureau_id
where ps.bureau_id is null
"""

_RAW_BUREAU_WITHOUT_TARGETING = f"""
select distinct
    b.bureau_id,
    b.election_id
from {RAW_BUREAU_TABLE} as b
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = b.batch_id
left join {{batch}} as t
    on t.bureau_id = b.bureau_id
where l.status = 'loaded'
    and t.bureau_id is null
"""


def _other_shares_query() -> str:
    prefixes = " or ".join(
        f"e.key like {_text(prefix.replace('_', chr(92) + '_') + '%')}" for prefix in SHARE_PREFIXES
    )
    listed = "array[" + ", ".join(_text(c) for c in TARGETING_SHARE_COLUMNS) + "]::text[]"
    return f"""
select
    t.bureau_id,
    e.key as column_name,
    e.value
from {{batch}} as t
cross join lateral jsonb_each(to_jsonb(t)) as e
where ({prefixes})
    and e.key <> all({listed})
    and case
        when jsonb_typeof(e.value) = 'number'
            then cast(e.value as numeric) not between 0 and 1
        else jsonb_typeof(e.value) <> 'null'
    end
"""


def _suppression_flag(flag: str, count: str, k_min: int) -> Check:
    query = f"""
select
    t.bureau_id,
    t.{count},
    t.{flag},
    threshold.k_min
from {{batch}} as t
{_threshold_join(k_min)}
where t.{flag} is distinct from (t.{count} < threshold.k_min)
"""
    return no_rows(f"{flag} is true exactly when {count} < k_min", query, columns=(flag, count))


def _support_not_moved(k_min: int) -> str:
    return f"""
select
    t.bureau_id,
    t.canvass_conversations,
    t.q_updated,
    t.q_mobilisable,
    threshold.k_min
from {{batch}} as t
{_threshold_join(k_min)}
where (coalesce(t.canvass_conversations, 0) < threshold.k_min or t.support_suppressed)
    and ((t.q_updated is null) <> (t.q_mobilisable is null)
        or abs(cast(t.q_updated as double precision)
            - cast(t.q_mobilisable as double precision)) >= {COPY_TOLERANCE!r})
"""


def _open_rate_is_prior(params: ScoreParams, k_min: int) -> str:
    return f"""
select
    t.bureau_id,
    t.canvass_doors_knocked,
    t.open_rate_estimate,
    p.open_rate_prior,
    threshold.k_min
from {{batch}} as t
{_threshold_join(k_min)}
{_params_join(params)}
where (coalesce(t.canvass_doors_knocked, 0) < threshold.k_min or t.open_rate_suppressed)
    and (t.open_rate_estimate is null
        or abs(cast(t.open_rate_estimate as double precision) - p.open_rate_prior)
            >= {COPY_TOLERANCE!r})
"""


def _parameters_of_the_row(params: ScoreParams) -> str:
    return f"""
select
    t.bureau_id,
    t.bloc,
    t.target_election_id,
    t.high_salience_election_id,
    t.low_salience_election_id
from {{batch}} as t
{_params_join(params)}
where t.bloc is distinct from p.bloc
    or t.target_election_id is distinct from p.target_election
    or t.high_salience_election_id is distinct from p.high_salience_election
    or t.low_salience_election_id is distinct from p.low_salience_election
"""


def _support_from_published_figures(params: ScoreParams, k_min: int) -> str:
    """q_updated of every unsuppressed row, recomputed from the PUBLISHED canvass figures only
    (canvass_bureau_opinion's support shares of its unsuppressed bureaux, and their campaign-wide
    rate as the reference) and q recomputed from the row's election inputs. A model whose
    reference rate read a suppressed bureau's support could be inverted to recover that bureau's
    opinions; it fails here."""
    target = _clip01(
        "q.q * ((pub.positive / pub.conversations) / (ref.positive / ref.conversations))"
    )
    return f"""
with published as (
    select
        o.bureau_id,
        cast(o.conversations as double precision) as conversations,
        o.support_positive_share * o.conversations as positive
    from {AUDIT_OPINION_TABLE} as o
    where not o.suppressed
),
reference as (
    select sum(positive) as positive, sum(conversations) as conversations
    from published
),
recomputed as (
    select
        t.bureau_id,
        cast(t.q_updated as double precision) as q_updated,
        case
            when pub.bureau_id is null or q.q is null then null
            when coalesce(ref.conversations, 0) <= 0 or coalesce(ref.positive, 0) <= 0 then q.q
            else (p.kappa * q.q + pub.conversations * {target}) / (p.kappa + pub.conversations)
        end as from_published
    from {{batch}} as t
    cross join lateral (select {_Q} as q) as q
    left join published as pub on t.bureau_id = pub.bureau_id
    cross join reference as ref
    {_params_join(params)}
    {_threshold_join(k_min)}
    where not t.support_suppressed and t.canvass_conversations >= threshold.k_min
)
select bureau_id, q_updated, from_published
from recomputed
where {_differs("q_updated", "from_published", RECOMPUTE_TOLERANCE)}
"""


_DO_NOT_MOBILISE = """
select
    t.bureau_id,
    t.net_per_conversation,
    t.do_not_mobilise
from {batch} as t
cross join (select 0.0 as zero) as c
where t.do_not_mobilise is distinct from (t.net_per_conversation < c.zero)
"""


def targeting_suite(
    params: ScoreParams | None, k_min: int = K_MIN, params_error: str | None = None
) -> SuiteSpec:
    """The audit suite of `polling_station_targeting` for these parameters and this k_min.

    `k_min` is the build's (the campaign's, as `suites_canvass_audit.K_MIN`); the parameters'
    own `k_min` (the same campaign's) is taken into the threshold too. Without parameters
    (`params_error` says why) only the checks that need none are kept, plus one failing check.
    """
    structural: list[Check] = [
        not_null("bureau_id"),
        Check("ExpectColumnValuesToBeUnique", {"column": "bureau_id"}),
        not_null("targeting_rank"),
        Check("ExpectColumnValuesToBeUnique", {"column": "targeting_rank"}),
        _dense_rank("targeting_rank"),
        _rank_order(
            "targeting_rank",
            "value_per_canvasser_hour",
            ("value_per_canvasser_hour desc nulls last", "bureau_id"),
        ),
        no_rows(
            f"every bureau of {AUDIT_POLLING_STATIONS_TABLE} has a targeting row",
            _POLLING_STATION_WITHOUT_TARGETING,
            columns=("bureau_id",),
        ),
        no_rows(
            f"every targeting row is a bureau of {AUDIT_POLLING_STATIONS_TABLE}",
            _TARGETING_NOT_A_POLLING_STATION,
            columns=("bureau_id",),
        ),
        no_rows(
            f"no bureau of the loaded results of {RAW_BUREAU_TABLE} is missing",
            _RAW_BUREAU_WITHOUT_TARGETING,
            columns=("bureau_id",),
        ),
        *(between(column, min_value=0, max_value=1) for column in TARGETING_SHARE_COLUMNS),
        no_rows(
            "every other share_/bloc_share_/turnout_ column is in [0, 1]",
            _other_shares_query(),
            columns=("column_name",),
        ),
        not_null("canvass_conversations"),
        not_null("canvass_doors_knocked"),
        not_null("why"),
        not_null("params_version"),
        no_rows(
            "do_not_mobilise = (net_per_conversation < 0), null when it is null",
            _DO_NOT_MOBILISE,
            columns=("do_not_mobilise", "net_per_conversation"),
        ),
    ]
    if params is None:
        checks = (*structural, _params_unreadable(params_error or "no score parameters"))
    else:
        threshold = max(k_min, params.k_min)
        checks = (
            *structural,
            _suppression_flag("support_suppressed", "canvass_conversations", threshold),
            no_rows(
                "q_updated = q_mobilisable when support is suppressed (below k_min)",
                _support_not_moved(threshold),
                columns=("q_updated", "q_mobilisable", "canvass_conversations"),
            ),
            no_rows(
                "q_updated recomputes from the published canvass figures only (no suppressed "
                "bureau's support in the reference rate)",
                _support_from_published_figures(params, threshold),
                columns=("q_updated", "q_mobilisable", "canvass_conversations"),
            ),
            _suppression_flag("open_rate_suppressed", "canvass_doors_knocked", threshold),
            no_rows(
                "open_rate_estimate = open_rate_prior when the open rate is suppressed "
                "(below k_min)",
                _open_rate_is_prior(params, threshold),
                columns=("open_rate_estimate", "canvass_doors_knocked"),
            ),
            _current_params_version(params),
            no_rows(
                "bloc and election ids are the current score parameters'",
                _parameters_of_the_row(params),
                columns=(
                    "bloc",
                    "target_election_id",
                    "high_salience_election_id",
                    "low_salience_election_id",
                ),
            ),
            *(_recompute_check(params, column) for column in RECOMPUTED),
        )
    return SuiteSpec(
        name="audit_polling_station_targeting",
        table=TARGETING_TABLE,
        description=(
            "Targeting scores: one row per polling station, ranks dense, shares in [0, 1], k_min "
            "respected, parameters current, every score recomputed from its inputs."
        ),
        requires=(
            AUDIT_POLLING_STATIONS_TABLE,
            AUDIT_OPINION_TABLE,
            RAW_BUREAU_TABLE,
            BATCH_LEDGER_TABLE,
            CAMPAIGNS_TABLE,
        ),
        key_columns=("bureau_id",),
        checks=checks,
    )


# ---- canvass_plan -----------------------------------------------------------------------------

_PLAN_BUREAU_NOT_TARGETED = f"""
select
    pl.bureau_id
from {{batch}} as pl
left join {TARGETING_TABLE} as t
    on t.bureau_id = pl.bureau_id
where t.bureau_id is null
"""

_PLAN_BUREAU_DO_NOT_MOBILISE = f"""
select
    pl.bureau_id,
    pl.hours,
    t.do_not_mobilise,
    t.net_per_conversation
from {{batch}} as pl
inner join {TARGETING_TABLE} as t
    on t.bureau_id = pl.bureau_id
where t.do_not_mobilise is not false
"""

_ONE_BUDGET = """
select
    count(distinct t.plan_hours_budget) as budgets,
    min(t.plan_hours_budget) as min_budget,
    max(t.plan_hours_budget) as max_budget
from {batch} as t
cross join (select 1 as one) as plan
group by plan.one
having count(distinct t.plan_hours_budget) > 1
"""


def _within_budget(params: ScoreParams | None) -> str:
    # Against the smallest budget of the rows, and against the parameters' when known.
    against_params = (
        f"\n    or sum(t.hours) > max(p.plan_hours) + {BUDGET_SLACK!r}"
        if params is not None
        else ""
    )
    params_join = _params_join(params) if params is not None else "cross join (select 1) as p"
    return f"""
select
    sum(t.hours) as total_hours,
    min(t.plan_hours_budget) as plan_hours_budget,
    count(*) as plan_rows
from {{batch}} as t
{params_join}
having sum(t.hours) > min(t.plan_hours_budget) + {BUDGET_SLACK!r}{against_params}
"""


def _hours_in_steps(params: ScoreParams) -> str:
    return f"""
select
    t.bureau_id,
    t.hours,
    p.plan_step_hours
from {{batch}} as t
{_params_join(params)}
where abs(
    cast(t.hours as double precision) / p.plan_step_hours
    - round(cast(t.hours as double precision) / p.plan_step_hours)
) > {COPY_TOLERANCE!r}
"""


def _budget_is_plan_hours(params: ScoreParams) -> str:
    return f"""
select
    t.bureau_id,
    t.plan_hours_budget,
    p.plan_hours
from {{batch}} as t
{_params_join(params)}
where abs(cast(t.plan_hours_budget as double precision) - p.plan_hours) > {COPY_TOLERANCE!r}
"""


def plan_suite(params: ScoreParams | None, params_error: str | None = None) -> SuiteSpec:
    """The audit suite of `canvass_plan` for these parameters (see `targeting_suite`)."""
    checks: list[Check] = [
        not_null("bureau_id"),
        Check("ExpectColumnValuesToBeUnique", {"column": "bureau_id"}),
        not_null("plan_rank"),
        Check("ExpectColumnValuesToBeUnique", {"column": "plan_rank"}),
        _dense_rank("plan_rank"),
        _rank_order("plan_rank", "expected_net_votes", ("expected_net_votes desc", "bureau_id")),
        not_null("hours"),
        Check(
            "ExpectColumnValuesToBeBetween", {"column": "hours", "min_value": 0, "strict_min": True}
        ),
        not_null("plan_hours_budget"),
        no_rows(
            "one plan_hours_budget for the whole plan", _ONE_BUDGET, columns=("plan_hours_budget",)
        ),
        no_rows(
            "sum(hours) <= plan_hours_budget",
            _within_budget(params),
            columns=("hours", "plan_hours_budget"),
        ),
        no_rows(
            f"every plan bureau is a bureau of {TARGETING_TABLE}",
            _PLAN_BUREAU_NOT_TARGETED,
            columns=("bureau_id",),
        ),
        no_rows(
            "no plan bureau is do_not_mobilise (or of unknown effect)",
            _PLAN_BUREAU_DO_NOT_MOBILISE,
            columns=("bureau_id", "do_not_mobilise"),
        ),
        not_null("params_version"),
    ]
    if params is None:
        checks.append(_params_unreadable(params_error or "no score parameters"))
    else:
        checks.append(_current_params_version(params))
        checks.append(
            no_rows(
                "hours are a multiple of plan_step_hours",
                _hours_in_steps(params),
                columns=("hours",),
            )
        )
        if plan_hours(params) is not None:
            checks.append(
                no_rows(
                    "plan_hours_budget = scores.plan_hours",
                    _budget_is_plan_hours(params),
                    columns=("plan_hours_budget",),
                )
            )
    return SuiteSpec(
        name="audit_canvass_plan",
        table=PLAN_TABLE,
        description=(
            "Volunteer plan: positive hours in steps within the budget, never a do_not_mobilise "
            "bureau, ranks dense, parameters current."
        ),
        requires=(TARGETING_TABLE,),
        key_columns=("bureau_id",),
        checks=tuple(checks),
    )


# Read once, when the module is imported (each gate run imports it afresh in its task process).
PARAMS, PARAMS_ERROR = current_params()
AUDIT_POLLING_STATION_TARGETING = targeting_suite(PARAMS, K_MIN, PARAMS_ERROR)
AUDIT_CANVASS_PLAN = plan_suite(PARAMS, PARAMS_ERROR)

SUITES: Mapping[str, SuiteSpec] = MappingProxyType(
    {spec.name: spec for spec in (AUDIT_POLLING_STATION_TARGETING, AUDIT_CANVASS_PLAN)}
)
RAW_SUITES: tuple[str, ...] = ()
AUDIT_SUITES: tuple[str, ...] = (AUDIT_POLLING_STATION_TARGETING.name, AUDIT_CANVASS_PLAN.name)
