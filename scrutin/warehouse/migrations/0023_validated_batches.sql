-- Migration 0023: a raw suite validates the batches landed since its last validation, not the
-- whole table again (issue 15; expectations/validations.py, "New batches only").
--
-- The door knocks are a million rows nationally and only ever grow (a correction lands as a new
-- row; the purge and a superseded batch delete): their suite's column checks over every row cost
-- about 20 s of every delivery of 10,000 knocks. Each validation now records the batches whose
-- rows it covered, the distinct batch_ids of the table when it started; the next one, when the
-- table was only appended to or deleted from since (no UPDATE or TRUNCATE: migration 0022) and
-- its checks are the same, runs the checks on the other batches' rows, and the
-- checks that depend on every row (retention, rates, the ledger) on the whole table.
-- Validations recorded before this migration have none (null): the next run is a whole one.

alter table ops.raw_validations add column if not exists batch_ids bigint[];
