{#-
    An approximate median disposable income per polling station. A median is not additive, so
    it cannot be allocated like a count: the bureau gets the average of its IRIS medians
    (Filosofi DISP_MED, per consumption unit) weighted by the population each IRIS sends it,
    w(IRIS -> bureau) x IRIS population; with address weights that is the address-weighted
    average. It is not the median of the bureau's households (which Filosofi does not publish)
    and it is only as good as the IRIS are homogeneous.

    NULL ("masked") when any IRIS sending the bureau population has no published median:
    masked by INSEE (statistical secrecy), absent from Filosofi (small communes), or its
    population is unknown. Averaging the published IRIS only would report a figure for a
    population it does not describe.

    A table (the mart and several tests read it). The IRIS figures come from the table
    int_census__iris_income, whose size the planner knows: computed here from the census values
    filtered on the selected vintages, they were estimated at one row and the planner nested
    loops over the weights (more than 13 minutes at 10 % of national size). No ANALYZE of the
    raw weights here: int_census__allocated_to_bureau runs one inside its transaction, and a
    second would wait for that model to commit; the weights view is the probe side of the join.
-#}
{{ config(materialized='table') }}

with

iris_income as (

    select * from {{ ref('int_census__iris_income') }}

),

selected_vintages as (

    select * from {{ ref('int_census__selected_vintages') }}

),

weights as (

    select * from {{ ref('stg_geography__iris_bureau_weights') }}

),

income_vintage as (

    select vintage as income_vintage
    from selected_vintages
    where theme = 'filosofi'

),

contributions as (

    select
        weights.bureau_id,
        weights.code_iris,
        weights.weight * iris_income.population as population_mass,
        iris_income.median_income
    from weights
    left join iris_income
        on weights.code_iris = iris_income.code_iris

),

per_bureau as (

    select
        bureau_id,
        sum(population_mass * median_income) filter (where population_mass > 0)
            / nullif(sum(population_mass) filter (where population_mass > 0), 0)
            as weighted_median_income,
        -- an IRIS that sends people but has no median (or whose population is unknown)
        coalesce(
            bool_or(
                population_mass is null or (population_mass > 0 and median_income is null)
            ),
            false
        ) as has_unpublished_median,
        cast(count(*) filter (where population_mass > 0) as integer) as populated_iris_count,
        cast(
            count(*) filter (where population_mass > 0 and median_income is null) as integer
        ) as unpublished_median_iris_count
    from contributions
    group by bureau_id

),

final as (

    select
        per_bureau.bureau_id,
        income_vintage.income_vintage,
        case
            when not per_bureau.has_unpublished_median
                then per_bureau.weighted_median_income
        end as median_income_approx,
        per_bureau.populated_iris_count,
        per_bureau.unpublished_median_iris_count
    from per_bureau
    cross join income_vintage

)

select * from final
