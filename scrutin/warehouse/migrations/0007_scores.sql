-- Migration 0007: Targeting scores (scrutin/scores/, docs/scores.md): what the Python step of the
-- gate writes between the two dbt builds. Not readable by the BI role: the published figures are
-- in mart.polling_station_targeting, which reads these.
create schema if not exists scores;

-- The latest ecological predictions, one row per bureau of the fit (replaced as a whole by each
-- fit, in one transaction): the bloc share a bureau's census profile predicts at the target
-- election. fit_run_id points to ops.ecological_fits.
create table if not exists scores.ecological_predictions (
    bureau_id       text primary key,
    predicted_share double precision not null,
    fit_run_id      text not null
);

-- Every fit of the ecological regression, kept: its parameters, its quality, its coefficients.
-- status 'fitted', or 'skipped' with the reason when the data cannot support a fit (too few
-- bureaux with a census profile, no results at the target election...): the gate then publishes
-- the scores without GAP rather than none at all.
create table if not exists ops.ecological_fits (
    run_id          text primary key,
    fitted_at       timestamptz not null default now(),
    params_version  text not null,
    bloc            text not null,
    target_election text not null,
    status          text not null check (status in ('fitted', 'skipped')),
    reason          text,
    n_bureaux       integer,
    n_excluded      integer,
    r2              double precision,
    rmse            double precision,
    ridge_lambda    double precision,
    intercept       double precision,
    coefficients    jsonb,
    notes           jsonb
);
