"""Run the raw-data suites the Great Expectations way: suites, validation definitions and one
Checkpoint per suite, whose actions record `ops.quality_results` and build Data Docs.

Per run: one ephemeral GX context (nothing on disk but the Data Docs site), one `postgres` data
source on the warehouse. Per suite (`expectations.suites*`, SuiteSpec): a table asset with a
whole-table batch definition, an ExpectationSuite built from the spec's checks, a
ValidationDefinition, and a Checkpoint named after the suite with two actions:

- `RecordQualityResults` (below, a GX ValidationAction): one `ops.quality_results` row per
  expectation, with a compact `observed` (counts, five keyed examples), the suite's outcome kept
  for the caller, which decides (the gate passes when no `fail` expectation failed);
- `UpdateDataDocsAction`: the validation result rendered into the local Data Docs site
  (`scrutin.config.data_docs_dir()`, `SCRUTIN_DATA_DOCS_DIR`; its `index.html` lists the
  suites of the latest run; a folder that cannot be created means no Data Docs and a warning,
  never a refused gate).

Why one Checkpoint per suite: GX applies one result format to a whole Checkpoint, and the
format names the columns that identify an offending row (`unexpected_index_column_names`),
which differ from table to table. COMPLETE is the only format that returns the offending rows
of an `UnexpectedRowsExpectation` (GX fetches at most 200 of them).

A suite whose table does not exist (not loaded yet) is refused before GX runs, with a failed
`table_exists` pseudo-check naming the table; a suite GX cannot run at all is refused with a
`suite_run` pseudo-check carrying the error. An unreachable warehouse is not a data problem:
that error propagates, so that the scheduler retries.

Great Expectations is imported inside the functions: the import costs ~7 s and DAG files import
this module.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from expectations.registry import all_suites
from expectations.results import (
    EXAMPLES_KEPT,
    MAX_ERROR_CHARS,
    CheckResult,
    GateOutcome,
    SuiteOutcome,
    describe,
    error_result,
    holds_personal_values,
    json_safe,
    record,
    scrub,
    scrub_examples,
)
from expectations.suites import SQL_EXPECTATION, Check, SuiteSpec

if TYPE_CHECKING:
    from great_expectations.checkpoint.checkpoint import CheckpointResult
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.datasource.fluent import PostgresDatasource

log = logging.getLogger(__name__)

DATASOURCE_NAME = "scrutin_warehouse"
DATA_DOCS_SITE = "scrutin"
# Pseudo-expectations recorded when a suite cannot run at all.
MISSING_TABLE_CHECK = "table_exists"
SUITE_ERROR_CHECK = "suite_run"


def run_suites(url: str, suite_names: Sequence[str], run_id: str) -> GateOutcome:
    """Run the named suites (see `expectations.registry`), one Checkpoint each; the gate is
    their conjunction. A suite named twice runs once."""
    suites = all_suites()
    unknown = [name for name in suite_names if name not in suites]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; known: {sorted(suites)}")
    return run_specs(url, [suites[name] for name in dict.fromkeys(suite_names)], run_id)


def run_suite(url: str, suite: SuiteSpec, run_id: str) -> SuiteOutcome:
    """Run one suite spec (registered or not) and record its results."""
    (outcome,) = run_specs(url, [suite], run_id).outcomes
    return outcome


def run_specs(
    url: str,
    suites: Sequence[SuiteSpec],
    run_id: str,
    new_batches: Mapping[str, Sequence[int]] | None = None,
) -> GateOutcome:
    """Validate `suites` against the warehouse at `url` in one GX context, in order.

    `new_batches`: suite name -> the batches (values of its `delta_column`) whose rows alone its
    checks read, its `whole_table` checks aside (expectations/validations.py decides when).
    """
    docs = _data_docs_folder()
    context = _ephemeral_context(url, docs)
    delta = new_batches or {}
    try:
        outcomes = tuple(
            _run_checkpoint(
                url,
                context,
                suite,
                run_id,
                data_docs=docs is not None,
                batches=delta.get(suite.name),
            )
            for suite in suites
        )
    finally:
        _datasource(context).get_engine().dispose()  # now, not at garbage collection
    index = None if docs is None else str(docs / "index.html")
    gate = GateOutcome(run_id=run_id, outcomes=outcomes, data_docs=index)
    log.info(
        "quality checks %s: %s (%d failed, %d warnings); Data Docs: %s",
        run_id,
        "passed" if gate.success else "refused",
        len(gate.failed_checks),
        len(gate.warnings),
        gate.data_docs,
    )
    return gate


def _data_docs_folder() -> Path | None:
    """The Data Docs folder, created if need be; None (no Data Docs, a warning) when it cannot
    be: a site that cannot be written is no reason to refuse the data."""
    from scrutin.config import data_docs_dir

    folder = data_docs_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("no Data Docs this run: %s cannot be created (%s)", folder, exc)
        return None
    return folder


def sqlalchemy_url(url: str) -> str:
    """The warehouse DSN with the psycopg 3 driver SQLAlchemy (and so GX) needs."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


