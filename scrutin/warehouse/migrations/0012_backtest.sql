-- Migration 0012: backtest runs (issue 11, docs/backtest.md). `scrutin backtest` writes one row
-- per run here and one row per bureau x quantity x predictor; the published views
-- mart.backtest_runs and mart.backtest_bureaux (dbt, marts/backtest/) read them, so every metric
-- of a run can be recomputed from the published rows. Kept in `scores`, not `mart`: the
-- publication swaps `mart` as a whole, a table written there between two builds would be lost.
create table if not exists scores.backtest_runs (
    run_id          text primary key,
    run_at          timestamptz not null default now(),
    params_version  text not null,
    reference_ids   text[] not null,
    target_id       text not null,
    bloc            text not null,
    rival_rule      text not null,
    high_id         text not null,
    low_id          text not null,
    prior_profile   text not null,
    tau             double precision not null,
    pi              double precision not null,
    top_k           integer not null,
    n_bureaux       integer not null,
    -- [{quantity, predictor, n, mae, r2, spearman, top_k_overlap}, ...] as printed by --format json
    metrics         jsonb not null
);

create table if not exists scores.backtest_bureaux (
    run_id     text not null references scores.backtest_runs (run_id) on delete cascade,
    bureau_id  text not null,
    quantity   text not null,
    predictor  text not null,
    predicted  double precision,
    actual     double precision,
    primary key (run_id, bureau_id, quantity, predictor)
);

comment on table scores.backtest_runs is
    'One row per scrutin backtest run: references, target, parameters (params_version) and metrics';
comment on table scores.backtest_bureaux is
    'Per bureau, quantity and predictor of a backtest run: predicted from the references, actual at the target';
