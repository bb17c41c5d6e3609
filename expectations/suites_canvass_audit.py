"""Audit suites of the canvass marts: k-minimum suppression as a publication gate.

Political opinion is special-category data (GDPR art. 9). dbt already hides every per-bureau
opinion figure behind fewer than `k_min` conversations and tests it (`k_min_suppressed`); these
suites check the same thing again on the candidate publication (`mart_audit`), independently of
dbt's code, right before the swap. A table edited by hand, a model that forgot a column, a
threshold lowered in one place only: each one refuses the publication.

Why the checks are written the way they are:
- Fail-closed. The k-min checks list the columns that may stay visible on a small row, not the
  ones to hide: every other column of the row (read as JSON with `to_jsonb`) must be null, so a
  column added to a mart later is treated as an opinion figure until someone declares it public.
- The stricter threshold wins. The threshold is the greatest of the `k_min` the models are built
  with (the campaign's, which `pipeline.dbt_runner.build` passes as the dbt var; dbt_project.yml's
  default without a campaign file) and the `k_min` every loaded campaign's knocks were collected
  under (`ops.canvass_campaigns`, written by the canvass loader). Knocks collected under a promise
  of k = 11 are never published at a threshold lowered afterwards: the gate refuses instead.
- Reconciliation with `raw`: the marts must account for exactly the knocks of loaded batches
  (knocks flagged `future_timestamp` excepted, as in staging), so a join that drops knocks, or a
  day boundary computed in the wrong time zone, is caught here too.

There are no raw suites in this module (the canvass loader's module owns those), and no
row-count minimum: an empty canvass table is a normal state outside campaigns.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from expectations.suites import (
    BATCH_LEDGER_TABLE,
    Check,
    SuiteSpec,
    a_at_least_b,
    between,
    no_rows,
    not_null,
    unique_together,
)
from scrutin.config import DBT_PROJECT_DIR

AUDIT_DAILY_TABLE = "mart_audit.canvass_bureau_daily"
AUDIT_OPINION_TABLE = "mart_audit.canvass_bureau_opinion"
RAW_KNOCKS_TABLE = "raw.canvass_knocks"
CAMPAIGNS_TABLE = "ops.canvass_campaigns"

DEFAULT_K_MIN = 11
KNOCK_DAY_TIME_ZONE = "Europe/Paris"
EXCLUDED_FLAG = "future_timestamp"

TOPICS = (
    "security",
    "cost_of_living",
    "housing",
    "transport",
    "environment",
    "schools",
    "health",
    "jobs",
    "local_services",
    "other",
)

# Columns that stay visible on a row below k_min (facts about the canvassing, not opinions).
# They must equal the `public_columns` of the dbt test k_min_suppressed on each mart (plus its
# count and flag columns); tests/test_dbt_canvass.py compares them with the models' YAML.
OPINION_PUBLIC_COLUMNS = (
    "bureau_id",
    "code_commune",
    "code_bv",
    "first_knocked_on",
    "last_knocked_on",
    "doors_knocked",
    "doors_opened",
    "conversations",
    "suppressed",
    "suppression_reason",
)
OPINION_SHARE_COLUMNS = (
    "support_positive_share",
    "support_neutral_share",
    "support_negative_share",
    "support_unknown_share",
    "intends_to_vote_certain_share",
    "intends_to_vote_likely_share",
    "intends_to_vote_unlikely_share",
    "intends_to_vote_no_share",
    "intends_to_vote_unknown_share",
    "registered_here_share",
)

DAILY_COUNT_COLUMNS = (
    "doors_knocked",
    "buildings_visited",
    "doors_opened",
    "conversations",
    "not_reached",
    "opened_refused",
    "opened_later",
    "inaccessible",
    "moved",
    "do_not_contact",
)
DAILY_SHARE_COLUMNS = (
    "doors_opened_share",
    "conversation_share",
    "not_reached_share",
    "opened_refused_share",
    "opened_later_share",
    "inaccessible_share",
    "moved_share",
    "do_not_contact_share",
)
DAILY_PUBLIC_COLUMNS = (
    "bureau_id",
    "code_commune",
    "code_bv",
    "knocked_on",
    *DAILY_COUNT_COLUMNS,
    *DAILY_SHARE_COLUMNS,
    "buildings_visited_to_date",
    "bureau_doors",
    "coverage",
    "topics_suppressed",
    "topics_suppression_reason",
)


def dbt_k_min(project_file: Path = DBT_PROJECT_DIR / "dbt_project.yml") -> int:
    """dbt's default `k_min` var (dbt_project.yml; 11 when the var is absent).

    Read from the project file rather than copied here, so the gate and the models cannot drift
    apart silently. A value that is not a positive whole number is refused with the file named.
    """
    import yaml

    project = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    value = (project.get("vars") or {}).get("k_min", DEFAULT_K_MIN)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{project_file}: vars.k_min must be a whole number >= 1, got {value!r}")
    return value


def built_k_min() -> int:
    """The `k_min` the models are built with.

    `pipeline.dbt_runner.build` passes the campaign's `k_min` (config/campaign.yml) as the dbt var;
    without a readable campaign file there is no build either, and dbt's default applies.
    """
    from pipeline.dbt_runner import campaign_vars
    from scrutin.campaign import CampaignConfigError

    try:
        value = campaign_vars().get("k_min")
    except CampaignConfigError:
        value = None
    return int(value) if value is not None else dbt_k_min()


# Read once, when the module is imported (each gate run imports it afresh in its task process).
K_MIN = built_k_min()


def _threshold_join(k_min: int) -> str:
    """`cross join` of the threshold: the stricter of the build's and every loaded campaign's."""
    return f"""cross join (
    select greatest({k_min}, coalesce(max(c.k_min), 0)) as k_min
    from {CAMPAIGNS_TABLE} as c
) as threshold"""


def _text_array(columns: tuple[str, ...]) -> str:
    return "array[" + ", ".join(f"'{c}'" for c in columns) + "]::text[]"


def _published_below_k_min(keys: str, count: str, public: tuple[str, ...], k_min: int) -> str:
    """Rows below the threshold where any non-public column holds a value (names listed)."""
    hidden = f"to_jsonb(m) - {_text_array(public)}"
    return f"""
