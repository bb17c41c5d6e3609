-- Migration 0016: a killed load leaves a record, and a purged quarantine says so (issue 14; scrutin/warehouse/ledger.py,
-- docs/operations.md "Killed loads").
--
-- Before, a load's ledger row was written inside the load transaction: a load killed mid-way
-- (`kill -9`, out of memory, the machine stopped) rolled it back with the data and left no trace
-- of the attempt. Now every load first commits a `loading` row on its own, and holds the session
-- advisory lock (29020, batch_id) while it runs; the load transaction turns that row into
-- `loaded`, `skipped` or `failed`. A `loading` row whose lock nobody holds belongs to a dead
-- process: the next load, or `scrutin status`, marks it `abandoned`.

alter table raw.batch_ledger drop constraint if exists batch_ledger_status_check;
alter table raw.batch_ledger add constraint batch_ledger_status_check
    check (status in ('loading', 'running', 'loaded', 'failed', 'skipped', 'superseded', 'abandoned'));

-- When the retention purge deleted a canvass batch's quarantine rows (ingestion/canvass/purge.py):
-- the batch's rows_rejected no longer has rows to reconcile with, and the check
-- "canvass batches reconcile" (expectations/suites_canvass.py) skips that comparison.
alter table raw.batch_ledger add column if not exists quarantine_purged_at timestamptz;
