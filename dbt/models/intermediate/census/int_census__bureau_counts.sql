{#-
    The allocated census counts the demographics mart needs, one row per bureau, wide: for
    each measure its allocated value and whether it is known in full (`<measure>_known`: no
    masked IRIS value in the sum, and the theme was loaded at all). The mart publishes no
    share computed from a measure that is not known.

    A measure sums one or more census indicators of one theme and prefix. The lists hold the
    names of every vintage INSEE used (diplomas: `DIPLMIN`, `SUP2`, `SUP34`, `SUP5` since
    census 2017; `DIPL0`, `CEP`, `BACP2`, `SUP` before): a vintage carries one set, never both.
    The socio-professional groups come from the seed pcs_crosswalk (PCS 2003 `CS1..CS8` up to
    census 2021, PCS 2020 `STAT_GSEC..` from 2022), applied to `C POP15P_<code>`.

    A table: pivoting every bureau's allocated rows is the costly step (seconds nationally),
    done once here rather than by each reader.
-#}
{{ config(materialized='table') }}

{%- set measures = {
    'population': ('population', 'P', ['POP']),
    'age_0_14': ('population', 'P', ['POP0014']),
    'age_15_29': ('population', 'P', ['POP1529']),
    'age_30_44': ('population', 'P', ['POP3044']),
    'age_45_59': ('population', 'P', ['POP4559']),
    'age_60_74': ('population', 'P', ['POP6074']),
    'age_75_plus': ('population', 'P', ['POP75P']),
    'foreigners': ('population', 'P', ['POP_ETR']),
    'population_15_plus': ('population', 'C', ['POP15P']),
    'non_schooled_15_plus': ('diplomes_formation', 'P', ['NSCOL15P']),
    'diploma_low': ('diplomes_formation', 'P', [
        'NSCOL15P_DIPLMIN', 'NSCOL15P_DIPL0', 'NSCOL15P_CEP', 'NSCOL15P_BEPC',
        'NSCOL15P_CAPBEP']),
    'diploma_bac': ('diplomes_formation', 'P', ['NSCOL15P_BAC']),
    'diploma_higher': ('diplomes_formation', 'P', [
        'NSCOL15P_SUP2', 'NSCOL15P_SUP34', 'NSCOL15P_SUP5', 'NSCOL15P_BACP2', 'NSCOL15P_SUP']),
    'households': ('couples_familles_menages', 'C', ['MEN']),
    'households_single_person': ('couples_familles_menages', 'C', ['MENPSEUL']),
    'households_couple_no_children': ('couples_familles_menages', 'C', ['MENCOUPSENF']),
    'households_couple_with_children': ('couples_familles_menages', 'C', ['MENCOUPAENF']),
    'households_single_parent': ('couples_familles_menages', 'C', ['MENFAMMONO']),
    'main_residences': ('logement', 'P', ['RP']),
    'main_residences_owned': ('logement', 'P', ['RP_PROP']),
    'main_residences_rented': ('logement', 'P', ['RP_LOC']),
    'main_residences_social_rented': ('logement', 'P', ['RP_LOCHLMV']),
} -%}
{#- Measures added later, after the PCS groups so the existing columns keep their order: the
    adult population (18 or more, the voting age) from the finer age bands of the population
    theme, and French nationals (all ages). -#}
{%- set late_measures = {
    'adults_18_plus': ('population', 'P', [
        'POP1824', 'POP2539', 'POP4054', 'POP5564', 'POP6579', 'POP80P']),
    'french_nationals': ('population', 'P', ['POP_FR']),
} -%}
{%- set pcs_groups = [
    'farmers', 'artisans_merchants', 'executives', 'intermediate', 'employees', 'workers',
    'retired', 'other_inactive',
] -%}
{%- set measure_names = measures.keys() | list -%}
{%- for group in pcs_groups %}{% do measure_names.append('pcs_' ~ group) %}{% endfor -%}
{%- for name in late_measures %}{% do measure_names.append(name) %}{% endfor -%}
{%- set listed_measures = (measures.items() | list) + (late_measures.items() | list) -%}

with

allocated as (

    select * from {{ ref('int_census__allocated_to_bureau') }}

),

crosswalk_rows as (

    select * from {{ ref('pcs_crosswalk') }}

),

crosswalk as (

    -- The latest version of each census code: a reclassification adds a row, never edits one.
    select distinct on (source_code)
        source_code,
        pcs_version,
        pcs_group
    from crosswalk_rows
    order by
        source_code,
        version desc

),

measure_indicators as (

    -- (theme, prefix, indicator) -> measure, for the measures above and the PCS groups
    select
        theme,
        prefix,
        indicator,
        measure,
        cast(null as text) as pcs_version
    from (
        values
        {%- for name, spec in listed_measures %}
        {%- set outer_last = loop.last %}
        {%- for indicator in spec[2] %}
        ('{{ spec[0] }}', '{{ spec[1] }}', '{{ indicator }}', '{{ name }}')
        {{- ',' if not (outer_last and loop.last) }}
        {%- endfor %}
        {%- endfor %}
    ) as listed (theme, prefix, indicator, measure)

    union all

    select
        'population' as theme,
        'C' as prefix,
        'POP15P_' || source_code as indicator,
        'pcs_' || pcs_group as measure,
        pcs_version
    from crosswalk

),

measured as (

    select
        allocated.bureau_id,
        measure_indicators.measure,
        measure_indicators.pcs_version,
        allocated.value,
        allocated.is_masked,
        allocated.masked_share
    from allocated
    inner join measure_indicators
        on
            allocated.theme = measure_indicators.theme
            and allocated.prefix = measure_indicators.prefix
            and allocated.indicator = measure_indicators.indicator

),

final as (

    select
        bureau_id,
        -- <measure>_known: every contribution was published (none masked) and the measure's
        -- theme was allocated at all; an unknown measure is NULL-worthy, never zero
        {%- for name in measure_names %}
        sum(value) filter (where measure = '{{ name }}') as {{ name }},
        coalesce(bool_and(not is_masked) filter (where measure = '{{ name }}'), false)
            as {{ name }}_known,
        {%- endfor %}
        min(pcs_version) as pcs_version,
        count(distinct pcs_version) as pcs_version_count,
        bool_or(is_masked) as has_masked_values,
        max(masked_share) as masked_share
    from measured
    group by bureau_id

)

select * from final