# ---- GX plumbing ----------------------------------------------------------------------------


def _import_gx() -> Any:
    """Import Great Expectations quietly: no telemetry, no INFO flood, no progress bars."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    # This module pins its own logger to INFO at import, above the package logger's level.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    return gx


def _ephemeral_context(url: str, data_docs: Path | None) -> AbstractDataContext:
    """A context whose only file output is our Data Docs site (not GX's temporary default)."""
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.data_docs_sites = (
        {}
        if data_docs is None
        else {
            DATA_DOCS_SITE: {
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(data_docs),
                },
            }
        }
    )
    context.data_sources.add_postgres(name=DATASOURCE_NAME, connection_string=sqlalchemy_url(url))
    return context


def _datasource(context: AbstractDataContext) -> PostgresDatasource:
    return cast("PostgresDatasource", context.data_sources.get(DATASOURCE_NAME))


def _run_checkpoint(
    url: str,
    context: AbstractDataContext,
    suite: SuiteSpec,
    run_id: str,
    *,
    data_docs: bool,
    batches: Sequence[int] | None = None,
) -> SuiteOutcome:
    """The suite's Checkpoint; a suite that cannot run is a failed outcome, recorded too."""
    started = time.perf_counter()
    missing = _missing_table(url, (suite.table, *suite.requires))
    if missing is not None:
        error = (
            f"table {missing} does not exist (not loaded yet, or the build that creates it "
            "failed): nothing to validate"
        )
        return _refused(url, suite, run_id, error, expectation=MISSING_TABLE_CHECK, started=started)
    try:
        checkpoint = _checkpoint(context, suite, run_id, data_docs=data_docs, batches=batches)
        recorder = _bind_recorder(checkpoint, url, suite)
        checkpoint.run(run_id=_run_identifier(run_id))
    except Exception as exc:  # a GX error refuses this suite, it does not crash the gate
        error = scrub(f"{type(exc).__name__}: {exc}", url)[:MAX_ERROR_CHARS]
        return _refused(url, suite, run_id, error, expectation=SUITE_ERROR_CHECK, started=started)
    outcome = recorder.outcome
    if outcome is None:
        error = "the Checkpoint ran but its RecordQualityResults action did not"
        return _refused(url, suite, run_id, error, expectation=SUITE_ERROR_CHECK, started=started)
    return SuiteOutcome(
        suite=outcome.suite,
        target=outcome.target,
        run_id=run_id,
        results=outcome.results,
        duration_s=time.perf_counter() - started,
    )


