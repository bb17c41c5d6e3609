"""Quality suites for the geography: contours (`raw.geo_*`) and `raw.iris_bureau_weights`.

Same conventions as `expectations.suites` (read its docstring): `fail` blocks the asset, `warn`
is recorded only; SQL checks join the ledger, alias `{batch}` and only look at rows of `loaded`
batches.

What must never pass (`fail`): a weight outside (0, 1]; the weights of an IRIS not summing to 1
within 1e-9 (the allocation would create or lose inhabitants); a malformed IRIS or bureau id (the
weights would join nothing); a contour with no area; an IRIS or bureau twice. What is only
reported (`warn`): an IRIS with no weight at all (its commune has no known bureau: its census
counts are not allocated), weights of an IRIS whose contour is no longer loaded (the weights are
older than the contours: run `scrutin geo allocate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from expectations.suites import (
    BATCH_LEDGER_TABLE,
    BUREAU_ID_REGEX,
    Check,
    Severity,
    SuiteSpec,
    belongs_to_loaded_batch,
    duplicate_keys,
    in_set,
    loaded_rows,
    matches,
    no_rows,
    not_null,
)
from scrutin.vocabulary import COMMUNE_CODE_REGEX

RAW_GEO_IRIS_TABLE = "raw.geo_iris"
RAW_GEO_BUREAUX_TABLE = "raw.geo_bureaux"
RAW_GEO_COMMUNES_TABLE = "raw.geo_communes"
RAW_WEIGHTS_TABLE = "raw.iris_bureau_weights"

CODE_COMMUNE_REGEX = COMMUNE_CODE_REGEX
CODE_IRIS_REGEX = r"^([0-9]{5}|2[AB][0-9]{3})[0-9A-Z]{4}$"
WEIGHT_TOLERANCE = 1e-9
METHODS = ("addresses", "areal", "commune", "nearest")
QUALITIES = ("good", "few_addresses", "partial_coverage", "no_overlap", "no_bureau_geometry")


def positive(column: str, severity: Severity = "fail") -> Check:
    """column > 0 (strictly)."""
    return Check(
        "ExpectColumnValuesToBeBetween",
        {"column": column, "min_value": 0, "strict_min": True},
        severity,
    )


def _contour_checks(alias: str, id_regex: str) -> tuple[Check, ...]:
    """What every contour table must satisfy."""
    return (
        *(not_null(c) for c in ("id", "code_commune", "code_commune_results", "geometry")),
        matches("id", id_regex),
        matches("code_commune", CODE_COMMUNE_REGEX),
        matches("code_commune_results", CODE_COMMUNE_REGEX),
        positive("area_m2"),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "centroid_lon", "min_value": -180, "max_value": 180},
        ),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "centroid_lat", "min_value": -90, "max_value": 90},
        ),
        no_rows("one row per id", duplicate_keys(alias, ("id",)), columns=("id",)),
        belongs_to_loaded_batch(alias, ("id",)),
    )


RAW_GEO_IRIS = SuiteSpec(
    name="raw_geo_iris",
    table=RAW_GEO_IRIS_TABLE,
    description="IRIS contours as landed: 9-character codes, commune prefix, positive areas.",
    requires=(BATCH_LEDGER_TABLE,),
    key_columns=("id",),
    checks=(
        *_contour_checks("g", CODE_IRIS_REGEX),
        no_rows(
            "the IRIS code starts with its commune code",
            loaded_rows("g", "g.id,\n    g.code_commune", "left(g.id, 5) <> g.code_commune"),
            columns=("id", "code_commune"),
        ),
        in_set("typ_iris", ("H", "A", "D", "Z"), severity="warn"),
    ),
)

RAW_GEO_BUREAUX = SuiteSpec(
    name="raw_geo_bureaux",
    table=RAW_GEO_BUREAUX_TABLE,
    description="Polling-station contours as landed: Ministry bureau key, positive areas.",
    requires=(BATCH_LEDGER_TABLE,),
    key_columns=("id",),
    checks=(
        *_contour_checks("g", BUREAU_ID_REGEX),
        no_rows(
            "id = code_commune_results || '_' || code_bv",
            loaded_rows(
                "g",
                "g.id,\n    g.code_commune_results,\n    g.code_bv",
                "g.id <> g.code_commune_results || '_' || g.code_bv",
            ),
            columns=("id", "code_commune_results", "code_bv"),
        ),
    ),
)

RAW_GEO_COMMUNES = SuiteSpec(
    name="raw_geo_communes",
    table=RAW_GEO_COMMUNES_TABLE,
    description="Commune contours as landed: INSEE codes, positive areas.",
    requires=(BATCH_LEDGER_TABLE,),
    key_columns=("id",),
    checks=_contour_checks("g", CODE_COMMUNE_REGEX),
)

# ---- raw_iris_bureau_weights -------------------------------------------------------------------

_SUM_NOT_ONE = f"""
select
    w.code_iris,
    count(*) as pairs,
    sum(w.weight) as weight_sum
