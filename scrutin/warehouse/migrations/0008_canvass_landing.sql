-- Migration 0008: the canvass rules move to dbt; raw.canvass_knocks becomes a landing table.
--
-- Until now the loader decided at load time which bureau a knock belongs to (the nearest REU
-- address), which version of a knock counts (an upsert on (source, knock_id)), and every
-- integrity flag, keeping running contact-rate totals for that. Those rules are dbt's now
-- (dbt/models/intermediate/canvass/, docs/canvass.md): the loader lands each valid export row as
-- the app gave it, pseudonymised, and nothing more.
--
-- raw.canvass_knocks after this migration: one row per landed export row, unique on
-- (batch_id, line_no), append-only (the same knock exported again lands again: dbt counts its
-- newest version). `bureau_id` is the app's bureau, NULL when the app gave none. The door's
-- coordinates and, when the app gave no bureau, the unkeyed address hash the REU addresses carry
-- (`address_key`) land for dbt's bureau matching and fast-knock check: they stay in raw (staging
-- is views over it, no dbt table copies them) and are purged with the knocks (docs/privacy.md).
-- `integrity_flags` holds only the two flags the loader decides from the row and the load
-- (future_timestamp, outside_campaign_window). Landed rows never change: `updated_at` goes.
--
-- Rows landed before this migration were one version per knock with a known bureau; they stay
-- valid landed rows: their lines are unknown (any order within a batch will do), a row last
-- replaced at updated_at counts as landed then (the purge's "aggregated" rule reads loaded_at
-- only), and the rules' flags are dropped (dbt recomputes them).

alter table raw.canvass_knocks
    add column line_no integer,
    add column longitude double precision,
    add column latitude double precision,
    add column address_key text,
    alter column bureau_id drop not null,
    drop constraint canvass_knocks_source_knock_id;

update raw.canvass_knocks as k
set line_no = numbered.line_no
from (
    select
        ctid,
        row_number() over (partition by batch_id order by source, knock_id) as line_no
    from raw.canvass_knocks
) as numbered
where numbered.ctid = k.ctid;

update raw.canvass_knocks
set
    loaded_at = greatest(loaded_at, updated_at),
    integrity_flags = array(
        select flag
        from unnest(integrity_flags) as flag
        where flag in ('future_timestamp', 'outside_campaign_window')
    );

-- cascade: dbt's staging view reads updated_at; the next build recreates it.
alter table raw.canvass_knocks
    alter column line_no set not null,
    drop column updated_at cascade,
    add constraint canvass_knocks_batch_line unique (batch_id, line_no);

-- They served the loader's flag rewrites; dbt reads the whole table.
drop index raw.canvass_knocks_canvasser;
drop index raw.canvass_knocks_building;

-- The contact-rate running totals: dbt recounts at every build
-- (intermediate.int_canvass__canvasser_contact_rates).
drop table raw.canvass_canvasser_totals;
