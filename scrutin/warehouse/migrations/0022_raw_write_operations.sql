-- Migration 0022: every raw write records its operation (issue 15; pipeline/build_plan.py).
--
-- The canvass intermediate tables that match landed rows to bureaux and rank their versions
-- (int_canvass__bureau_matches, int_canvass__knock_versions) are incremental in the gate's
-- incremental builds: only the rows landed since, and the knocks they touch, are computed again.
-- That holds while landed rows are only ever added (a load) or deleted (a purge, a superseded
-- batch); a row changed in place (a hand-made UPDATE, a TRUNCATE) would keep a stale match. The
-- build plan therefore fingerprints the UPDATE and TRUNCATE writes of raw.canvass_knocks apart
-- (`rewrites:raw.canvass_knocks`): one forces a full refresh, which recomputes them. Rows
-- written before this migration have no operation (null): they count as none.

alter table ops.raw_table_writes add column if not exists operation text;

create or replace function ops.record_raw_table_write() returns trigger
language plpgsql security definer set search_path = pg_catalog, ops as $$
begin
    insert into ops.raw_table_writes (table_name, operation)
    values (tg_table_schema || '.' || tg_table_name, tg_op);
    return null;
end
$$;
