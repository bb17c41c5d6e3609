-- Allocated totals equal the source totals: for every commune that received an allocation,
-- every allocated indicator and the selected vintage, the bureaux' allocated values add up to
-- the sum of the commune's unmasked IRIS values, and their masked weight to its number of
-- masked IRIS values (each IRIS shares out a weight of exactly 1). Census IRIS of Paris, Lyon
-- and Marseille carry arrondissement codes: they are compared under the results' whole-city
-- code. Tolerance 1e-6, relative to the total (absolute below 1).
-- Fails with one row per (commune, theme, prefix, indicator) that differs: an IRIS without
-- weights, weights not summing to 1, or an IRIS allocated to another commune's bureau.

with

iris_values as (

    select * from {{ ref('stg_census__iris_values') }}

),

selected_vintages as (

    select * from {{ ref('int_census__selected_vintages') }}

),

arrondissements as (

    select * from {{ ref('stg_geography__plm_arrondissements') }}

),

allocated as (

    select * from {{ ref('int_census__allocated_to_bureau') }}

),

measured_indicators as (

    -- what the model allocates (a published measure reads it); other indicators are not
    {{ census_measured_indicators() | indent(4) }}

),

iris_totals as (

    select
        coalesce(arrondissements.code_commune_results, iris_values.code_commune) as code_commune,
        iris_values.theme,
        iris_values.prefix,
        iris_values.indicator,
        coalesce(sum(iris_values.value) filter (where not iris_values.masked), 0) as iris_total,
        count(*) filter (where iris_values.masked) as iris_masked_count
    from iris_values
    inner join selected_vintages
        on
            iris_values.theme = selected_vintages.theme
            and iris_values.vintage = selected_vintages.vintage
    inner join measured_indicators
        on
            iris_values.theme = measured_indicators.theme
            and iris_values.prefix = measured_indicators.prefix
            and iris_values.indicator = measured_indicators.indicator
    left join arrondissements
        on iris_values.code_commune = arrondissements.code_commune
    group by
        coalesce(arrondissements.code_commune_results, iris_values.code_commune),
        iris_values.theme,
        iris_values.prefix,
        iris_values.indicator

),

allocated_totals as (

    select
        code_commune,
        theme,
        prefix,
        indicator,
        coalesce(sum(value), 0) as allocated_total,
        sum(masked_weight) as allocated_masked_weight
    from allocated
    group by
        code_commune,
        theme,
        prefix,
        indicator

),

allocated_communes as (

    select distinct code_commune
    from allocated

),

compared as (

    select
        coalesce(iris_totals.code_commune, allocated_totals.code_commune) as code_commune,
        coalesce(iris_totals.theme, allocated_totals.theme) as theme,
        coalesce(iris_totals.prefix, allocated_totals.prefix) as prefix,
        coalesce(iris_totals.indicator, allocated_totals.indicator) as indicator,
        coalesce(iris_totals.iris_total, 0) as iris_total,
        coalesce(allocated_totals.allocated_total, 0) as allocated_total,
        coalesce(iris_totals.iris_masked_count, 0) as iris_masked_count,
        coalesce(allocated_totals.allocated_masked_weight, 0) as allocated_masked_weight
    from iris_totals
    full outer join allocated_totals
        on
            iris_totals.code_commune = allocated_totals.code_commune
            and iris_totals.theme = allocated_totals.theme
            and iris_totals.prefix = allocated_totals.prefix
            and iris_totals.indicator = allocated_totals.indicator

)

select compared.*
from compared
inner join allocated_communes
    on compared.code_commune = allocated_communes.code_commune
where
    abs(compared.allocated_total - compared.iris_total)
    > 1e-6 * greatest(1, abs(compared.iris_total))
    or abs(compared.allocated_masked_weight - compared.iris_masked_count) > 1e-6
