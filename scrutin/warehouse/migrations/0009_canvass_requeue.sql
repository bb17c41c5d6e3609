-- Migration 0009: quarantined canvass rows can be replayed (`scrutin canvass requeue`).
--
-- A row quarantined because the app mapping of its day could not read it (a renamed column, an
-- unknown status) is replayed from its file once the mapping is fixed. The replay is a new batch
-- of the same file; the quarantine rows it covered point at it, so a second requeue finds
-- nothing left to replay and loads nothing twice. A row that still fails is quarantined again
-- under the replay's batch, with the reason of the day; the original row keeps its own reason.
-- The original batch's ledger counts are unchanged (its rows_rejected still equals its
-- quarantine rows), so every batch keeps reconciling.

alter table quarantine.canvass_rows
    add column replayed_batch_id bigint;

comment on column quarantine.canvass_rows.replayed_batch_id is
    'The batch that replayed this row (scrutin canvass requeue): it landed there, or was '
    'quarantined there again with the reason of the day. NULL: still waiting for a fix.';

create index canvass_rows_pending on quarantine.canvass_rows (batch_id)
where replayed_batch_id is null;
