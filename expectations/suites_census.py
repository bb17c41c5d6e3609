"""Quality suites of the census raw tables (`raw.census_iris`, `raw.census_iris_values`).

What downstream models rely on and a loader bug or a hand edit could break:
- IRIS codes are well formed (9 characters) and start with their commune code;
- one row per IRIS per vintage and theme (one value per indicator of an IRIS is a unique
  index of `raw.census_iris_values`, so it needs no check here);
- counts (prefix `P`/`C`) are never negative — Filosofi shares may be (the tax share
  `DISP_PIMPOT` is negative by construction), so they are not checked here;
- values stay within physical bounds: counts per IRIS, incomes in euros, shares in percent (a
  value of 1e308 or NaN is refused; see the constants below and docs/quality.md);
- a masked cell has no value, and a value that is not masked is present: a masked cell read as
  0 would make a secret IRIS look empty.
SQL checks only judge rows of `loaded` batches (see `expectations.suites`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from expectations.suites import (
    BATCH_LEDGER_TABLE,
    Check,
    SuiteSpec,
    belongs_to_loaded_batch,
    duplicate_keys,
    loaded_rows,
    matches,
    no_rows,
)

RAW_CENSUS_IRIS_TABLE = "raw.census_iris"
RAW_CENSUS_VALUES_TABLE = "raw.census_iris_values"

IRIS_CODE_REGEX = r"^([0-9]{2}|2[AB])[0-9]{7}$"
COMMUNE_CODE_REGEX = r"^([0-9]{2}|2[AB])[0-9]{3}$"

# A row of either table: one IRIS of one census vintage and theme.
_KEYS = ("vintage", "theme", "code_iris")

# Physical bounds of a census value (docs/quality.md): a census cell is an IRIS, about 2,000
# inhabitants (the largest hold a few tens of thousands), so no count of people, households or
# dwellings comes near 100,000. Filosofi incomes are euros per consumption unit and year (the
# real 2015 national IRIS file tops at a D9 of 205,661); its shares of disposable income are
# percentages that may pass 100 or go below 0 because taxes count negatively (2015: -48.9 to
# 111.7); the Gini index is in [0, 1]. Any other value must stay finite and within +-10 million.
# NaN and infinity fail every bound (PostgreSQL sorts NaN above every number).
CENSUS_MAX_COUNT = 100_000
CENSUS_MAX_INCOME = 1_000_000
CENSUS_SHARE_BOUNDS = (-200, 200)
CENSUS_MAX_OTHER = 10_000_000
FILOSOFI_PREFIXES = "('DISP', 'DEC')"
FILOSOFI_INCOMES = "('Q1', 'MED', 'Q3', 'D1', 'D2', 'D3', 'D4', 'D6', 'D7', 'D8', 'D9')"

COUNT_BOUND_LABEL = f"counts (prefix P or C) are at most {CENSUS_MAX_COUNT:,} per IRIS"
INCOME_BOUND_LABEL = (
    f"Filosofi incomes (Q1, MED, Q3, D1-D9) are between 0 and {CENSUS_MAX_INCOME:,} euros"
)
SHARE_BOUND_LABEL = (
    "Filosofi shares (P...) are percentages in "
    f"[{CENSUS_SHARE_BOUNDS[0]}, {CENSUS_SHARE_BOUNDS[1]}], the Gini index (GI) in [0, 1]"
)
OTHER_BOUND_LABEL = f"every other value is finite, within +-{CENSUS_MAX_OTHER:,}"


def _out_of_bounds(label: str, condition: str) -> Check:
    """A census value outside its physical bounds: the IRIS, the indicator and the value."""
    return no_rows(
        label,
        loaded_rows(
            "v",
            "v.prefix,\n    v.indicator,\n    v.value",
            f"v.value is not null and {condition}",
            keys=_KEYS,
        ),
        columns=("value",),
    )


_IS_FILOSOFI = f"v.prefix in {FILOSOFI_PREFIXES}"
_IS_INCOME = f"{_IS_FILOSOFI} and v.indicator in {FILOSOFI_INCOMES}"
_IS_SHARE = f"{_IS_FILOSOFI} and (v.indicator like 'P%' or v.indicator = 'GI')"

BOUND_CHECKS: tuple[Check, ...] = (
    _out_of_bounds(
        COUNT_BOUND_LABEL,
        f"v.prefix in ('P', 'C') and not v.value <= {CENSUS_MAX_COUNT}",
    ),
    _out_of_bounds(
        INCOME_BOUND_LABEL,
        f"{_IS_INCOME} and not v.value between 0 and {CENSUS_MAX_INCOME}",
    ),
    _out_of_bounds(
        SHARE_BOUND_LABEL,
        f"{_IS_SHARE} and not (case when v.indicator = 'GI' then v.value between 0 and 1 "
        f"else v.value between {CENSUS_SHARE_BOUNDS[0]} and {CENSUS_SHARE_BOUNDS[1]} end)",
    ),
    _out_of_bounds(
        OTHER_BOUND_LABEL,
        f"v.prefix not in ('P', 'C') and not ({_IS_INCOME}) and not ({_IS_SHARE}) "
        f"and not abs(v.value) <= {CENSUS_MAX_OTHER}",
    ),
)

_VALUE_WITHOUT_IRIS = f"""
select
    v.vintage,
    v.theme,
    v.code_iris,
    v.indicator
