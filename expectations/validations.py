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

**New batches only** (a suite with a `delta_column`: the door knocks, a million rows nationally,
about 20 s of Great Expectations for every delivery of 10,000). Each validation records the
batches whose rows it covered (`batch_ids`, migration 0023: the distinct values of the column
present when it started, read through the column's index). When the suite's last validation
passed with the same checks and the table was only appended to or deleted from since (its
`rewrites:` count, UPDATE and TRUNCATE writes, unchanged: migration 0022), the suite runs on
the rows of the batches present and not covered, and its `whole_table` checks (retention, rates,
the ledger) on every row; they alone read the suite's other tables (the campaigns, which every
delivery upserts; SuiteSpec enforces it). Anything else runs the suite whole. A batch
is committed in one transaction, so a batch present when the run starts is there whole; one
that commits later is not covered, and the next run validates it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from expectations.registry import all_suites
from expectations.results import GateOutcome
from expectations.suites import BATCH_LEDGER_TABLE, SuiteSpec
from scrutin.warehouse.raw_writes import REWRITES_PREFIX, rewrite_counts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReusedValidation:
    """A suite the gate did not rerun: the run that validated the same table versions."""

    suite: str
    run_id: str


@dataclass(frozen=True)
class ValidationOutcome:
    """What `run_suites_once` ran (`outcome`), what it reused, and which suites it ran on new
    batches only (`new_batches`: suite -> how many batches)."""

    outcome: GateOutcome
    reused: tuple[ReusedValidation, ...]
    new_batches: Mapping[str, int] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.outcome.success

    def summary(self) -> dict[str, object]:
        """For the gate report and the publication log: which suites ran, which were reused."""
        return {
            "ran": [o.suite for o in self.outcome.outcomes],
            "reused": {r.suite: r.run_id for r in self.reused},
            "new_batches_only": dict(self.new_batches),
        }


def inputs_of(suite: SuiteSpec) -> tuple[str, ...]:
    """The tables whose writes can change the suite's verdict (the ledger aside, see above)."""
    tables = dict.fromkeys((suite.table, *suite.requires))
    if suite.table != BATCH_LEDGER_TABLE:
        tables.pop(BATCH_LEDGER_TABLE, None)
    return tuple(tables)


def table_versions(url: str, tables: Sequence[str], grown: Sequence[str] = ()) -> dict[str, int]:
    """Current version of each tracked table among `tables`: its number of committed writes
    (untracked ones are absent); for each of `grown`, its count of rewrites too
    (`rewrites:<table>`, see `scrutin.warehouse.raw_writes`)."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select table_name, count(*) from ops.raw_table_writes where table_name = any(%s) "
            "group by table_name",
            (list(tables),),
        ).fetchall()
        rewrites = rewrite_counts(conn, grown)
    return {name: version for name, version in rows} | rewrites


@dataclass(frozen=True)
class LastValidation:
    """A suite's latest validation: its run, the versions it read, its outcome, and the batches
    it covered (None: recorded before migration 0023, or a suite without a delta_column)."""

    run_id: str
    versions: Mapping[str, object]
    success: bool
    batch_ids: tuple[int, ...] | None = None


def _last_validations(url: str, suites: Sequence[str]) -> dict[str, LastValidation]:
    """suite -> its latest validation."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select distinct on (suite) suite, run_id, table_versions, success, batch_ids "
            "from ops.raw_validations where suite = any(%s) "
            "order by suite, validated_at desc",
            (list(suites),),
        ).fetchall()
    return {
        suite: LastValidation(
            run_id, versions, success, None if batch_ids is None else tuple(batch_ids)
        )
        for suite, run_id, versions, success, batch_ids in rows
    }


def reusable(
    suite: SuiteSpec, versions: Mapping[str, int], last: LastValidation | None
) -> ReusedValidation | None:
    """The validation to reuse for `suite` at `versions`, or None when it must run."""
    inputs = inputs_of(suite)
    if not _same_checks_passed(suite, versions, last, inputs):
        return None
    assert last is not None
    if any(last.versions.get(t) != versions[t] for t in inputs):
        return None
    return ReusedValidation(suite=suite.name, run_id=last.run_id)


def _same_checks_passed(
    suite: SuiteSpec,
    versions: Mapping[str, int],
    last: LastValidation | None,
    inputs: Sequence[str],
) -> bool:
    """The last validation passed, with the checks of today (a check added to the suite must
    reach the rows already loaded), and every input is tracked."""
    if last is None or any(table not in versions for table in inputs):
        return False
    return last.success and last.versions.get(SUITE_DIGEST_KEY) == suite_digest(suite)


