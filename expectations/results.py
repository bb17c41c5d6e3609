"""What a quality check decided, and how it is recorded in `ops.quality_results`.

Two producers share this module: the Great Expectations Checkpoint of the raw suites (its
`RecordQualityResults` action, `expectations.checkpoint`) and the Python audit of the published
scores (`expectations.score_audit`). Both record one row per evaluated check, with the same
columns and the same failure wording (`<suite>: <check> failed: ...`), so an engineer reading
`ops.gate_runs.failed_checks` or the runbook meets one format whatever ran the check.

`fail` is a circuit breaker (the gate refuses, the raw asset is not emitted); `warn` is recorded
and nothing more. No Great Expectations import here: DAG files and the CLI import this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["fail", "warn"]

# Values kept per failed check: enough to find the rows, small enough for a jsonb column.
EXAMPLES_KEPT = 5
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class CheckResult:
    """One evaluated check, as recorded in ops.quality_results."""

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
        """True when the suite ran and no `fail`-severity check failed."""
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
    """The outcomes of one run of suites; `data_docs` is the index of the site they updated."""

    run_id: str
    outcomes: tuple[SuiteOutcome, ...]
    data_docs: str | None = None

    @property
    def success(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed_checks(self) -> list[str]:
        return [d for o in self.outcomes for d in o.failed_checks]

    @property
    def warnings(self) -> list[str]:
        return [d for o in self.outcomes for d in o.warnings]

    @property
    def evaluated(self) -> int:
        return sum(len(o.results) for o in self.outcomes)

    def summary(self) -> str:
        """One line per failed or warning check, for task logs and CLI output."""
        lines = [f"failed: {c}" for c in self.failed_checks]
        lines += [f"warning: {c}" for c in self.warnings]
        return "\n".join(lines) or "all checks passed"


def describe(
    suite: str,
    title: str,
    label: str | None,
    success: bool,
    observed: Mapping[str, Any],
    *,
    noun: str = "values",
    expected: str = "",
) -> str:
    """`raw_election_results: expect_column_values_to_be_between(votants) failed: 3 ...`.

    `title` names the check, `label` says in words what a SQL or Python check asserts; keyed
    examples (`{"bureau_id": ..., "votants": -3}`) say where, bare values only say what.
    """
    head = f"{suite}: {title}"
    if label:
        head += f" [{label}]"
    if success:
        return f"{head} passed"
    if "exception" in observed:
        return f"{head} failed: could not evaluate: {observed['exception']}"
    count = observed.get("unexpected_count")
    examples = observed.get("partial_unexpected_index_list") or observed.get(
        "partial_unexpected_list"
    )
    if count is not None:
        detail = f"{count} unexpected {noun}"
        if examples:
            detail += f", e.g. {json.dumps(examples, ensure_ascii=False)}"
        return f"{head} failed: {detail}"
    observed_value = json.dumps(observed.get("observed_value"))
    return f"{head} failed: observed {observed_value}, expected {expected}"


def error_result(suite: str, target: str, error: str, *, expectation: str) -> CheckResult:
    """A pseudo-check recorded when a suite cannot run at all (missing table, GX error)."""
    return CheckResult(
        suite=suite,
        target=target,
        expectation=expectation,
        column=None,
        severity="fail",
        success=False,
        observed={"error": error},
        description=f"{suite}: {error}",
    )


def json_safe(value: Any) -> Any:
    """Plain JSON values for a jsonb column: NaN becomes null, dates and decimals text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


PERSONAL_TABLES = ("raw.canvass_", "raw.roll_", "quarantine.", "raw.batch_ledger")
"""Tables whose values may be personal (door-to-door exports, the electoral roll, rows refused
as written): examples of their failed checks never reach `ops` verbatim. The canvass suites also
read `raw.batch_ledger`, whose file names are the delivered export names."""

EXAMPLE_KEYS = ("partial_unexpected_list", "partial_unexpected_index_list")
WITHHELD = "(withheld)"


def holds_personal_values(table: str) -> bool:
    return table.startswith(PERSONAL_TABLES)


def scrub_examples(observed: Mapping[str, Any], table: str) -> dict[str, Any]:
    """`observed` with the example values of a personal table keyed, for `ops` and alerts.

    Issue 14: a failed check's examples (GX `partial_unexpected_list`, the keyed rows of
    `partial_unexpected_index_list`, a SQL check's offending rows) were copied verbatim into
    ops.quality_results, then through the check's description into ops.gate_runs,
    ops.publication_log and the alerts. For a personal table, numbers (counts, line numbers,
    batch ids) are kept and every text value becomes `k:<16 hex>`, an HMAC with the canvass
    secret: an engineer holding the secret can find the row, a reader of `ops` learns nothing.
    Without a secret the text is withheld. Other tables (public results, census, contours) keep
    their examples: they are what an engineer needs to find the bad row.
    """
    if not holds_personal_values(table) or not any(k in observed for k in EXAMPLE_KEYS):
        return dict(observed)
    key = _example_key()

    def keyed(value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping):
            return {str(k): keyed(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [keyed(v) for v in value]
        if key is None:
            return WITHHELD
        return "k:" + hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:16]

    out = dict(observed)
    for name in EXAMPLE_KEYS:
        if name in out and out[name] is not None:
            out[name] = keyed(out[name])
    return out


def _example_key() -> bytes | None:
    """The canvass secret (the key the loaders pseudonymise with), None when none is set."""
    from ingestion.canvass.pseudonymise import CanvassSecretError, resolve_secret

    try:
        return resolve_secret().encode("utf-8")
    except CanvassSecretError:
        return None


def scrub(message: str, url: str) -> str:
    """Never let a password travel into ops tables or alerts."""
    from scrutin.config import dsn_parts

    password = dsn_parts(url).password
    return message.replace(password, "***") if password else message


def record(url: str, run_id: str, results: Sequence[CheckResult]) -> None:
    """Append `results` to ops.quality_results under `run_id` (one transaction)."""
    from psycopg.types.json import Jsonb

    from scrutin.db import connect

    if not results:
        return
    rows = [
        (
            run_id,
            r.suite,
            r.target,
            r.expectation,
            r.column,
            r.severity,
            r.success,
            Jsonb(json_safe(dict(r.observed))),
        )
        for r in results
    ]
    with connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "insert into ops.quality_results "
            "(run_id, suite, target, expectation, column_name, severity, success, observed) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
