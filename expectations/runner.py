"""Run the quality suites with Great Expectations and decide the gate.

One ephemeral GX context per call, a `postgres` data source on the warehouse, one table asset and
one whole-table batch per suite. Every expectation result lands in `ops.quality_results`; the gate
passes when no `fail`-severity expectation failed. A table that does not exist (the audit mart
after a failed dbt run) is a failed outcome that names the table, never a stack trace.

Great Expectations is imported inside the functions: the import costs ~7 s and DAG files import
this module.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from expectations.registry import all_suites
from expectations.suites import Check, Severity, SuiteSpec

if TYPE_CHECKING:
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.datasource.fluent import PostgresDatasource

log = logging.getLogger(__name__)

DATASOURCE_NAME = "scrutin_warehouse"
# Values kept per failed expectation: enough to find the rows, small enough for a jsonb column.
EXAMPLES_KEPT = 5
# What the SQL checks return (GX caps the fetch at 200 rows); column checks keep their summary.
_SQL_RESULT_FORMAT: dict[str, Any] = {"result_format": "COMPLETE"}
_SQL_EXPECTATION = "UnexpectedRowsExpectation"
_MAX_ERROR_CHARS = 500
# Pseudo-expectations recorded when a suite cannot run at all.
_MISSING_TABLE_CHECK = "table_exists"
_SUITE_ERROR_CHECK = "suite_run"


@dataclass(frozen=True)
class CheckResult:
    """One evaluated expectation, as recorded in ops.quality_results."""

    suite: str
    target: str
    expectation: str
    column: str | None
    severity: Severity
    success: bool
    observed: Mapping[str, Any]
    description: str


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    target: str
    run_id: str
    results: tuple[CheckResult, ...]
    duration_s: float
    error: str | None = None

    @property
    def success(self) -> bool:
        """True when the suite ran and no `fail`-severity expectation failed."""
        return self.error is None and not any(
            not r.success and r.severity == "fail" for r in self.results
        )

    @property
    def failed_checks(self) -> list[str]:
        """Why the suite blocks: failed `fail` checks, or the error that prevented the run."""
        if self.error is not None:
            return [f"{self.suite}: {self.error}"]
        return [r.description for r in self.results if not r.success and r.severity == "fail"]

    @property
    def warnings(self) -> list[str]:
        return [r.description for r in self.results if not r.success and r.severity == "warn"]


@dataclass(frozen=True)
class GateOutcome:
    run_id: str
    outcomes: tuple[SuiteOutcome, ...]

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed_checks(self) -> list[str]:
        return [d for o in self.outcomes for d in o.failed_checks]

    @property
    def warnings(self) -> list[str]:
        return [d for o in self.outcomes for d in o.warnings]


# ---- public API -----------------------------------------------------------------------------


def run_suite(url: str, suite: SuiteSpec, run_id: str) -> SuiteOutcome:
    """Validate one suite against the warehouse at `url` and record every result."""
    context = _ephemeral_context(url)
    try:
        return _run_and_record(url, context, suite, run_id)
    finally:
        _close(context)


def run_suites(url: str, suite_names: Sequence[str], run_id: str) -> GateOutcome:
    """Run the named suites (see `SUITES`) in one GX context; the gate is their conjunction."""
    suites = all_suites()
    unknown = [name for name in suite_names if name not in suites]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; known: {sorted(suites)}")
    names = list(dict.fromkeys(suite_names))  # a suite named twice runs once
    context = _ephemeral_context(url)
    try:
        outcomes = tuple(_run_and_record(url, context, suites[name], run_id) for name in names)
    finally:
        _close(context)
    gate = GateOutcome(run_id=run_id, outcomes=outcomes)
    log.info(
        "quality gate %s: %s (%d failed, %d warnings)",
        run_id,
        "passed" if gate.success else "refused",
        len(gate.failed_checks),
        len(gate.warnings),
    )
    return gate


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


def _ephemeral_context(url: str) -> AbstractDataContext:
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_postgres(name=DATASOURCE_NAME, connection_string=sqlalchemy_url(url))
    return context


def _close(context: AbstractDataContext) -> None:
    """Release the pooled connections now rather than at garbage collection."""
    _datasource(context).get_engine().dispose()


def _datasource(context: AbstractDataContext) -> PostgresDatasource:
    return cast("PostgresDatasource", context.data_sources.get(DATASOURCE_NAME))


def _run_and_record(
    url: str, context: AbstractDataContext, suite: SuiteSpec, run_id: str
) -> SuiteOutcome:
    """Validate, then record. A suite that cannot run is a failed outcome, recorded too.

    An unreachable warehouse is not a data problem: that error propagates (the caller retries).
    """
    started = time.perf_counter()
    error: str | None = None
    results: tuple[CheckResult, ...] = ()
    missing = _missing_table(url, (suite.table, *suite.requires))
    if missing is not None:
        error = (
            f"table {missing} does not exist (not loaded yet, or the build that creates it "
            "failed): nothing to validate"
        )
        results = (_error_result(suite, error, expectation=_MISSING_TABLE_CHECK),)
    else:
        try:
            results = tuple(_validate(context, suite))
        except Exception as exc:  # a GX error refuses this suite, it does not crash the gate
            error = _scrub(f"{type(exc).__name__}: {exc}", url)[:_MAX_ERROR_CHARS]
            results = (_error_result(suite, error, expectation=_SUITE_ERROR_CHECK),)
    if error is not None:
        log.warning("suite %s on %s could not run: %s", suite.name, suite.table, error)
    outcome = SuiteOutcome(
        suite=suite.name,
        target=suite.table,
        run_id=run_id,
        results=results,
        duration_s=time.perf_counter() - started,
        error=error,
    )
    _record(url, outcome)
    return outcome


def _missing_table(url: str, tables: Iterable[str]) -> str | None:
    """The first of `tables` that does not exist (GX would only say so in a stack trace)."""
    from scrutin.db import connect

    with connect(url, autocommit=True) as conn:
        for table in tables:
            row = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()
            if not (row and row[0]):
                return table
    return None


def _validate(context: AbstractDataContext, suite: SuiteSpec) -> list[CheckResult]:
    """Column checks and SQL checks run as two validation definitions on the same batch.

    GX applies one result format per run and it overrides the expectation's own: SUMMARY bounds
    the examples of column checks, COMPLETE is the only format that returns the offending rows of
    an `UnexpectedRowsExpectation` (GX fetches at most 200 of them).
    """
    gx = _import_gx()
    asset = _datasource(context).add_table_asset(
        name=suite.name, table_name=suite.table_name, schema_name=suite.schema_name
    )
    batch = asset.add_batch_definition_whole_table(name=f"{suite.name}__whole_table")

    column_result_format: dict[str, Any] = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": EXAMPLES_KEPT,
        "unexpected_index_column_names": list(suite.key_columns),
    }
    by_position: dict[int, CheckResult] = {}
    for group, result_format in (("columns", column_result_format), ("sql", _SQL_RESULT_FORMAT)):
        positions = [
            i
            for i, check in enumerate(suite.checks)
            if (check.expectation == _SQL_EXPECTATION) == (group == "sql")
        ]
        if not positions:
            continue
        gx_suite = context.suites.add(gx.ExpectationSuite(name=f"{suite.name}__{group}"))
        for i in positions:
            check = suite.checks[i]
            gx_suite.add_expectation(check.build(meta={"check": i, "severity": check.severity}))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite.name}__{group}", data=batch, suite=gx_suite)
        )
        run = definition.run(result_format=result_format)
        for result in run.results:
            config = result.expectation_config
            if config is None or "check" not in config.meta:
                continue  # not one of ours: reported below as missing
            i = int(config.meta["check"])
            by_position[i] = _check_result(suite, suite.checks[i], result, config.type)
    # A check GX did not report on must not pass silently: it is a failed check.
    return [by_position.get(i) or _unreported(suite, check) for i, check in enumerate(suite.checks)]


def _unreported(suite: SuiteSpec, check: Check) -> CheckResult:
    observed = {"exception": "Great Expectations returned no result for this expectation"}
    return CheckResult(
        suite=suite.name,
        target=suite.table,
        expectation=check.expectation_type,
        column=check.column,
        severity=check.severity,
        success=False,
        observed=observed,
        description=_describe(suite, check, False, observed),
    )


def _check_result(
    suite: SuiteSpec, check: Check, result: ExpectationValidationResult, expectation_type: str
) -> CheckResult:
    observed = _observed(check, result)
    success = bool(result.success) and "exception" not in observed
    return CheckResult(
        suite=suite.name,
        target=suite.table,
        expectation=expectation_type,
        column=check.column,
        severity=check.severity,
        success=success,
        observed=observed,
        description=_describe(suite, check, success, observed),
    )


def _observed(check: Check, result: ExpectationValidationResult) -> dict[str, Any]:
    """A compact, JSON-safe summary: counts, a few examples, the observed value."""
    raw: Mapping[str, Any] = result.result or {}
    summary: dict[str, Any] = {}
    if check.expectation == _SQL_EXPECTATION:
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
    return json.loads(json.dumps(summary, default=str))


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
            return message.split("\n[SQL:", 1)[0][:_MAX_ERROR_CHARS]
    return None


def _describe(suite: SuiteSpec, check: Check, success: bool, observed: Mapping[str, Any]) -> str:
    """`raw_election_results: expect_column_values_to_be_between(votants) failed: 3 ...`."""
    head = f"{suite.name}: {check.title}"
    if check.label:
        head += f" [{check.label}]"
    if success:
        return f"{head} passed"
    if "exception" in observed:
        return f"{head} failed: could not evaluate: {observed['exception']}"
    count = observed.get("unexpected_count")
    # Keyed rows (`{"bureau_id": ..., "votants": -3}`) say where; bare values only say what.
    examples = observed.get("partial_unexpected_index_list") or observed.get(
        "partial_unexpected_list"
    )
    if count is not None:
        noun = "rows" if check.expectation == _SQL_EXPECTATION else "values"
        detail = f"{count} unexpected {noun}"
        if examples:
            detail += f", e.g. {json.dumps(examples, ensure_ascii=False)}"
        return f"{head} failed: {detail}"
    observed_value = json.dumps(observed.get("observed_value"))
    return f"{head} failed: observed {observed_value}, expected {_expected(check)}"


def _expected(check: Check) -> str:
    return ", ".join(f"{k}={v}" for k, v in check.kwargs.items() if k not in ("column",))


def _error_result(suite: SuiteSpec, error: str, *, expectation: str) -> CheckResult:
    return CheckResult(
        suite=suite.name,
        target=suite.table,
        expectation=expectation,
        column=None,
        severity="fail",
        success=False,
        observed={"error": error},
        description=f"{suite.name}: {error}",
    )


def _scrub(message: str, url: str) -> str:
    """Never let a password travel into ops tables or alerts."""
    from scrutin.config import dsn_parts

    password = dsn_parts(url).password
    return message.replace(password, "***") if password else message


def _record(url: str, outcome: SuiteOutcome) -> None:
    from psycopg.types.json import Jsonb

    from scrutin.db import connect

    rows = [
        (
            outcome.run_id,
            r.suite,
            r.target,
            r.expectation,
            r.column,
            r.severity,
            r.success,
            Jsonb(dict(r.observed)),
        )
        for r in outcome.results
    ]
    with connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "insert into ops.quality_results "
            "(run_id, suite, target, expectation, column_name, severity, success, observed) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
