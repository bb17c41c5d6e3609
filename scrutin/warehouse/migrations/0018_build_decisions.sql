-- Migration 0018: incremental builds (issue 15; pipeline/build_plan.py, docs/operations.md "How a
-- build decides between a full refresh and an incremental one").
--
-- Every `scrutin build` (and every run of the build_audit_publish DAG) first decides whether it
-- rebuilds everything or only what depends on the canvass data, by comparing the inputs it is
-- about to read (the write counts of the tables dbt reads, the batch ledger per source, the dbt
-- project, the code, the campaign file, the applied migrations) with the inputs of the last
-- PUBLISHED build. One row per build: the decision, the reason in words, the inputs it saw.
-- The later stages of the same run read the row back (fit or not, which tables to carry over).

create table if not exists ops.build_decisions (
    run_id       text        primary key,
    decided_at   timestamptz not null default now(),
    mode         text        not null check (mode in ('full', 'incremental')),
    reason       text        not null,
    selection    text,                      -- the dbt selector of an incremental build
    changed      jsonb       not null default '[]'::jsonb,   -- input groups that moved
    inputs       jsonb       not null,      -- the fingerprint compared by the next build
    baseline_run text                       -- the published run it was compared with
);
create index if not exists build_decisions_time on ops.build_decisions (decided_at desc);

comment on table ops.build_decisions is
    'Why each build was full or incremental: its inputs against the last published build''s';

-- The tables dbt reads outside `raw` whose writes must move the fingerprint too: the backtest
-- tables (`scrutin backtest`) and the canvass campaigns (written by every canvass load). The
-- ecological predictions are not tracked: the build writes them itself (the fit).
select ops.track_raw_table(t::regclass)
from unnest(array['scores.backtest_runs', 'scores.backtest_bureaux', 'ops.canvass_campaigns']) as t
where to_regclass(t) is not null;