def batches_to_validate(
    suite: SuiteSpec,
    versions: Mapping[str, int],
    last: LastValidation | None,
    present: Sequence[int],
) -> tuple[int, ...] | None:
    """The batches whose rows alone `suite` must validate (its `whole_table` checks aside), or
    None when it must validate the whole table (see the module docstring)."""
    if suite.delta_column is None:
        return None
    inputs = inputs_of(suite)
    if not _same_checks_passed(suite, versions, last, inputs) or last is None:
        return None
    if last.batch_ids is None:
        return None
    rewrites = f"{REWRITES_PREFIX}{suite.table}"
    if rewrites not in versions or last.versions.get(rewrites) != versions[rewrites]:
        return None  # a row changed in place: it may break a check its batch passed
    covered = set(last.batch_ids)
    return tuple(b for b in present if b not in covered)


def present_batches(url: str, suite: SuiteSpec) -> tuple[int, ...]:
    """The distinct values of the suite's `delta_column` in its table, by a skip scan of the
    index the column leads (one index probe per batch, not a scan of the rows)."""
    import psycopg

    column = suite.delta_column
    if column is None:
        raise ValueError(f"suite {suite.name} has no delta_column")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"""
            with recursive batches as (
                (select {column} as batch from {suite.table} order by {column} limit 1)
                union all
                select (
                    select t.{column} from {suite.table} as t
                    where t.{column} > batches.batch order by t.{column} limit 1
                )
                from batches
                where batches.batch is not null
            )
            select batch from batches where batch is not null
            """
        ).fetchall()
    return tuple(int(batch) for (batch,) in rows)


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
    *,
    present: Mapping[str, Sequence[int]],
) -> None:
    """One ops.raw_validations row per suite run: the versions read before it, and for a suite
    with a delta_column the batches present then (all of them covered: those of the last
    validation, still there, and the new ones this run validated)."""
    import psycopg

    passed = {o.suite: o.success for o in outcome.outcomes}
    with psycopg.connect(url) as conn:
        last_batch = conn.execute(f"select max(batch_id) from {BATCH_LEDGER_TABLE}").fetchone()
        conn.cursor().executemany(
            "insert into ops.raw_validations "
            "(suite, run_id, table_versions, last_batch_id, success, batch_ids) "
            "values (%s, %s, %s, %s, %s, %s) "
            "on conflict (suite, run_id) do update set table_versions = excluded.table_versions, "
            "last_batch_id = excluded.last_batch_id, success = excluded.success, "
            "batch_ids = excluded.batch_ids, validated_at = now()",
            [
                (
                    spec.name,
                    run_id,
                    json.dumps(_recorded_versions(spec, versions)),
                    last_batch[0] if last_batch else None,
                    passed[spec.name],
                    None if spec.name not in present else list(present[spec.name]),
                )
                for spec in specs
            ],
        )


def _recorded_versions(spec: SuiteSpec, versions: Mapping[str, int]) -> dict[str, object]:
    keys = [*inputs_of(spec)]
    if spec.delta_column is not None:
        keys.append(f"{REWRITES_PREFIX}{spec.table}")
    return {k: versions[k] for k in keys if k in versions} | {SUITE_DIGEST_KEY: suite_digest(spec)}


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
    # Read before any check runs: a write during the run moves them, and the next run sees it.
    versions = table_versions(
        url,
        sorted({t for s in specs for t in inputs_of(s)}),
        grown=sorted({s.table for s in specs if s.delta_column is not None}),
    )
    last = _last_validations(url, [s.name for s in specs])
    reused: list[ReusedValidation] = []
    to_run: list[SuiteSpec] = []
    present: dict[str, tuple[int, ...]] = {}
    new_batches: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        found = reusable(spec, versions, last.get(spec.name))
        if found is not None:
            reused.append(found)
            continue
        to_run.append(spec)
        if spec.delta_column is not None:
            present[spec.name] = present_batches(url, spec)
            batches = batches_to_validate(spec, versions, last.get(spec.name), present[spec.name])
            if batches is not None:
                new_batches[spec.name] = batches
    if reused:
        log.info(
            "raw suites already validated on the same data, not rerun: %s",
            ", ".join(f"{r.suite} ({r.run_id})" for r in reused),
        )
    for name, batches in new_batches.items():
        log.info(
            "%s: %d batch(es) landed since run %s validated on their rows, whole-table checks "
            "on every row",
            name,
            len(batches),
            last[name].run_id,
        )
    outcome = (
        run_specs(url, to_run, run_id, new_batches)
        if to_run
        else GateOutcome(run_id, (), _site_index())
    )
    _record(url, run_id, to_run, versions, outcome, present=present)
    return ValidationOutcome(
        outcome=outcome,
        reused=tuple(reused),
        new_batches={name: len(batches) for name, batches in new_batches.items()},
    )
