-- Migration 0014: one build at a time, and run records that never stay `running` when the run is
-- dead (issue 14; pipeline/build_lock.py, docs/operations.md "One build at a time").
--
-- A build (`scrutin build`, or the DAG build_audit_publish whose stages are separate Airflow
-- tasks) owns the single row of ops.build_lock from its first stage to its publication or
-- refusal. While a stage runs, its process also holds a PostgreSQL session advisory lock: if the
-- process dies, the server frees the lock with the connection, so "a stage is alive" is a fact
-- the server knows. Between stages, `stage_ended_at` says how long the owner has been idle; an
-- owner idle beyond the configured window is abandoned, and the next build takes over.

create table if not exists ops.build_lock (
    id              smallint primary key default 1 check (id = 1),
    run_id          text,                -- the owning gate run, null when free
    stage           text,                -- its last or current stage
    acquired_at     timestamptz,         -- when the run took the build
    stage_ended_at  timestamptz          -- null while a stage runs
);
insert into ops.build_lock (id) values (1) on conflict (id) do nothing;

alter table ops.gate_runs drop constraint if exists gate_runs_status_check;
alter table ops.gate_runs add constraint gate_runs_status_check
    check (status in ('running', 'passed', 'refused', 'error', 'abandoned'));
alter table ops.gate_runs add column if not exists stage text;
alter table ops.gate_runs add column if not exists stage_started_at timestamptz;
