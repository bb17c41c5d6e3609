-- Migration 0015: raw suites run once per change of the data they read, not in every build
-- (issue 15; expectations/validations.py, docs/operations.md "Where each kind of check lives").
--
-- Every write to a raw table (a loader's COPY, a superseded batch deleted, a purge, a hand-made
-- UPDATE) appends one row to ops.raw_table_writes: a statement-level trigger, so a national COPY
-- costs one row, not one per line. A table's version is its number of committed writes: insert
-- only, so two loads of one table never wait for each other (an upserted counter row would
-- serialise them until commit), and a write that commits late still changes the count. A raw
-- suite's validation is recorded with the versions of the tables it read; the audit gate reruns
-- a suite only when one of them moved since, and never reuses a failed validation.

create table if not exists ops.raw_table_writes (
    table_name  text not null,               -- schema-qualified: raw.election_results_bureau
    written_at  timestamptz not null default now()
);
create index if not exists raw_table_writes_table on ops.raw_table_writes (table_name);

-- Security definer: whichever role writes raw data records the write, without a grant on ops.
create or replace function ops.record_raw_table_write() returns trigger
language plpgsql security definer set search_path = pg_catalog, ops as $$
begin
    insert into ops.raw_table_writes (table_name) values (tg_table_schema || '.' || tg_table_name);
    return null;
end
$$;

-- Track one raw table: a later migration that creates a raw table calls this for it. A table
-- without any row in ops.raw_table_writes is never trusted: its suites run in every build.
create or replace function ops.track_raw_table(target regclass) returns void
language plpgsql as $$
begin
    execute format('drop trigger if exists raw_table_write on %s', target);
    execute format(
        'create trigger raw_table_write after insert or update or delete or truncate on %s '
        'for each statement execute function ops.record_raw_table_write()',
        target
    );
    insert into ops.raw_table_writes (table_name)
    select n.nspname || '.' || c.relname
    from pg_class as c
    inner join pg_namespace as n on n.oid = c.relnamespace
    where c.oid = target;
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
