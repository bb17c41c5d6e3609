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
from typing import TYPE_CHECKING, Any

from expectations.suites import SUITES, Check, Severity, SuiteSpec

if TYPE_CHECKING:
    from great_expectations.core import ExpectationValidationResult
    from great_expectations.data_context import AbstractDataContext

log = logging.getLogger(__name__)

DATASOURCE_NAME = "scrutin_warehouse"
# Values kept per failed expectation: enough to find the rows, small enough for a jsonb column.
EXAMPLES_KEPT = 5
# What the SQL checks return (GX caps the fetch at 200 rows); column checks keep their summary.
_SQL_RESULT_FORMAT = {"result_format": "COMPLETE"}
_COLUMN_RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES_KEPT}
_SQL_EXPECTATION = "UnexpectedRowsExpectation"
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


class SuiteTableMissingError(LookupError):
    """A table the suite validates or reads does not exist."""


# ---- public API -----------------------------------------------------------------------------


def run_suite(url: str, suite: SuiteSpec, run_id: str) -> SuiteOutcome:
    """Validate one suite against the warehouse at `url` and record every result."""
    context = _ephemeral_context(url)
    return _run_and_record(url, context, suite, run_id)


def run_suites(url: str, suite_names: Sequence[str], run_id: str) -> GateOutcome:
    """Run the named suites (see `SUITES`) in one GX context; the gate is their conjunction."""
    unknown = [name for name in suite_names if name not in SUITES]
    if unknown:
        raise ValueError(f"unknown suite(s) {unknown}; known: {sorted(SUITES)}")
    context = _ephemeral_context(url)
    outcomes = tuple(_run_and_record(url, context, SUITES[name], run_id) for name in suite_names)
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

    return gx


def _ephemeral_context(url: str) -> AbstractDataContext:
    gx = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.data_sources.add_postgres(name=DATASOURCE_NAME, connection_string=sqlalchemy_url(url))
    return context


def _run_and_record(
    url: str, context: AbstractDataContext, suite: SuiteSpec, run_id: str
) -> SuiteOutcome:
    started = time.perf_counter()
    try:
        _require_tables(url, (suite.table, *suite.requires))
        results = _validate(context, suite)
        outcome = SuiteOutcome(
            suite=suite.name,
            target=suite.table,
            run_id=run_id,
            results=tuple(results),
            duration_s=time.perf_counter() - started,
        )
    except Exception as exc:  # any GX or database error is a refusal, never a crash of the gate
        error = _scrub(_error_message(exc), url)
        log.warning("suite %s on %s could not run: %s", suite.name, suite.table, error)
        outcome = SuiteOutcome(
            suite=suite.name,
            target=suite.table,
            run_id=run_id,
            results=(_error_result(suite, error, missing=isinstance(exc, SuiteTableMissingError)),),
            duration_s=time.perf_counter() - started,
            error=error,
        )
    _record(url, outcome)
    return outcome


def _require_tables(url: str, tables: Iterable[str]) -> None:
    from scrutin.db import connect

    with connect(url, autocommit=True) as conn:
        for table in tables:
            row = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()
            if not (row and row[0]):
                raise SuiteTableMissingError(
                    f"table {table} does not exist (not loaded yet, or the build that creates it "
                    "failed): nothing to validate"
                )


def _validate(context: AbstractDataContext, suite: SuiteSpec) -> list[CheckResult]:
    """Column checks and SQL checks run as two validation definitions on the same batch.

    GX applies one result format per run and it overrides the expectation's own: SUMMARY bounds
    the examples of column checks, COMPLETE is the only format that returns the offending rows of
    an `UnexpectedRowsExpectation` (GX fetches at most 200 of them).
    """
    gx = _import_gx()
    datasource = context.data_sources.get(DATASOURCE_NAME)
    asset = datasource.add_table_asset(
        name=suite.name, table_name=suite.table_name, schema_name=suite.schema_name
    )
    batch = asset.add_batch_definition_whole_table(name=f"{suite.name}__whole_table")

    by_position: dict[int, CheckResult] = {}
    for group, result_format in (("columns", _COLUMN_RESULT_FORMAT), ("sql", _SQL_RESULT_FORMAT)):
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
            i = int(result.expectation_config.meta["check"])
            by_position[i] = _check_result(suite, suite.checks[i], result)
    return [by_position[i] for i in sorted(by_position)]


def _check_result(
    suite: SuiteSpec, check: Check, result: ExpectationValidationResult
) -> CheckResult:
    observed = _observed(check, result)
    success = bool(result.success) and "exception" not in observed
    return CheckResult(
        suite=suite.name,
        target=suite.table,
        expectation=result.expectation_config.type,
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
        if "partial_unexpected_list" in raw:
            summary["partial_unexpected_list"] = list(raw["partial_unexpected_list"])[
                :EXAMPLES_KEPT
            ]
    info = result.exception_info or {}
    if info.get("raised_exception"):
        summary["exception"] = str(info.get("exception_message"))
    return json.loads(json.dumps(summary, default=str))


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
    examples = observed.get("partial_unexpected_list")
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


def _error_result(suite: SuiteSpec, error: str, *, missing: bool) -> CheckResult:
    return CheckResult(
        suite=suite.name,
        target=suite.table,
        expectation=_MISSING_TABLE_CHECK if missing else _SUITE_ERROR_CHECK,
        column=None,
        severity="fail",
        success=False,
        observed={"error": error},
        description=f"{suite.name}: {error}",
    )


def _error_message(exc: BaseException) -> str:
    if isinstance(exc, SuiteTableMissingError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".strip()


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
