{#-
    The allocated census counts the demographics mart needs, one row per bureau, wide: for
    each measure its allocated value and whether it is known in full (`<measure>_known`: no
    masked IRIS value in the sum, and the theme was loaded at all). The mart publishes no
    share computed from a measure that is not known.

    The measures are the macro census_measures() (dbt/macros/census_measures.sql): a measure
    sums one or more census indicators of one theme and prefix. The socio-professional groups
    come from the seed pcs_crosswalk (PCS 2003 `CS1..CS8` up to census 2021, PCS 2020
    `STAT_GSEC..` from 2022), applied to `C POP15P_<code>`.

    A table: pivoting every bureau's allocated rows is the costly step (seconds nationally),
    done once here rather than by each reader.
-#}
{{ config(materialized='table') }}

{%- set spec = census_measures() -%}
{%- set measures = spec['measures'] -%}
{%- set late_measures = spec['late_measures'] -%}
{%- set pcs_groups = spec['pcs_groups'] -%}
{%- set measure_names = measures.keys() | list -%}
{%- for group in pcs_groups %}{% do measure_names.append('pcs_' ~ group) %}{% endfor -%}
{%- for name in late_measures %}{% do measure_names.append(name) %}{% endfor -%}

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
        {{ census_measure_indicator_rows() | indent(8) }}
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
