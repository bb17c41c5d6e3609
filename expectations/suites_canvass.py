"""Quality suites for door-to-door feedback (raw.canvass_knocks and its ledger and register).

Severity policy:
- `fail` on what makes the data wrong or unlawful to keep: vocabulary (source, outcome, topics,
  intention, sentiment, flags), keys (HMAC hex, Ministry bureau key, not-null identity of a knock),
  the conversation-only rule, ledger reconciliation, the opposition register, and **retention**:
  no door knock may remain past its campaign's retention date. That last check is the gate of the
  purge (ingestion/canvass/purge.py): while it fails, nothing is published.
- `warn` on the loader's integrity-flag rates (each flag's share of a campaign's knocks above a
  threshold) and the quarantined share of a batch: they are recorded in ops.quality_results for
  an engineer to look at, and do not block.

The loader lands rows and decides nothing else (docs/canvass.md): the bureau of a knock without
one from its app, its counted version and the rules' flags are dbt's
(dbt/models/intermediate/canvass/), and so are their checks (dbt tests on int_canvass__knocks,
warn-severity flag rates and bureaux without election results included; a knock whose bureau is
unknown is listed in int_canvass__excluded_knocks).

Run by `expectations.checkpoint.run_suites` (the ingest DAG, the purge's retention gate with
`RETENTION_SUITES`, the audit gate). The vocabularies come from their one definition:
`scrutin.vocabulary` (outcomes, topics) and `ingestion.canvass.model` (sources, intentions,
sentiments).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from expectations.suites import (
    BATCH_LEDGER_TABLE,
    BUREAU_ID_REGEX,
    SuiteSpec,
    belongs_to_loaded_batch,
    in_set,
    loaded_rows,
    matches,
    no_rows,
    not_null,
)
from ingestion.canvass.model import INTENTS, SENTIMENTS, SOURCES
from scrutin.vocabulary import OUTCOMES, TOPICS

KNOCKS_TABLE = "raw.canvass_knocks"
SUPPRESSION_TABLE = "raw.canvass_suppression"
CAMPAIGNS_TABLE = "ops.canvass_campaigns"
QUARANTINE_TABLE = "quarantine.canvass_rows"
LEDGER_SOURCE = "canvass"
HMAC_HEX_REGEX = r"^[0-9a-f]{64}$"
# A knock, across sources (knock_id is the source's own identifier).
_KNOCK_KEYS = ("source", "knock_id")

# The flags the loader sets, and each one's share of a campaign's knocks above which a warning is
# recorded (the other flags are dbt's, with their own warn-severity tests on int_canvass__knocks).
FLAG_WARN_RATES: Mapping[str, float] = MappingProxyType(
    {
        "future_timestamp": 0.01,
        "outside_campaign_window": 0.05,
    }
)
QUARANTINE_WARN_SHARE = 0.10


def _sql_list(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _loaded_knocks(columns: str, condition: str) -> str:
    """Knocks of loaded batches that break `condition`, keys first."""
    return loaded_rows("k", columns, condition, keys=_KNOCK_KEYS)


_TOPICS_OUTSIDE_VOCABULARY = _loaded_knocks(
    "k.topics",
    f"exists (select 1 from unnest(k.topics) as t where t not in ({_sql_list(TOPICS)}))",
)

_FLAGS_OUTSIDE_VOCABULARY = _loaded_knocks(
    "k.integrity_flags",
    "exists (select 1 from unnest(k.integrity_flags) as f "
    f"where f not in ({_sql_list(tuple(FLAG_WARN_RATES))}))",
)

_CONVERSATION_FIELDS_OUTSIDE_CONVERSATIONS = _loaded_knocks(
    "k.outcome",
    """k.outcome <> 'opened_conversation'
    and (
        k.topics is not null
        or k.intends_to_vote is not null
        or k.registered_here is not null
        or k.sentiment is not null
        or k.wants_to_volunteer is not null
        or k.consent is not null
    )""",
)

_OPINION_WITHOUT_CONSENT = _loaded_knocks(
    "k.consent",
    """k.consent is false
    and (
        k.topics is not null
        or k.intends_to_vote is not null
        or k.registered_here is not null
        or k.sentiment is not null
        or k.wants_to_volunteer is not null
    )""",
)

# Every row counts here, whatever its batch: retention applies to all personal data held.
_PAST_RETENTION = f"""
select
    k.source,
    k.knock_id,
    k.campaign_id,
    c.retention_ends_at
from {{batch}} as k
left join {CAMPAIGNS_TABLE} as c
    on c.campaign_id = k.campaign_id
where c.campaign_id is null
    or c.retention_ends_at <= now()
"""


def _flag_rate(flag: str, threshold: float) -> str:
    return f"""
select
    k.campaign_id,
    '{flag}' as flag,
    count(*) filter (where '{flag}' = any(k.integrity_flags)) as flagged,
    count(*) as knocks
