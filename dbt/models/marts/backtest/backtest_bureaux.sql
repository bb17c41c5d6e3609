{#-
    Per bureau, quantity and predictor of every backtest run: predicted (from the references
    only) and actual (at the target). Every metric of mart.backtest_runs recomputes from these
    rows (docs/backtest.md says how). A view, for the reason given in backtest_runs.
-#}
{{ config(materialized='view') }}

with

bureaux as (

    select * from {{ source('scores', 'backtest_bureaux') }}

),

final as (

    select
        run_id,
        bureau_id,
        quantity,
        predictor,
        predicted,
        actual
    from bureaux

)

select * from final
