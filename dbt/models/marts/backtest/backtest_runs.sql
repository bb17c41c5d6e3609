{#-
    Every `scrutin backtest` run (docs/backtest.md): the reference elections, the target, the
    score parameters (params_version) and the metrics. A view over scores.backtest_runs, not a
    table: runs are written between two builds, and the publication swaps `mart` as a whole
    (a view keeps pointing at the live table; the BI role reads it through the view).
-#}
{{ config(materialized='view') }}

with

runs as (

    select * from {{ source('scores', 'backtest_runs') }}

),

final as (

    select
        run_id,
        run_at,
        params_version,
        reference_ids,
        target_id,
        bloc,
        rival_rule,
        high_id,
        low_id,
        prior_profile,
        tau,
        pi,
        top_k,
        n_bureaux,
        metrics
    from runs

)

select * from final
