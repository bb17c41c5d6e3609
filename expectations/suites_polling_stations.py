"""Audit suite of the polling-station mart (`mart_audit.polling_stations`), run by the gate.

dbt's own tests already guard the mart's formulas; this suite is the gate's independent look at
the candidate publication, written against `raw` rather than against dbt's staging: one row per
bureau, no null key, every share a fraction, and no bureau of a loaded results file missing (a
bureau dropped by a join would otherwise vanish from every campaign plan without a sound).

Every check is `fail`: each one describes a mart that must not be published.
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
    row_count_at_least,
)

AUDIT_POLLING_STATIONS_TABLE = "mart_audit.polling_stations"

KEY_COLUMNS = ("bureau_id", "code_commune", "code_bv")

# The shares the mart publishes: by age band (dbt var roll_age_bands) and by sex, never crossed.
SHARE_COLUMNS = (
    "share_age_18_24",
    "share_age_25_34",
    "share_age_35_49",
    "share_age_50_64",
    "share_age_65_74",
    "share_age_75_plus",
    "share_female",
    "share_male",
)

# Loaded bureaux of the results that the mart lacks (keys first: they become the examples).
_RESULTS_BUREAU_MISSING = f"""
select
    b.election_id,
    b.bureau_id
from {RAW_BUREAU_TABLE} as b
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = b.batch_id
where l.status = 'loaded'
    and not exists (
        select 1
        from {{batch}} as m
        where m.bureau_id = b.bureau_id
    )
"""

AUDIT_POLLING_STATIONS = SuiteSpec(
    name="audit_polling_stations",
    table=AUDIT_POLLING_STATIONS_TABLE,
    description=(
        "The polling-station mart: one row per bureau, keys present, shares in [0, 1], and "
        "every bureau of the loaded results present."
    ),
    requires=(BATCH_LEDGER_TABLE, RAW_BUREAU_TABLE),
    key_columns=("bureau_id",),
    checks=(
        row_count_at_least(1),
        *(not_null(column) for column in KEY_COLUMNS),
        Check("ExpectColumnValuesToBeUnique", {"column": "bureau_id"}),
        *(between(column, min_value=0, max_value=1) for column in SHARE_COLUMNS),
        no_rows(
            f"every loaded bureau of {RAW_BUREAU_TABLE} is a polling station of the mart",
            _RESULTS_BUREAU_MISSING,
            columns=("election_id", "bureau_id"),
        ),
    ),
)

SUITES: Mapping[str, SuiteSpec] = MappingProxyType(
    {AUDIT_POLLING_STATIONS.name: AUDIT_POLLING_STATIONS}
)
RAW_SUITES: tuple[str, ...] = ()
AUDIT_SUITES: tuple[str, ...] = (AUDIT_POLLING_STATIONS.name,)