def _refused(
    url: str, suite: SuiteSpec, run_id: str, error: str, *, expectation: str, started: float
) -> SuiteOutcome:
    log.warning("suite %s on %s could not run: %s", suite.name, suite.table, error)
    result = error_result(suite.name, suite.table, error, expectation=expectation)
    record(url, run_id, [result])
    return SuiteOutcome(
        suite=suite.name,
        target=suite.table,
        run_id=run_id,
        results=(result,),
        duration_s=time.perf_counter() - started,
        error=error,
    )


def _missing_table(url: str, tables: Iterable[str]) -> str | None:
    """The first of `tables` that does not exist (GX would only say so in a stack trace)."""
    from scrutin.db import connect

    with connect(url, autocommit=True) as conn:
        for table in tables:
            row = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()
            if not (row and row[0]):
                return table
    return None


def _run_identifier(run_id: str) -> Any:
    """GX's run identifier named after the gate run: Data Docs pages are filed under it."""
    import datetime as dt

    from great_expectations.core.run_identifier import RunIdentifier

    return RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.UTC))


def _checkpoint(
    context: AbstractDataContext,
    suite: SuiteSpec,
    run_id: str,
    *,
    data_docs: bool,
    batches: Sequence[int] | None = None,
) -> Any:
    """Asset, batch definition, suite, validation definition and Checkpoint of one SuiteSpec.

    Each check carries its position in `meta`, so the recorder maps results back to the spec.
    With `batches`, two validation definitions: the checks on a query asset of those batches'
    rows (`NEW_BATCHES_SUFFIX`), the `whole_table` checks on the table.
    """
    gx = _import_gx()
    from great_expectations.checkpoint import UpdateDataDocsAction

    source = _datasource(context)
    table = source.add_table_asset(
        name=suite.name, table_name=suite.table_name, schema_name=suite.schema_name
    )
    numbered = list(enumerate(suite.checks))
    # (name, asset, checks, what rows they read: recorded with each result when not every row)
    parts: list[tuple[str, Any, list[tuple[int, Check]], dict[str, str]]]
    if batches is None:
        parts = [(suite.name, table, numbered, {})]
    else:
        name = f"{suite.name}{NEW_BATCHES_SUFFIX}"
        rows = source.add_query_asset(name=name, query=new_batches_query(suite, batches))
        parts = [
            (
                name,
                rows,
                [(i, c) for i, c in numbered if not c.whole_table],
                {ROWS_READ_KEY: describe_new_batches(batches)},
            ),
            (
                suite.name,
                table,
                [(i, c) for i, c in numbered if c.whole_table],
                {ROWS_READ_KEY: "every row"},
            ),
        ]
        parts = [part for part in parts if part[2]]
    definitions = []
    for name, asset, checks, scope in parts:
        # Built whole, then added: each `add_expectation` on a stored suite writes the store again.
        gx_suite = context.suites.add(
            gx.ExpectationSuite(
                name=name,
                expectations=[
                    check.build(meta={"check": i, "severity": check.severity, **scope})
                    for i, check in checks
                ],
            )
        )
        definitions.append(
            context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=name,
                    data=asset.add_batch_definition_whole_table(name=f"{name}__whole_table"),
                    suite=gx_suite,
                )
            )
        )
    return context.checkpoints.add(
        gx.Checkpoint(
            name=suite.name,
            validation_definitions=definitions,
            # GX runs UpdateDataDocsAction first, whatever the order here.
            actions=[
                _action_class()(name="record_quality_results", run_id=run_id),
                *(
                    [UpdateDataDocsAction(name="data_docs", site_names=[DATA_DOCS_SITE])]
                    if data_docs
                    else []
                ),
            ],
            # A personal table's values are never asked for: GX would render them verbatim in
            # the Data Docs (var/data-docs/), where no keying of ours reaches (issue 14).
            result_format={
                "result_format": "COMPLETE",
                "partial_unexpected_count": (
                    0 if holds_personal_values(suite.table) else EXAMPLES_KEPT
                ),
                "unexpected_index_column_names": list(suite.key_columns),
                "return_unexpected_index_query": False,
            },
        )
    )