from {{batch}} as w
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = w.batch_id
where l.status = 'loaded'
group by
    w.code_iris
having abs(sum(w.weight) - 1) > {WEIGHT_TOLERANCE}
"""

_IRIS_WITHOUT_WEIGHT = f"""
select
    g.id as code_iris,
    g.code_commune
from {RAW_GEO_IRIS_TABLE} as g
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = g.batch_id
where l.status = 'loaded'
    and not exists (
        select 1
        from {{batch}} as w
        inner join {BATCH_LEDGER_TABLE} as wl
            on wl.batch_id = w.batch_id
        where w.code_iris = g.id
            and wl.status = 'loaded'
    )
"""

_WEIGHT_OF_UNKNOWN_IRIS = f"""
select distinct
    w.code_iris
from {{batch}} as w
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = w.batch_id
where l.status = 'loaded'
    and not exists (
        select 1
        from {RAW_GEO_IRIS_TABLE} as g
        inner join {BATCH_LEDGER_TABLE} as gl
            on gl.batch_id = g.batch_id
        where g.id = w.code_iris
            and gl.status = 'loaded'
    )
"""

RAW_IRIS_BUREAU_WEIGHTS = SuiteSpec(
    name="raw_iris_bureau_weights",
    table=RAW_WEIGHTS_TABLE,
    description="IRIS -> bureau weights: in (0, 1], summing to 1 per IRIS, well-formed keys.",
    requires=(BATCH_LEDGER_TABLE, RAW_GEO_IRIS_TABLE),
    key_columns=("code_iris", "bureau_id"),
    checks=(
        *(not_null(c) for c in ("code_iris", "bureau_id", "weight", "method", "quality")),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "weight", "min_value": 0, "max_value": 1, "strict_min": True},
        ),
        no_rows(
            f"the weights of each IRIS sum to 1 (within {WEIGHT_TOLERANCE:g})",
            _SUM_NOT_ONE,
            columns=("code_iris", "weight"),
        ),
        matches("code_iris", CODE_IRIS_REGEX),
        matches("bureau_id", BUREAU_ID_REGEX),
        matches("code_commune", CODE_COMMUNE_REGEX),
        in_set("method", METHODS),
        in_set("quality", QUALITIES),
        Check("ExpectColumnValuesToBeBetween", {"column": "n_addresses", "min_value": 0}),
        no_rows(
            "one row per (code_iris, bureau_id)",
            duplicate_keys("w", ("code_iris", "bureau_id")),
            columns=("code_iris", "bureau_id"),
        ),
        no_rows(
            f"every loaded IRIS of {RAW_GEO_IRIS_TABLE} has weights",
            _IRIS_WITHOUT_WEIGHT,
            columns=("code_iris",),
            severity="warn",
        ),
        no_rows(
            f"every weighted IRIS is a loaded IRIS of {RAW_GEO_IRIS_TABLE}",
            _WEIGHT_OF_UNKNOWN_IRIS,
            columns=("code_iris",),
            severity="warn",
        ),
        belongs_to_loaded_batch("w", ("code_iris",)),
    ),
)

SUITES: Mapping[str, SuiteSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (RAW_GEO_IRIS, RAW_GEO_BUREAUX, RAW_GEO_COMMUNES, RAW_IRIS_BUREAU_WEIGHTS)
    }
)
RAW_SUITES: tuple[str, ...] = tuple(SUITES)
