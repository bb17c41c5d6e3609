"""Quality suites for the electoral-roll sources: INSEE's REU tables and the roll aggregates.

Same conventions as `expectations.suites` (read its docstring): `fail` blocks the asset, `warn`
is recorded only; SQL checks join the ledger, alias `{batch}` and only look at rows of `loaded`
batches. Bounds: longitude/latitude must be finite numbers of the WGS84 ranges (`fail`); being
outside metropolitan France and the overseas territories' boxes is only a `warn` (a geocoding
error there is a bad point, not a bad file).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from expectations.suites import (
    BATCH_LEDGER_TABLE,
    BUREAU_ID_REGEX,
    RAW_BUREAU_TABLE,
    SuiteSpec,
    belongs_to_loaded_batch,
    between,
    duplicate_keys,
    in_set,
    loaded_rows,
    matches,
    no_rows,
    not_null,
)
from scrutin.vocabulary import AGE_BANDS, COMMUNE_CODE_REGEX, unanchored

RAW_REU_BUREAUX_TABLE = "raw.reu_bureaux"
RAW_REU_ADDRESSES_TABLE = "raw.reu_addresses"
RAW_ROLL_COUNTS_TABLE = "raw.roll_bureau_counts"
RAW_ROLL_DOORS_TABLE = "raw.roll_bureau_doors"

CODE_COMMUNE_REGEX = COMMUNE_CODE_REGEX
REU_ID_REGEX = rf"^{unanchored(COMMUNE_CODE_REGEX)}_[0-9A-Za-z]{{1,8}}$"
SEXES = ("F", "M", "X")
LIST_TYPES = ("LP", "LCM", "LCE")

# (lon min, lon max, lat min, lat max): metropolitan France with Corsica, then the overseas
# departments and collectivities. Generous boxes: they catch swapped or zeroed coordinates.
FRANCE_BOXES: tuple[tuple[float, float, float, float], ...] = (
    (-5.5, 10.0, 41.0, 51.5),  # metropolitan France and Corsica
    (-63.5, -60.5, 15.5, 18.5),  # Guadeloupe, Saint-Martin, Saint-Barthélemy
    (-61.5, -60.5, 14.0, 15.0),  # Martinique
    (-55.0, -51.0, 2.0, 6.0),  # Guyane
    (55.0, 56.0, -21.5, -20.5),  # La Réunion
    (44.5, 45.5, -13.5, -12.5),  # Mayotte
    (-57.0, -56.0, 46.5, 47.5),  # Saint-Pierre-et-Miquelon
    (-180.0, -175.0, -15.0, -13.0),  # Wallis-et-Futuna
    (-155.0, -134.0, -28.0, -7.0),  # Polynésie française
    (163.0, 169.0, -23.0, -19.0),  # Nouvelle-Calédonie
)


def _outside_france(alias: str) -> str:
    inside = "\n        or ".join(
        f"({alias}.longitude between {x0} and {x1} and {alias}.latitude between {y0} and {y1})"
        for x0, x1, y0, y1 in FRANCE_BOXES
    )
    return f"not (\n        {inside}\n    )"


# ---- raw_reu_bureaux ---------------------------------------------------------------------------

RAW_REU_BUREAUX = SuiteSpec(
    name="raw_reu_bureaux",
    table=RAW_REU_BUREAUX_TABLE,
    description="INSEE table-bv-reu as landed: REU keys well formed and unique, Ministry key.",
    requires=(BATCH_LEDGER_TABLE,),
    key_columns=("id_brut_reu",),
    checks=(
        *(not_null(c) for c in ("id_brut_reu", "code_commune", "code", "bureau_id")),
        matches("code_commune", CODE_COMMUNE_REGEX),
        matches("code_commune_results", CODE_COMMUNE_REGEX),
        matches("id_brut_reu", REU_ID_REGEX),
        matches("bureau_id", BUREAU_ID_REGEX),
        no_rows(
            "one row per id_brut_reu",
            duplicate_keys("b", ("id_brut_reu",)),
            columns=("id_brut_reu",),
        ),
        no_rows(
            "one REU bureau per bureau_id (two REU codes normalising to one Ministry key)",
            duplicate_keys("b", ("bureau_id",)),
            columns=("bureau_id",),
            severity="warn",
        ),
        no_rows(
            "bureau_id = code_commune_results || '_' || code_bv",
            loaded_rows(
                "b",
                "b.id_brut_reu,\n    b.bureau_id,\n    b.code_commune_results,\n    b.code_bv",
                "b.bureau_id <> b.code_commune_results || '_' || b.code_bv",
            ),
            columns=("bureau_id", "code_commune_results", "code_bv"),
        ),
        between("nb_adresses_initial", min_value=0),
        between("nb_adresses_final", min_value=0),
        no_rows(
            "nb_adresses_final <= nb_adresses_initial",
            loaded_rows(
                "b",
                "b.id_brut_reu,\n    b.nb_adresses_initial,\n    b.nb_adresses_final",
                "b.nb_adresses_final > b.nb_adresses_initial",
            ),
            columns=("nb_adresses_initial", "nb_adresses_final"),
            severity="warn",
        ),
        belongs_to_loaded_batch("b", ("id_brut_reu",)),
    ),
)

# ---- raw_reu_addresses -------------------------------------------------------------------------

# The geocoder's precision levels (BAN), `housenumber` the finest.
GEO_TYPES = ("housenumber", "street", "locality", "municipality")

_ADDRESS_BUREAU_UNKNOWN = f"""
select
    a.id_brut_bv_reu,
    count(*) as address_rows