select
    {keys},
    m.{count},
    threshold.k_min,
    (
        select array_agg(e.key order by e.key)
        from jsonb_each({hidden}) as e
        where e.value <> 'null'::jsonb
    ) as published_columns
from {{batch}} as m
{_threshold_join(k_min)}
where coalesce(m.{count}, 0) < threshold.k_min
    and exists (
        select 1
        from jsonb_each({hidden}) as e
        where e.value <> 'null'::jsonb
    )
"""


def _flag_not_set_below_k_min(keys: str, count: str, flag: str, k_min: int) -> str:
    return f"""
select
    {keys},
    m.{count},
    m.{flag},
    threshold.k_min
from {{batch}} as m
{_threshold_join(k_min)}
where coalesce(m.{count}, 0) < threshold.k_min
    and m.{flag} is not true
"""


def _flag_set_at_or_above_k_min(keys: str, count: str, flag: str, k_min: int) -> str:
    return f"""
select
    {keys},
    m.{count},
    m.{flag},
    threshold.k_min
from {{batch}} as m
{_threshold_join(k_min)}
where m.{count} >= threshold.k_min
    and m.{flag}
"""


def _raw_knock_counts(keys: tuple[str, ...], alias: str) -> str:
    """CTE `alias`: knocks and conversations of loaded batches, as staging keeps them, per `keys`
    (select expressions with their aliases, e.g. `k.bureau_id as bureau_id`)."""
    positions = ", ".join(str(i) for i in range(1, len(keys) + 1))
    return f"""{alias} as (
    select
        {", ".join(keys)},
        count(*) as doors_knocked,
        count(*) filter (where k.outcome = 'opened_conversation') as conversations
    from {RAW_KNOCKS_TABLE} as k
    inner join {BATCH_LEDGER_TABLE} as l
        on l.batch_id = k.batch_id
    where l.status = 'loaded'
        and not ('{EXCLUDED_FLAG}' = any(k.integrity_flags))
    group by {positions}
)"""


_OPINION_MATCHES_RAW = f"""
with {_raw_knock_counts(("k.bureau_id as bureau_id",), "raw_counts")}

select
    coalesce(m.bureau_id, raw_counts.bureau_id) as bureau_id,
    m.doors_knocked,
    raw_counts.doors_knocked as raw_doors_knocked,
    m.conversations,
    raw_counts.conversations as raw_conversations
from {{batch}} as m
full outer join raw_counts
    on raw_counts.bureau_id = m.bureau_id
where m.doors_knocked is distinct from raw_counts.doors_knocked
    or m.conversations is distinct from raw_counts.conversations
"""

# The French calendar day of a knock, exactly as stg_canvass__knocks computes it.
_KNOCK_DAY = f"cast((k.knocked_at at time zone '{KNOCK_DAY_TIME_ZONE}') as date) as knocked_on"

_DAILY_MATCHES_RAW = f"""
with {_raw_knock_counts(("k.bureau_id as bureau_id", _KNOCK_DAY), "raw_counts")}

select
    coalesce(m.bureau_id, raw_counts.bureau_id) as bureau_id,
    coalesce(m.knocked_on, raw_counts.knocked_on) as knocked_on,
    m.doors_knocked,
    raw_counts.doors_knocked as raw_doors_knocked,
    m.conversations,
    raw_counts.conversations as raw_conversations
from {{batch}} as m
full outer join raw_counts
    on raw_counts.bureau_id = m.bureau_id
    and raw_counts.knocked_on = m.knocked_on
where m.doors_knocked is distinct from raw_counts.doors_knocked
    or m.conversations is distinct from raw_counts.conversations
