-- Migration 0015: raw suites run once per change of the data they read, not in every build
-- (issue 15; expectations/validations.py, docs/quality.md).
--
-- Every write to a raw table (a loader's COPY, a superseded batch deleted, a purge, a hand-made
-- UPDATE) moves that table's version forward: a statement-level trigger, one row per statement
-- (a national COPY costs one row, not one per line). A raw suite's validation is recorded with
-- the versions of the tables it read; the audit gate reruns a suite only when one of those
-- tables moved since its last validation, and a failed validation is never reused.

create sequence if not exists ops.raw_table_version_seq;

create table if not exists ops.raw_table_versions (
    table_name  text primary key,            -- schema-qualified: raw.election_results_bureau
    version     bigint not null,             -- from ops.raw_table_version_seq; moves on each write
    changed_at  timestamptz not null default now()
);

-- Security definer: whichever role writes raw data moves the version, without a grant on ops.
create or replace function ops.bump_raw_table_version() returns trigger
language plpgsql security definer set search_path = pg_catalog, ops as $$
begin
    insert into ops.raw_table_versions (table_name, version, changed_at)
    values (tg_table_schema || '.' || tg_table_name, nextval('ops.raw_table_version_seq'), now())
    on conflict (table_name) do update
        set version = excluded.version, changed_at = excluded.changed_at;
    return null;
end
$$;

-- Track one raw table: a later migration that creates a raw table calls this for it. A table
-- without a version row is never trusted: its suites run in every build.
create or replace function ops.track_raw_table(target regclass) returns void
language plpgsql as $$
begin
    execute format('drop trigger if exists raw_table_version on %s', target);
    execute format(
        'create trigger raw_table_version after insert or update or delete or truncate on %s '
        'for each statement execute function ops.bump_raw_table_version()',
        target
    );
    insert into ops.raw_table_versions (table_name, version)
    select n.nspname || '.' || c.relname, nextval('ops.raw_table_version_seq')
    from pg_class as c
    inner join pg_namespace as n on n.oid = c.relnamespace
    where c.oid = target
    on conflict (table_name) do nothing;
end
$$;

-- Every raw table that exists now.
select ops.track_raw_table(c.oid::regclass)
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
where n.nspname = 'raw' and c.relkind in ('r', 'p')
order by c.relname;

-- One row per validation of a raw suite: the versions of the tables it read when it started,
-- the last batch of the ledger then (every batch up to it was covered), and its outcome.
create table if not exists ops.raw_validations (
    suite           text not null,
    run_id          text not null,
    table_versions  jsonb not null,          -- {"raw.election_results_bureau": 42, ...}
    last_batch_id   bigint,
    success         boolean not null,
    validated_at    timestamptz not null default now(),
    primary key (suite, run_id)
);
create index if not exists raw_validations_suite_time on ops.raw_validations (suite, validated_at desc);