from {{batch}} as a
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = a.batch_id
where l.status = 'loaded'
    and a.code_commune in (select b.code_commune from {RAW_REU_BUREAUX_TABLE} as b)
    and not exists (
        select 1
        from {RAW_REU_BUREAUX_TABLE} as b
        inner join {BATCH_LEDGER_TABLE} as bl
            on bl.batch_id = b.batch_id
        where b.id_brut_reu = a.id_brut_bv_reu
            and bl.status = 'loaded'
    )
group by
    a.id_brut_bv_reu
"""

RAW_REU_ADDRESSES = SuiteSpec(
    name="raw_reu_addresses",
    table=RAW_REU_ADDRESSES_TABLE,
    description="INSEE table-adresses-reu as landed: keys, coordinates, positive address counts.",
    requires=(BATCH_LEDGER_TABLE, RAW_REU_BUREAUX_TABLE),
    key_columns=("id_brut_bv_reu", "source_line"),
    checks=(
        *(
            not_null(c)
            for c in ("code_commune_ref", "id_brut_bv_reu", "bureau_id", "longitude", "latitude")
        ),
        matches("code_commune_ref", CODE_COMMUNE_REGEX),
        matches("id_brut_bv_reu", REU_ID_REGEX),
        matches("bureau_id", BUREAU_ID_REGEX),
        between("nb_adresses", min_value=1),
        between("longitude", min_value=-180, max_value=180),
        between("latitude", min_value=-90, max_value=90),
        between("geo_score", min_value=0, max_value=1),
        # Once per loaded batch here rather than as dbt tests on stg_reu__addresses in every
        # build (13 M rows nationally: 16 dbt tests, 42 s per full refresh).
        in_set("geo_type", GEO_TYPES, severity="warn"),
        no_rows(
            "one row per (batch_id, source_line)",
            duplicate_keys("a", ("batch_id", "source_line")),
            columns=("batch_id", "source_line"),
        ),
        no_rows(
            "points lie in metropolitan France or an overseas territory (generous boxes)",
            loaded_rows(
                "a",
                "a.id_brut_bv_reu,\n    a.source_line,\n    a.longitude,\n    a.latitude",
                _outside_france("a"),
            ),
            columns=("longitude", "latitude"),
            severity="warn",
        ),
        no_rows(
            "code_commune_ref is the commune prefix of id_brut_bv_reu",
            loaded_rows(
                "a",
                "a.id_brut_bv_reu,\n    a.source_line,\n    a.code_commune_ref",
                "a.code_commune_ref <> a.code_commune",
            ),
            columns=("code_commune_ref", "id_brut_bv_reu"),
            severity="warn",
        ),
        no_rows(
            f"every address bureau is a bureau of {RAW_REU_BUREAUX_TABLE} (communes it covers)",
            _ADDRESS_BUREAU_UNKNOWN,
            columns=("id_brut_bv_reu",),
            severity="warn",
        ),
        belongs_to_loaded_batch("a", ("id_brut_bv_reu",)),
    ),
)

# ---- raw_roll_counts / raw_roll_doors ----------------------------------------------------------

_DOORS_ABOVE_ELECTORS = f"""
with electors as (
    select
        c.bureau_id,
        sum(c.voters) as voters
    from {RAW_ROLL_COUNTS_TABLE} as c
    inner join {BATCH_LEDGER_TABLE} as cl
        on cl.batch_id = c.batch_id
    where cl.status = 'loaded'
    group by
        c.bureau_id
)

select
    d.bureau_id,
    d.doors,
    coalesce(electors.voters, 0) as voters