from {{batch}} as v
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = v.batch_id
where l.status = 'loaded'
    and not exists (
        select 1
        from {RAW_CENSUS_IRIS_TABLE} as i
        where i.batch_id = v.batch_id
            and i.code_iris = v.code_iris
    )
"""

RAW_CENSUS_IRIS = SuiteSpec(
    name="raw_census_iris",
    table=RAW_CENSUS_IRIS_TABLE,
    description="INSEE census IRIS as landed: well-formed codes, one row per IRIS per vintage.",
    requires=(BATCH_LEDGER_TABLE,),
    key_columns=_KEYS,
    checks=(
        matches("code_iris", IRIS_CODE_REGEX),
        matches("code_commune", COMMUNE_CODE_REGEX),
        no_rows(
            "code_iris starts with code_commune",
            loaded_rows(
                "i", "i.code_commune", "left(i.code_iris, 5) <> i.code_commune", keys=_KEYS
            ),
            columns=("code_iris", "code_commune"),
        ),
        no_rows(
            "one row per (vintage, theme, code_iris)",
            duplicate_keys("i", _KEYS),
            columns=_KEYS,
        ),
        belongs_to_loaded_batch("i", _KEYS),
    ),
)

RAW_CENSUS_VALUES = SuiteSpec(
    name="raw_census_values",
    table=RAW_CENSUS_VALUES_TABLE,
    description="INSEE census indicator values as landed: non-negative counts, masks without "
    "values, every value tied to a landed IRIS.",
    requires=(BATCH_LEDGER_TABLE, RAW_CENSUS_IRIS_TABLE),
    key_columns=(*_KEYS, "indicator"),
    checks=(
        no_rows(
            "counts (prefix P or C) are not negative",
            loaded_rows(
                "v",
                "v.prefix,\n    v.indicator,\n    v.value",
                "v.prefix in ('P', 'C') and v.value < 0",
                keys=_KEYS,
            ),
            columns=("value",),
        ),
        *BOUND_CHECKS,
        no_rows(
            "a masked cell has no value",
            loaded_rows(
                "v",
                "v.indicator,\n    v.value",
                "v.masked and v.value is not null",
                keys=_KEYS,
            ),
            columns=("masked", "value"),
        ),
        no_rows(
            "a cell that is not masked has a value and no mask code",
            loaded_rows(
                "v",
                "v.indicator,\n    v.mask_code",
                "not v.masked and (v.value is null or v.mask_code is not null)",
                keys=_KEYS,
            ),
            columns=("masked", "value", "mask_code"),
        ),
        no_rows(
            "code_iris starts with code_commune",
            loaded_rows(
                "v", "v.code_commune", "left(v.code_iris, 5) <> v.code_commune", keys=_KEYS
            ),
            columns=("code_iris", "code_commune"),
        ),
        no_rows(
            f"every value's IRIS is in {RAW_CENSUS_IRIS_TABLE} (same batch)",
            _VALUE_WITHOUT_IRIS,
            columns=_KEYS,
        ),
        belongs_to_loaded_batch("v", _KEYS),
    ),
)

SUITES: Mapping[str, SuiteSpec] = MappingProxyType(
    {spec.name: spec for spec in (RAW_CENSUS_IRIS, RAW_CENSUS_VALUES)}
)
RAW_SUITES: tuple[str, ...] = (RAW_CENSUS_IRIS.name, RAW_CENSUS_VALUES.name)
