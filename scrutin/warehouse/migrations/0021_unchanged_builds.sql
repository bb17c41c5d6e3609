-- Migration 0021: a build whose inputs have not moved since the last publication rebuilds and
-- publishes nothing (issue 15; pipeline/build_plan.py, docs/operations.md "How a build decides").
--
-- At national size a scheduled build with nothing new rebuilt the canvass and score marts and
-- republished identical tables: 137 s of both cores each time. The build now records the mode
-- `unchanged` (ops.build_decisions) and ends its gate run with the status `unchanged`
-- (ops.gate_runs): `mart` stays the publication those inputs produced, and no publication is
-- logged.

alter table ops.build_decisions drop constraint if exists build_decisions_mode_check;
alter table ops.build_decisions add constraint build_decisions_mode_check
    check (mode in ('full', 'incremental', 'unchanged'));

alter table ops.gate_runs drop constraint if exists gate_runs_status_check;
alter table ops.gate_runs add constraint gate_runs_status_check
    check (status in ('running', 'passed', 'refused', 'error', 'abandoned', 'unchanged'));