from {{batch}} as k
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = k.batch_id
where l.status = 'loaded'
group by k.campaign_id
having count(*) filter (where '{flag}' = any(k.integrity_flags)) > {threshold} * count(*)
"""


RAW_CANVASS_KNOCKS = SuiteSpec(
    name="raw_canvass_knocks",
    table=KNOCKS_TABLE,
    description="Door knocks as landed: vocabulary, pseudonymous keys, privacy rules, retention.",
    requires=(BATCH_LEDGER_TABLE, CAMPAIGNS_TABLE),
    key_columns=_KNOCK_KEYS,
    checks=(
        *(
            not_null(column)
            for column in (
                "source",
                "knock_id",
                "campaign_id",
                "canvasser_key",
                "building_key",
                "knocked_at",
                "outcome",
            )
        ),
        in_set("source", SOURCES),
        in_set("outcome", OUTCOMES),
        in_set("intends_to_vote", INTENTS),
        in_set("sentiment", SENTIMENTS),
        matches("canvasser_key", HMAC_HEX_REGEX),
        matches("building_key", HMAC_HEX_REGEX),
        matches("bureau_id", BUREAU_ID_REGEX),
        no_rows(
            "topics are in the controlled vocabulary",
            _TOPICS_OUTSIDE_VOCABULARY,
            columns=("topics",),
        ),
        no_rows(
            "integrity_flags are known flags",
            _FLAGS_OUTSIDE_VOCABULARY,
            columns=("integrity_flags",),
        ),
        no_rows(
            "conversation-only fields are NULL unless outcome = opened_conversation",
            _CONVERSATION_FIELDS_OUTSIDE_CONVERSATIONS,
            columns=("outcome", "topics", "intends_to_vote", "sentiment", "consent"),
        ),
        no_rows(
            "no opinion is kept when consent is false",
            _OPINION_WITHOUT_CONSENT,
            columns=("consent", "topics", "intends_to_vote", "sentiment"),
        ),
        no_rows(
            "no door knock remains past its campaign's retention date (purge gate)",
            _PAST_RETENTION,
            columns=("campaign_id", "knocked_at"),
            whole_table=True,
        ),
        *(
            no_rows(
                f"{flag} flags at most {rate:.0%} of a campaign's knocks",
                _flag_rate(flag, rate),
                columns=("integrity_flags",),
                severity="warn",
                whole_table=True,
            )
            for flag, rate in FLAG_WARN_RATES.items()
        ),
        belongs_to_loaded_batch(
            "k",
            _KNOCK_KEYS,
            label=f"every knock belongs to a loaded batch of {BATCH_LEDGER_TABLE}",
            whole_table=True,
        ),
    ),
    # Door knocks only ever land (a correction lands as a new row) or are deleted (purge,
    # superseded batch): a delivery validates its own rows (index canvass_knocks_batch_line).
    delta_column="batch_id",
)

# ---- raw_canvass_batches (the ledger rows of canvass files) ---------------------------------

_QUARANTINE_COUNTS = f"""
left join (
    select
        batch_id,
        count(*) as quarantined
    from {QUARANTINE_TABLE}
    group by batch_id
) as q
    on q.batch_id = l.batch_id"""

_LEDGER_DOES_NOT_RECONCILE = f"""
select
    l.batch_id,
    l.file_name,
    l.rows_read,
    l.rows_loaded,
    l.rows_rejected,
    l.rows_duplicate,
    coalesce(q.quarantined, 0) as quarantined
from {{batch}} as l
{_QUARANTINE_COUNTS}
where l.source = '{LEDGER_SOURCE}'
    and l.status = 'loaded'
    and (
        l.rows_read <> l.rows_loaded + l.rows_rejected + l.rows_duplicate
        or (l.quarantine_purged_at is null and l.rows_rejected <> coalesce(q.quarantined, 0))
    )
"""

_HIGH_QUARANTINE_SHARE = f"""
select
    l.batch_id,
    l.file_name,
    l.rows_read,
    l.rows_rejected
from {{batch}} as l
{_QUARANTINE_COUNTS}
where l.source = '{LEDGER_SOURCE}'
    and l.status = 'loaded'
    and l.rows_rejected > {QUARANTINE_WARN_SHARE} * l.rows_read
"""

RAW_CANVASS_BATCHES = SuiteSpec(
    name="raw_canvass_batches",
    table=BATCH_LEDGER_TABLE,
    description="Canvass files in the ledger: read = loaded + quarantined + duplicates.",
    requires=(QUARANTINE_TABLE,),
    key_columns=("batch_id",),
    checks=(
        no_rows(
            "canvass batches reconcile: rows_read = rows_loaded + rows_rejected + rows_duplicate, "
            "rows_rejected = quarantined rows",
            _LEDGER_DOES_NOT_RECONCILE,
            columns=("rows_read", "rows_loaded", "rows_rejected", "rows_duplicate"),
        ),
        no_rows(
            f"at most {QUARANTINE_WARN_SHARE:.0%} of a canvass file is quarantined",
            _HIGH_QUARANTINE_SHARE,
            columns=("rows_rejected",),
            severity="warn",
        ),
    ),
)

# ---- raw_canvass_suppression -----------------------------------------------------------------

_DNC_NOT_SUPPRESSED = f"""
select
    k.source,
    k.knock_id,
    k.building_key
from {KNOCKS_TABLE} as k
left join {{batch}} as s
    on s.building_key = k.building_key
where k.outcome = 'do_not_contact'
    and s.building_key is null
"""

RAW_CANVASS_SUPPRESSION = SuiteSpec(
    name="raw_canvass_suppression",
    table=SUPPRESSION_TABLE,
    description="Opposition register: every do_not_contact building is in it.",
    requires=(KNOCKS_TABLE,),
    key_columns=("building_key",),
    checks=(
        not_null("first_seen_at"),
        matches("building_key", HMAC_HEX_REGEX),
        no_rows(
            "every building with a do_not_contact knock is in the register",
            _DNC_NOT_SUPPRESSED,
            columns=("building_key",),
        ),
    ),
)

SUITES: Mapping[str, SuiteSpec] = MappingProxyType(
    {s.name: s for s in (RAW_CANVASS_KNOCKS, RAW_CANVASS_BATCHES, RAW_CANVASS_SUPPRESSION)}
)
RAW_SUITES: tuple[str, ...] = tuple(SUITES)
RETENTION_SUITES: tuple[str, ...] = (RAW_CANVASS_KNOCKS.name,)
