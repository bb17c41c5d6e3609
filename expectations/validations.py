"""Raw suites run once per change of the data they read, not again in every build (issue 15).

The ingestion DAG of a source validates its raw tables right after a load; the audit gate then
used to run every raw suite again over every table (about 71 s of a national build, for checks
whose data had not moved). Migration 0015 gives each raw table a version that every write moves,
its number of committed write statements (a statement trigger, insert only: COPY, DELETE of a
superseded batch, purge, a hand-made UPDATE alike; parallel loads never wait on it), and
`ops.raw_validations` records, per suite run, the versions of the tables it read and whether it
passed.

`run_suites_once` then runs a suite only when it must:
- never validated, or one of its tables written since its last passed validation: run;
- its last validation of these very versions failed: run again (it refuses again, with fresh
  failed checks and Data Docs), never reused;
- a table without a version (created after migration 0015 without `ops.track_raw_table`):
  run, always.

`raw.batch_ledger` is left out of a suite's versions although the suites read it: every load of
any source writes it, and a batch's status changes only together with its rows (a load, a
superseded batch's rows deleted), which move the data table's own version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from expectations.registry import all_suites
from expectations.results import GateOutcome
from expectations.suites import BATCH_LEDGER_TABLE, SuiteSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReusedValidation:
    """A suite the gate did not rerun: the run that validated the same table versions."""

    suite: str
    run_id: str


@dataclass(frozen=True)
class ValidationOutcome:
    """What `run_suites_once` ran (`outcome`) and what it reused."""

    outcome: GateOutcome
    reused: tuple[ReusedValidation, ...]

    @property
    def success(self) -> bool:
        return self.outcome.success

    def summary(self) -> dict[str, object]:
        """For the gate report and the publication log: which suites ran, which were reused."""
        return {
            "ran": [o.suite for o in self.outcome.outcomes],
            "reused": {r.suite: r.run_id for r in self.reused},
        }


def inputs_of(suite: SuiteSpec) -> tuple[str, ...]:
    """The tables whose writes can change the suite's verdict (the ledger aside, see above)."""
    tables = dict.fromkeys((suite.table, *suite.requires))
    if suite.table != BATCH_LEDGER_TABLE:
        tables.pop(BATCH_LEDGER_TABLE, None)
    return tuple(tables)


def table_versions(url: str, tables: Sequence[str]) -> dict[str, int]:
    """Current version of each tracked table among `tables`: its number of committed writes
    (untracked ones are absent)."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select table_name, count(*) from ops.raw_table_writes where table_name = any(%s) "
            "group by table_name",
            (list(tables),),
        ).fetchall()
    return {name: version for name, version in rows}


def _last_validations(url: str, suites: Sequence[str]) -> dict[str, tuple[str, dict, bool]]:
    """suite -> (run_id, table_versions, success) of its latest validation."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select distinct on (suite) suite, run_id, table_versions, success "
            "from ops.raw_validations where suite = any(%s) "
            "order by suite, validated_at desc",
            (list(suites),),
        ).fetchall()
    return {suite: (run_id, versions, success) for suite, run_id, versions, success in rows}


def reusable(
    suite: SuiteSpec,
    versions: Mapping[str, int],
    last: tuple[str, Mapping[str, int], bool] | None,
) -> ReusedValidation | None:
    """The validation to reuse for `suite` at `versions`, or None when it must run."""
    inputs = inputs_of(suite)
    if last is None or any(table not in versions for table in inputs):
        return None
    run_id, validated, success = last
    if not success or any(validated.get(t) != versions[t] for t in inputs):
        return None
    # A suite whose checks changed since has not validated this data (a check added to the
    # suite must reach the rows already loaded).
    if validated.get(SUITE_DIGEST_KEY) != suite_digest(suite):
        return None
    return ReusedValidation(suite=suite.name, run_id=run_id)


# The key of ops.raw_validations.table_versions that holds the digest of the suite's definition
# (not a table name: table names are schema-qualified).
SUITE_DIGEST_KEY = "suite_sha256"


def suite_digest(suite: SuiteSpec) -> str:
    """sha256 of the suite's definition: its table, the tables its checks read and its checks."""
    return hashlib.sha256(repr((suite.table, suite.requires, suite.checks)).encode()).hexdigest()


def _record(
    url: str,
    run_id: str,
    specs: Sequence[SuiteSpec],
    versions: Mapping[str, int],
    outcome: GateOutcome,
) -> None:
    import psycopg

    passed = {o.suite: o.success for o in outcome.outcomes}
    with psycopg.connect(url) as conn:
        last_batch = conn.execute(f"select max(batch_id) from {BATCH_LEDGER_TABLE}").fetchone()
        conn.cursor().executemany(
            "insert into ops.raw_validations "
            "(suite, run_id, table_versions, last_batch_id, success) values (%s, %s, %s, %s, %s) "
            "on conflict (suite, run_id) do update set table_versions = excluded.table_versions, "
            "last_batch_id = excluded.last_batch_id, success = excluded.success, "
            "validated_at = now()",
            [
                (
                    spec.name,
                    run_id,
                    json.dumps(
                        {t: versions[t] for t in inputs_of(spec) if t in versions}
                        | {SUITE_DIGEST_KEY: suite_digest(spec)}
                    ),
                    last_batch[0] if last_batch else None,
                    passed[spec.name],
                )
                for spec in specs
            ],
        )


def _site_index() -> str | None:
    """The Data Docs index left by the runs whose validations are reused, when there is one."""
    from scrutin.config import data_docs_dir

    index = data_docs_dir() / "index.html"
    return str(index) if index.is_file() else None


def run_suites_once(url: str, suite_names: Sequence[str], run_id: str) -> ValidationOutcome:
    """Run the named suites whose tables moved since their last passed validation; record each
    run with the table versions read before it started (a write during the run moves them, so
    the next build runs the suite again)."""
    from expectations.checkpoint import run_specs

    suites = all_suites()
    specs = [suites[name] for name in dict.fromkeys(suite_names)]
    versions = table_versions(url, sorted({t for s in specs for t in inputs_of(s)}))
    last = _last_validations(url, [s.name for s in specs])
    reused: list[ReusedValidation] = []
    to_run: list[SuiteSpec] = []
    for spec in specs:
        found = reusable(spec, versions, last.get(spec.name))
        if found is None:
            to_run.append(spec)
        else:
            reused.append(found)
    if reused:
        log.info(
            "raw suites already validated on the same data, not rerun: %s",
            ", ".join(f"{r.suite} ({r.run_id})" for r in reused),
        )
    outcome = run_specs(url, to_run, run_id) if to_run else GateOutcome(run_id, (), _site_index())
    _record(url, run_id, to_run, versions, outcome)
    return ValidationOutcome(outcome=outcome, reused=tuple(reused))
