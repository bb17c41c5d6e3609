{#-
    The two IRIS figures the approximate median income of a bureau needs, one row per IRIS:
    its population (P_POP, the selected `population` vintage) and its median disposable income
    (Filosofi DISP_MED, the selected `filosofi` vintage). NULL when the figure is masked or the
    IRIS has no row of that theme (absent from Filosofi, say).

    Its own table so that int_census__median_income_by_bureau joins its weights to a relation
    whose size the planner knows. Computed inside that model, the vintage-filtered census rows
    were estimated at one row: the planner nested loops, rescanning the 1.4 million census
    values for each of 14,445 weights (more than 13 minutes at 10 % of national size, growing
    with weights x census values). Here the selected vintages are a hash join on (theme,
    vintage), one pass over the census values, and the project's post-hook (macros/analyze.sql) gives this small table its
    statistics for the bureau model's join. No ANALYZE of the raw census values here:
    int_census__allocated_to_bureau runs one inside its transaction, which holds its lock until
    that model commits (30 s at 10 %), and a second ANALYZE of the same table would wait for it.
    The only join here is with the handful of selected vintages, which no estimate makes costly.
-#}
{{ config(
    materialized='table',
) }}

with

iris_values as (

    select * from {{ ref('stg_census__iris_values') }}

),

selected_vintages as (

    select * from {{ ref('int_census__selected_vintages') }}

),

selected_values as (

    select
        iris_values.code_iris,
        iris_values.theme,
        iris_values.value
    from iris_values
    inner join selected_vintages
        on
            iris_values.theme = selected_vintages.theme
            and iris_values.vintage = selected_vintages.vintage
    where
        (
            iris_values.theme = 'population'
            and iris_values.prefix = 'P'
            and iris_values.indicator = 'POP'
        )
        or (
            iris_values.theme = 'filosofi'
            and iris_values.prefix = 'DISP'
            and iris_values.indicator = 'MED'
        )

),

final as (

    -- one value per IRIS, theme and vintage (the raw suite's key check): max() picks it
    select
        code_iris,
        max(value) filter (where theme = 'population') as population,
        max(value) filter (where theme = 'filosofi') as median_income
    from selected_values
    group by code_iris

)

select * from final