"""


def opinion_suite(k_min: int = K_MIN) -> SuiteSpec:
    """The audit suite of `canvass_bureau_opinion` with dbt's threshold `k_min`."""
    keys = "m.bureau_id"
    return SuiteSpec(
        name="audit_canvass_bureau_opinion",
        table=AUDIT_OPINION_TABLE,
        description=(
            "Canvass opinion per bureau: no opinion figure below k_min conversations, "
            "shares in [0, 1], one row per bureau with the raw knocks' counts."
        ),
        requires=(RAW_KNOCKS_TABLE, BATCH_LEDGER_TABLE, CAMPAIGNS_TABLE),
        key_columns=("bureau_id",),
        checks=(
            not_null("bureau_id"),
            Check("ExpectColumnValuesToBeUnique", {"column": "bureau_id"}),
            not_null("conversations"),
            not_null("suppressed"),
            between("conversations", min_value=0),
            a_at_least_b("doors_knocked", "doors_opened"),
            a_at_least_b("doors_opened", "conversations"),
            *(between(column, min_value=0, max_value=1) for column in OPINION_SHARE_COLUMNS),
            between("wants_to_volunteer_count", min_value=0),
            no_rows(
                "no opinion figure is published below k_min conversations",
                _published_below_k_min(keys, "conversations", OPINION_PUBLIC_COLUMNS, k_min),
                columns=("conversations", "suppressed"),
            ),
            no_rows(
                "suppressed is true below k_min conversations",
                _flag_not_set_below_k_min(keys, "conversations", "suppressed", k_min),
                columns=("conversations", "suppressed"),
            ),
            no_rows(
                "suppressed is false from k_min conversations on (nothing hidden needlessly)",
                _flag_set_at_or_above_k_min(keys, "conversations", "suppressed", k_min),
                columns=("conversations", "suppressed"),
                severity="warn",
            ),
            no_rows(
                f"knocks and conversations per bureau equal the loaded knocks of "
                f"{RAW_KNOCKS_TABLE}",
                _OPINION_MATCHES_RAW,
                columns=("doors_knocked", "conversations"),
            ),
        ),
    )


def daily_suite(k_min: int = K_MIN) -> SuiteSpec:
    """The audit suite of `canvass_bureau_daily` with dbt's threshold `k_min`."""
    keys = "m.bureau_id,\n    m.knocked_on"
    return SuiteSpec(
        name="audit_canvass_bureau_daily",
        table=AUDIT_DAILY_TABLE,
        description=(
            "Canvass facts per bureau and day: no topic count below k_min conversations, "
            "counts and shares in range, one row per loaded (bureau, Paris day) of raw knocks."
        ),
        requires=(RAW_KNOCKS_TABLE, BATCH_LEDGER_TABLE, CAMPAIGNS_TABLE),
        key_columns=("bureau_id", "knocked_on"),
        checks=(
            not_null("bureau_id"),
            not_null("knocked_on"),
            not_null("topics_suppressed"),
            unique_together("bureau_id", "knocked_on"),
            *(between(column, min_value=0) for column in DAILY_COUNT_COLUMNS),
            a_at_least_b("doors_knocked", "doors_opened"),
            a_at_least_b("doors_opened", "conversations"),
            *(between(column, min_value=0, max_value=1) for column in DAILY_SHARE_COLUMNS),
            between("coverage", min_value=0),
            # Above 1: buildings canvassed that the roll extract does not list. Worth a look,
            # not a reason to withhold the publication.
            between("coverage", max_value=1, severity="warn"),
            *(between(f"topic_{topic}", min_value=0) for topic in TOPICS),
            no_rows(
                "no topic count is published below k_min conversations that day",
                _published_below_k_min(keys, "conversations", DAILY_PUBLIC_COLUMNS, k_min),
                columns=("conversations", "topics_suppressed"),
            ),
            no_rows(
                "topics_suppressed is true below k_min conversations",
                _flag_not_set_below_k_min(keys, "conversations", "topics_suppressed", k_min),
                columns=("conversations", "topics_suppressed"),
            ),
            no_rows(
                f"knocks and conversations per bureau and Paris day equal the loaded knocks "
                f"of {RAW_KNOCKS_TABLE}",
                _DAILY_MATCHES_RAW,
                columns=("doors_knocked", "conversations"),
            ),
        ),
    )


AUDIT_CANVASS_BUREAU_OPINION = opinion_suite()
AUDIT_CANVASS_BUREAU_DAILY = daily_suite()

SUITES: Mapping[str, SuiteSpec] = MappingProxyType(
    {spec.name: spec for spec in (AUDIT_CANVASS_BUREAU_DAILY, AUDIT_CANVASS_BUREAU_OPINION)}
)
RAW_SUITES: tuple[str, ...] = ()
AUDIT_SUITES: tuple[str, ...] = (
    AUDIT_CANVASS_BUREAU_DAILY.name,
    AUDIT_CANVASS_BUREAU_OPINION.name,
)
