"""Audit suite of the demographics mart (`mart_audit.bureau_demographics`), run by the gate.

dbt already tests the formulas (unit tests) and the allocation against staging
(`assert_census_allocation_preserves_commune_totals`). This suite is the gate's independent look
at the candidate publication, written against `raw` rather than against dbt's models: one row per
bureau, no null key, every share a fraction, the allocated population of each commune equal to
its census population, and no bureau of the loaded weights dropped or invented.

No `row_count_at_least`: the mart is legitimately empty until both a census vintage and the
IRIS -> bureau weights are loaded, and an empty demographics mart must not block the publication
of the election marts. Every check is `fail`: each one describes a mart that must not be
published.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from expectations.suites import (
    BATCH_LEDGER_TABLE,
    BUREAU_ID_REGEX,
    Check,
    SuiteSpec,
    between,
    matches,
    no_rows,
    not_null,
)

AUDIT_BUREAU_DEMOGRAPHICS_TABLE = "mart_audit.bureau_demographics"
CODE_COMMUNE_REGEX = r"^([0-9]{5}|2[AB][0-9]{3})$"
RAW_CENSUS_VALUES_TABLE = "raw.census_iris_values"
RAW_WEIGHTS_TABLE = "raw.iris_bureau_weights"

KEY_COLUMNS = (
    "bureau_id",
    "code_commune",
    "census_vintage",
    "allocation_method",
    "allocation_quality",
    "has_masked_values",
    "masked_share",
)

SHARE_COLUMNS = (
    "share_age_0_14",
    "share_age_15_29",
    "share_age_30_44",
    "share_age_45_59",
    "share_age_60_74",
    "share_age_75_plus",
    "share_pcs_farmers",
    "share_pcs_artisans_merchants",
    "share_pcs_executives",
    "share_pcs_intermediate",
    "share_pcs_employees",
    "share_pcs_workers",
    "share_pcs_retired",
    "share_pcs_other_inactive",
    "share_diploma_low",
    "share_diploma_bac",
    "share_diploma_higher",
    "share_households_single_person",
    "share_households_couple_no_children",
    "share_households_couple_with_children",
    "share_households_single_parent",
    "share_owners",
    "share_renters",
    "share_social_renters",
    "share_foreigners",
    "masked_share",
)

COUNT_COLUMNS = ("population", "population_15_plus", "households", "main_residences")

ALLOCATION_METHODS = ("addresses", "areal", "commune", "nearest", "mixed")
ALLOCATION_QUALITIES = (
    "good",
    "few_addresses",
    "partial_coverage",
    "no_overlap",
    "no_bureau_geometry",
)

# Allocated totals equal the source totals: relative tolerance above 1, absolute below.
TOTAL_TOLERANCE = 1e-6

# Census IRIS of Paris, Lyon and Marseille carry arrondissement codes; results (and so the mart)
# the whole-city code. The same ranges as ingestion/sources/reu.py.
_RESULTS_COMMUNE = """case
        when {code} between '75101' and '75120' then '75056'
        when {code} between '69381' and '69389' then '69123'
        when {code} between '13201' and '13216' then '13055'
        else {code}
    end"""

# (mart column, census prefix, census indicator): counts of the `population` theme, whose
# vintage is the mart's census_vintage by construction (other themes may lag a year).
_POPULATION_COUNTS = (
    ("population", "P", "POP"),
    ("population_15_plus", "C", "POP15P"),
)


def _commune_totals_query(column: str, prefix: str, indicator: str) -> str:
    """Communes whose bureaux' allocated `column` differs from the census total of the commune.

    Only communes where every bureau's figure is published (a masked IRIS value makes it NULL),
    and every census IRIS of the commune counts: an IRIS without weights is a failure.
    """
    census_commune = _RESULTS_COMMUNE.format(code="v.code_commune")
    return f"""
with mart_communes as (
    select
        m.code_commune,
        max(m.census_vintage) as census_vintage,
        sum(m.{column}) as allocated_total
    from {{batch}} as m
    group by
        m.code_commune
    having count(*) = count(m.{column})
),

census_communes as (
    select
        {census_commune} as code_commune,
        v.vintage,
        sum(v.value) as census_total
    from {RAW_CENSUS_VALUES_TABLE} as v
    inner join {BATCH_LEDGER_TABLE} as l
        on l.batch_id = v.batch_id
    where l.status = 'loaded'
        and v.theme = 'population'
        and v.prefix = '{prefix}'
        and v.indicator = '{indicator}'
    group by
        1,
        v.vintage
)