from {{batch}} as d
inner join {BATCH_LEDGER_TABLE} as l
    on l.batch_id = d.batch_id
left join electors
    on electors.bureau_id = d.bureau_id
where l.status = 'loaded'
    and d.doors > coalesce(electors.voters, 0)
"""


def _roll_bureau_unknown(alias: str) -> str:
    """Roll rows whose bureau is neither a REU bureau nor a results bureau (loaded batches).

    The loader already quarantines such lines (issue 14: a surname in the bureau-code column
    became a published bureau); this check refuses what reached the table another way, so a
    bureau the references do not know is never published with its electors' sex and age band.
    """
    # The same reference as the loader's (ingestion/loaders/roll.py, ReferenceLookup): any
    # row of either table (a superseded batch's rows are deleted with it). Two anti-joins, not
    # `not in (... union ...)`: PostgreSQL cannot hash a NOT IN over a subquery it estimates
    # large, and rescanned the union for every roll row (minutes at national size).
    known = "not exists (select 1 from {table} as r where r.bureau_id = {alias}.bureau_id)"
    return loaded_rows(
        alias,
        f"{alias}.bureau_id",
        f"{alias}.bureau_id is not null"
        f" and {known.format(table=RAW_REU_BUREAUX_TABLE, alias=alias)}"
        f" and {known.format(table=RAW_BUREAU_TABLE, alias=alias)}",
    )


RAW_ROLL_COUNTS = SuiteSpec(
    name="raw_roll_counts",
    table=RAW_ROLL_COUNTS_TABLE,
    description=(
        "Roll aggregates: accepted bands, sexes and lists, counts >= 0, one row per cell, "
        "bureaux the REU or the results know."
    ),
    requires=(BATCH_LEDGER_TABLE, RAW_REU_BUREAUX_TABLE, RAW_BUREAU_TABLE),
    key_columns=("bureau_id", "list_type", "age_band", "sex"),
    checks=(
        *(not_null(c) for c in ("bureau_id", "reference_date", "voters")),
        matches("code_commune", CODE_COMMUNE_REGEX),
        matches("bureau_id", BUREAU_ID_REGEX),
        in_set("age_band", AGE_BANDS),
        in_set("sex", SEXES),
        in_set("list_type", LIST_TYPES),
        between("voters", min_value=0),
        no_rows(
            "one row per (bureau_id, list_type, age_band, sex)",
            duplicate_keys("c", ("bureau_id", "list_type", "age_band", "sex")),
            columns=("bureau_id", "list_type", "age_band", "sex"),
        ),
        no_rows(
            "every bureau is a bureau of the REU or of the results (known bureaux only)",
            _roll_bureau_unknown("c"),
            columns=("bureau_id",),
        ),
        belongs_to_loaded_batch("c", ("bureau_id",)),
    ),
)

RAW_ROLL_DOORS = SuiteSpec(
    name="raw_roll_doors",
    table=RAW_ROLL_DOORS_TABLE,
    description="Roll doors per bureau: one row per bureau, 0 <= doors <= electors of the bureau.",
    requires=(BATCH_LEDGER_TABLE, RAW_ROLL_COUNTS_TABLE, RAW_REU_BUREAUX_TABLE, RAW_BUREAU_TABLE),
    key_columns=("bureau_id",),
    checks=(
        not_null("bureau_id"),
        matches("bureau_id", BUREAU_ID_REGEX),
        between("doors", min_value=0),
        no_rows(
            "one row per bureau_id",
            duplicate_keys("d", ("bureau_id",)),
            columns=("bureau_id",),
        ),
        no_rows(
            "doors <= electors counted in the bureau",
            _DOORS_ABOVE_ELECTORS,
            columns=("doors", "voters"),
        ),
        no_rows(
            "every bureau is a bureau of the REU or of the results (known bureaux only)",
            _roll_bureau_unknown("d"),
            columns=("bureau_id",),
        ),
        belongs_to_loaded_batch("d", ("bureau_id",)),
    ),
)

SUITES: Mapping[str, SuiteSpec] = MappingProxyType(
    {s.name: s for s in (RAW_REU_BUREAUX, RAW_REU_ADDRESSES, RAW_ROLL_COUNTS, RAW_ROLL_DOORS)}
)
REU_SUITES: tuple[str, ...] = (RAW_REU_BUREAUX.name, RAW_REU_ADDRESSES.name)
ROLL_SUITES: tuple[str, ...] = (RAW_ROLL_COUNTS.name, RAW_ROLL_DOORS.name)
RAW_SUITES: tuple[str, ...] = (*REU_SUITES, *ROLL_SUITES)
