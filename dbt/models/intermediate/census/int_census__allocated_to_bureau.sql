{#-
    Census counts allocated from IRIS to polling stations:
        value(b, k) = sum over IRIS i of value(i, k) * w(i -> b)
    for every additive indicator k (base-ic counts, prefixes P and C) that a published measure
    reads: the indicators of the macro census_measures() and the `C POP15P_<code>` counts of
    the seed pcs_crosswalk (about 40 of the ~300 base-ic indicators; allocating all of them
    made 19.6 M rows and took 115 s nationally). Filosofi figures (medians, deciles, rates) are
    not additive and are not allocated here (see int_census__median_income_by_bureau).

    Masked cells are never imputed: value sums the unmasked contributions only, and the masked
    ones are counted (masked_weight, masked_iris_count) so every consumer knows the sum is
    incomplete. Because the weights of an IRIS sum to 1, the bureaux of a commune add up to
    the commune's unmasked IRIS total and their masked_weight to its count of masked cells
    (test assert_census_allocation_preserves_commune_totals).

    A table: the mart pivots it and a test re-aggregates it, and it is the biggest relation of
    the census path (bureaux x indicators). Two pre-hooks keep its plan sane: ANALYZE of the
    two raw inputs (a freshly COPYed table has no statistics until autovacuum gets to it; the
    planner then estimates one row and nests loops over millions: 52 s instead of 1.4 s on the
    bundled sample, and quadratic nationally), and a larger work_mem for this statement only
    (var census_allocation_work_mem) so the aggregation hashes in memory. The planner
    estimates a few hundred groups (the joins to the selected vintages and to the measured
    indicators hide the true size, 2.7 M nationally) and sorted 6.6 M rows to group them:
    enable_sort off for this statement makes it hash them (14 s instead of 20 s nationally).
-#}
{{ config(
    materialized='table',
    indexes=[{'columns': ['bureau_id']}],
    pre_hook=[
        "analyze {{ source('census', 'census_iris_values') }}",
        "analyze {{ source('geography', 'iris_bureau_weights') }}",
        "set local work_mem = '{{ var('census_allocation_work_mem', '256MB') }}'",
        "set local enable_sort = off",
    ],
) }}

with

iris_values as (

    select * from {{ ref('stg_census__iris_values') }}

),

selected_vintages as (

    select * from {{ ref('int_census__selected_vintages') }}

),

weights as (

    select * from {{ ref('stg_geography__iris_bureau_weights') }}

),

measured_indicators as (

    -- the indicators int_census__bureau_counts reads (macro census_measures)
    {{ census_measured_indicators() | indent(4) }}

),

additive_values as (

    select
        iris_values.vintage,
        iris_values.theme,
        iris_values.code_iris,
        iris_values.prefix,
        iris_values.indicator,
        iris_values.value,
        iris_values.masked
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

),

contributions as (

    select
        weights.bureau_id,
        additive_values.vintage,
        additive_values.theme,
        additive_values.prefix,
        additive_values.indicator,
        additive_values.code_iris,
        weights.weight,
        additive_values.value,
        additive_values.masked
    from additive_values
    inner join weights
        on additive_values.code_iris = weights.code_iris

),

allocated as (

    select
        bureau_id,
        vintage,
        theme,
        prefix,
        indicator,
        sum(weight * value) filter (where not masked) as value,
        coalesce(sum(weight) filter (where masked), 0) as masked_weight,
        sum(weight) as weight_sum,
        cast(count(*) as integer) as iris_count,
        cast(count(*) filter (where masked) as integer) as masked_iris_count
    from contributions
    group by
        bureau_id,
        vintage,
        theme,
        prefix,
        indicator

),

final as (

    select
        bureau_id,
        -- bureau_id is `<results commune code>_<code_bv>`
        split_part(bureau_id, '_', 1) as code_commune,
        vintage,
        theme,
        prefix,
        indicator,
        value,
        masked_iris_count > 0 as is_masked,
        masked_weight,
        weight_sum,
        -- least(): a partial sum may exceed the total by one rounding unit
        least(masked_weight / nullif(weight_sum, 0), 1) as masked_share,
        iris_count,
        masked_iris_count
    from allocated

)

select * from final