# The GX names (asset, suite, validation definition) of a suite's part that reads new batches.
NEW_BATCHES_SUFFIX = "__new_batches"


# The key of a result's `observed` (ops.quality_results) that says which rows a check read, when
# its suite validated new batches only: an element_count of 7 then means 7 new knocks.
ROWS_READ_KEY = "rows_read"
_BATCHES_LISTED = 10


def describe_new_batches(batches: Sequence[int]) -> str:
    """`the 2 batches landed since the last validation: 34, 35` (the first ten listed)."""
    listed = ", ".join(str(b) for b in batches[:_BATCHES_LISTED])
    more = f" (+{len(batches) - _BATCHES_LISTED})" if len(batches) > _BATCHES_LISTED else ""
    noun = "batch" if len(batches) == 1 else "batches"
    return f"the {len(batches)} {noun} landed since the last validation: {listed or 'none'}{more}"


def new_batches_query(suite: SuiteSpec, batches: Sequence[int]) -> str:
    """The rows of `batches` in the suite's table (by its `delta_column`, which leads an index)."""
    if suite.delta_column is None:
        raise ValueError(f"suite {suite.name} has no delta_column: it validates whole tables")
    ids = ", ".join(str(int(b)) for b in batches)
    return (
        f"select * from {suite.table} "
        f"where {suite.delta_column} = any(cast(array[{ids}] as bigint[]))"
    )


def _bind_recorder(checkpoint: Any, url: str, suite: SuiteSpec) -> Any:
    """The Checkpoint's `RecordQualityResults`, given the warehouse and the spec it records.

    Bound after `context.checkpoints.add()`, which returns the Checkpoint as the store rebuilt
    it (new action objects): private attributes do not survive that round trip.
    """
    action_type = _action_class().__fields__["type"].default
    (recorder,) = (a for a in checkpoint.actions if a.type == action_type)
    return recorder._bind(url, suite)


@functools.cache
def _action_class() -> Any:
    """`RecordQualityResults`, defined on first use: subclassing GX's ValidationAction needs GX.

    GX registers action classes by `type` when they are defined, so the class is defined once
    per process.
    """
    _import_gx()
    from typing import Literal

    from great_expectations.checkpoint import ValidationAction
    from great_expectations.compatibility.pydantic import PrivateAttr

    class RecordQualityResults(ValidationAction):
        """Write one `ops.quality_results` row per expectation of the Checkpoint's results.

        The warehouse URL and the suite spec are private attributes: the action's public
        fields end up in the Checkpoint's configuration, and a DSN may carry a password.
        """

        type: Literal["scrutin_record_quality_results"] = "scrutin_record_quality_results"
        run_id: str
        _url: str = PrivateAttr(default="")
        _suite: Any = PrivateAttr(default=None)
        _outcome: Any = PrivateAttr(default=None)

        def _bind(self, url: str, suite: SuiteSpec) -> RecordQualityResults:
            self._url = url
            self._suite = suite
            return self

        @property
        def outcome(self) -> SuiteOutcome | None:
            """The suite's outcome once the action ran (None before)."""
            return cast("SuiteOutcome | None", self._outcome)

        def run(self, checkpoint_result: CheckpointResult, action_context: Any = None) -> dict:
            suite: SuiteSpec = self._suite
            # One suite's checks, split over two validations when it reads new batches only.
            results = _check_results(
                suite,
                [r for v in checkpoint_result.run_results.values() for r in v.results],
            )
            record(self._url, self.run_id, results)
            self._outcome = SuiteOutcome(
                suite=suite.name,
                target=suite.table,
                run_id=self.run_id,
                results=tuple(results),
                duration_s=0.0,
            )
            return {"recorded": len(results)}

    # Annotations are strings here (`from __future__ import annotations`) and the class is local:
    # pydantic resolves them with the names given.
    RecordQualityResults.update_forward_refs(Literal=Literal, Any=Any)
    return RecordQualityResults


