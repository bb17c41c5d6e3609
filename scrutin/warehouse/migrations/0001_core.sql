-- Migration 0001: the core of the warehouse layout (schemas, ledger, quarantine, ops tables).
-- Applied once, by `scrutin setup` (scrutin.warehouse.migrate); never edited once released:
-- a change to the layout is a new migration file. Folder = schema = access policy: only `mart`
-- is readable by the BI role.
--
-- Migrations 0001-0007 are the baseline, the layout as it stood before migrations were
-- versioned. They keep `if not exists` so that a warehouse built by the former
-- on-every-load DDL adopts them as applied; later migrations need not.

create schema if not exists raw;
create schema if not exists quarantine;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists mart;
create schema if not exists ops;

-- One row per ingestion batch (one file). Never deleted: it is the audit trail of every load.
create table if not exists raw.batch_ledger (
    batch_id       bigserial primary key,
    source         text        not null,
    file_name      text        not null,
    file_sha256    text        not null,
    dataset_key    text,                      -- e.g. the election id a results file belongs to
    status         text        not null check (status in ('running', 'loaded', 'failed', 'skipped', 'superseded')),
    rows_read      integer     not null default 0,
    rows_loaded    integer     not null default 0,
    rows_rejected  integer     not null default 0,
    error          text,
    started_at     timestamptz not null default now(),
    finished_at    timestamptz,
    duration_s     double precision,
    -- Canvass ledger rows reconcile: rows_read = rows_loaded + rows_rejected + rows_duplicate.
    rows_duplicate integer     not null default 0
);
create index if not exists batch_ledger_source_sha on raw.batch_ledger (source, file_sha256);

-- Rows refused by a loader that quarantines instead of refusing the whole file.
create table if not exists quarantine.rejected_rows (
    batch_id     bigint  not null references raw.batch_ledger (batch_id),
    source       text    not null,
    file_name    text    not null,
    line_no      integer,
    column_name  text,
    reason       text    not null,
    quarantined_at timestamptz not null default now()
);

-- Every gate run (dbt build + expectations) and what it decided.
create table if not exists ops.gate_runs (
    run_id        text primary key,
    started_at    timestamptz not null default now(),
    finished_at   timestamptz,
    status        text not null check (status in ('running', 'passed', 'refused', 'error')),
    failed_checks jsonb not null default '[]'::jsonb
);

-- Every dbt node result of every gate run.
create table if not exists ops.dbt_results (
    run_id          text not null,
    unique_id       text not null,
    resource_type   text not null,
    status          text not null,
    execution_time  double precision,
    failures        integer,
    message         text,
    recorded_at     timestamptz not null default now()
);
create index if not exists dbt_results_run on ops.dbt_results (run_id);

-- Every expectation evaluated, with its severity: `fail` blocks, `warn` only records.
create table if not exists ops.quality_results (
    run_id        text not null,
    suite         text not null,
    target        text not null,
    expectation   text not null,
    column_name   text,
    severity      text not null check (severity in ('fail', 'warn')),
    success       boolean not null,
    observed      jsonb,
    checked_at    timestamptz not null default now()
);
create index if not exists quality_results_run on ops.quality_results (run_id);

-- Every publication and rollback of the `mart` schema.
create table if not exists ops.publication_log (
    publication_id bigserial primary key,
    run_id         text not null,
    action         text not null check (action in ('publish', 'rollback')),
    published_at   timestamptz not null default now(),
    row_counts     jsonb not null,
    check_summary  jsonb not null
);