select
    mart_communes.code_commune,
    mart_communes.census_vintage,
    mart_communes.allocated_total,
    census_communes.census_total
from mart_communes
left join census_communes
    on census_communes.code_commune = mart_communes.code_commune
    and census_communes.vintage = mart_communes.census_vintage
where census_communes.census_total is null
    or abs(mart_communes.allocated_total - census_communes.census_total)
        > {TOTAL_TOLERANCE} * greatest(1, abs(census_communes.census_total))
"""


# A bureau of the mart must be a bureau of the loaded weights (the allocation's only source).
_MART_BUREAU_NOT_WEIGHTED = f"""
select
    m.bureau_id
from {{batch}} as m
left join (
    select distinct
        w.bureau_id
    from {RAW_WEIGHTS_TABLE} as w
    inner join {BATCH_LEDGER_TABLE} as l
        on l.batch_id = w.batch_id
    where l.status = 'loaded'
) as weighted
    on weighted.bureau_id = m.bureau_id
where weighted.bureau_id is null
"""

# A bureau that receives part of an IRIS with census population of the mart's vintage must be in
# the mart: a join that dropped it would remove it from every campaign plan without a sound.
_WEIGHTED_BUREAU_MISSING = f"""
with vintage as (
    select
        max(m.census_vintage) as census_vintage
    from {{batch}} as m
)

select distinct
    w.bureau_id,
    w.code_iris
from {RAW_WEIGHTS_TABLE} as w
inner join {BATCH_LEDGER_TABLE} as wl
    on wl.batch_id = w.batch_id
inner join {RAW_CENSUS_VALUES_TABLE} as v
    on v.code_iris = w.code_iris
inner join {BATCH_LEDGER_TABLE} as vl
    on vl.batch_id = v.batch_id
inner join vintage
    on vintage.census_vintage = v.vintage
where wl.status = 'loaded'
    and vl.status = 'loaded'
    and v.theme = 'population'
    and v.prefix = 'P'
    and v.indicator = 'POP'
    and not exists (
        select 1
        from {{batch}} as m
        where m.bureau_id = w.bureau_id
    )
"""

AUDIT_BUREAU_DEMOGRAPHICS = SuiteSpec(
    name="audit_bureau_demographics",
    table=AUDIT_BUREAU_DEMOGRAPHICS_TABLE,
    description=(
        "The demographics mart: one row per bureau, keys present, shares in [0, 1], allocated "
        "population equal to the census population of each commune, no bureau dropped."
    ),
    requires=(BATCH_LEDGER_TABLE, RAW_CENSUS_VALUES_TABLE, RAW_WEIGHTS_TABLE),
    key_columns=("bureau_id",),
    checks=(
        *(not_null(column) for column in KEY_COLUMNS),
        Check("ExpectColumnValuesToBeUnique", {"column": "bureau_id"}),
        matches("bureau_id", BUREAU_ID_REGEX),
        matches("code_commune", CODE_COMMUNE_REGEX),
        *(between(column, min_value=0, max_value=1) for column in SHARE_COLUMNS),
        *(between(column, min_value=0) for column in (*COUNT_COLUMNS, "median_income_approx")),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "allocation_method", "value_set": list(ALLOCATION_METHODS)},
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "allocation_quality", "value_set": list(ALLOCATION_QUALITIES)},
        ),
        *(
            no_rows(
                f"allocated {column} of each commune = census {prefix} {indicator} of its IRIS "
                f"(within {TOTAL_TOLERANCE:g})",
                _commune_totals_query(column, prefix, indicator),
                columns=(column,),
            )
            for column, prefix, indicator in _POPULATION_COUNTS
        ),
        no_rows(
            f"every bureau of the mart has weights in {RAW_WEIGHTS_TABLE}",
            _MART_BUREAU_NOT_WEIGHTED,
            columns=("bureau_id",),
        ),
        no_rows(
            "every weighted bureau of an IRIS with census population is in the mart",
            _WEIGHTED_BUREAU_MISSING,
            columns=("bureau_id", "code_iris"),
        ),
    ),
)

SUITES: Mapping[str, SuiteSpec] = MappingProxyType(
    {AUDIT_BUREAU_DEMOGRAPHICS.name: AUDIT_BUREAU_DEMOGRAPHICS}
)
RAW_SUITES: tuple[str, ...] = ()
AUDIT_SUITES: tuple[str, ...] = (AUDIT_BUREAU_DEMOGRAPHICS.name,)