# ---- from GX results to CheckResults ---------------------------------------------------------


def _check_results(
    suite: SuiteSpec, gx_results: Iterable[ExpectationValidationResult]
) -> list[CheckResult]:
    """One CheckResult per check of the spec, in the spec's order.

    A check GX did not report on must not pass silently: it is a failed check.
    """
    by_position: dict[int, CheckResult] = {}
    for result in gx_results:
        config = result.expectation_config
        if config is None or "check" not in config.meta:
            continue  # not one of ours: reported below as missing
        i = int(config.meta["check"])
        observed = _observed(suite.checks[i], result, suite.table)
        if ROWS_READ_KEY in config.meta:
            observed[ROWS_READ_KEY] = str(config.meta[ROWS_READ_KEY])
        success = bool(result.success) and "exception" not in observed
        # The spec's type, not GX's: a SQL check runs as `UnexpectedRowsCountedOnce`
        # (expectations.unexpected_rows) but is recorded as the expectation it computes.
        check = suite.checks[i]
        by_position[i] = _check_result(suite, check, success, observed, check.expectation_type)
    unreported = {"exception": "Great Expectations returned no result for this expectation"}
    return [
        by_position.get(i) or _check_result(suite, check, False, unreported, check.expectation_type)
        for i, check in enumerate(suite.checks)
    ]


def _check_result(
    suite: SuiteSpec,
    check: Check,
    success: bool,
    observed: Mapping[str, Any],
    expectation_type: str,
) -> CheckResult:
    return CheckResult(
        suite=suite.name,
        target=suite.table,
        expectation=expectation_type,
        column=check.column,
        severity=check.severity,
        success=success,
        observed=observed,
        description=describe(
            suite.name,
            check.title,
            check.label,
            success,
            observed,
            noun="rows" if check.expectation == SQL_EXPECTATION else "values",
            expected=", ".join(f"{k}={v}" for k, v in check.kwargs.items() if k != "column"),
        ),
    )


def _observed(
    check: Check, result: ExpectationValidationResult, suite_table: str
) -> dict[str, Any]:
    """A compact, JSON-safe summary: counts, a few examples (keyed for a personal table:
    `scrub_examples`), the observed value."""
    raw: Mapping[str, Any] = result.result or {}
    summary: dict[str, Any] = {}
    if check.expectation == SQL_EXPECTATION:
        rows = (raw.get("details") or {}).get("unexpected_rows") or []
        summary["unexpected_count"] = raw.get("observed_value")
        summary["partial_unexpected_list"] = list(rows)[:EXAMPLES_KEPT]
        summary["query_label"] = check.label
    else:
        for key in ("element_count", "unexpected_count", "unexpected_percent", "observed_value"):
            if raw.get(key) is not None:
                summary[key] = raw[key]
        for key in ("partial_unexpected_list", "partial_unexpected_index_list"):
            if raw.get(key) is not None:
                summary[key] = list(raw[key])[:EXAMPLES_KEPT]
    error = _exception_message(result)
    if error is not None:
        summary["exception"] = error
    return cast("dict[str, Any]", json_safe(scrub_examples(summary, suite_table)))


def _exception_message(result: ExpectationValidationResult) -> str | None:
    """The first error GX caught for this expectation, without the echoed SQL.

    `exception_info` is flat when the expectation itself raised, and keyed by metric id when a
    metric failed (a SQL error in an `UnexpectedRowsExpectation`, a missing column).
    """
    info: Mapping[str, Any] = result.exception_info or {}
    candidates = [info, *(v for v in info.values() if isinstance(v, Mapping))]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            message = str(candidate.get("exception_message") or "unknown error")
            return message.split("\n[SQL:", 1)[0][:MAX_ERROR_CHARS]
    return None
