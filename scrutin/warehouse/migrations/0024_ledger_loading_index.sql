-- Migration 0024: find the ledger's `loading` rows without reading the whole ledger (issue 15).
--
-- Every load starts by marking `abandoned` the `loading` rows whose process is gone
-- (scrutin.warehouse.ledger.mark_abandoned). A national roll is ~35,000 commune files, each a
-- load with its ledger rows, so that scan read a ledger growing by one row per file, once per
-- file: quadratic over the load. At any time only the loads in progress are `loading`: a partial
-- index holds just them.

create index if not exists batch_ledger_loading
    on raw.batch_ledger (batch_id)
    where status = 'loading';
