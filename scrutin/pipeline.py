"""The audit gate: dbt build into `mart_audit`, expectations, then publication — or nothing.

The DAG `build_audit_publish` runs these three steps as three tasks; `scrutin build` runs them in a
row. Both call the functions below, so there is one implementation of the gate.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from scrutin.db import connect, ensure_warehouse

log = logging.getLogger("scrutin.pipeline")


class GateRefused(RuntimeError):
    """A dbt test, a model or an expectation failed: nothing was published."""

    def __init__(self, stage: str, failed_checks: list[str]) -> None:
        self.stage = stage
        self.failed_checks = failed_checks
        listing = "\n  - ".join(failed_checks) or "(no detail)"
        super().__init__(
            f"publication refused at stage '{stage}': {len(failed_checks)} failed check(s)\n"
            f"  - {listing}\n`mart` is unchanged."
        )


@dataclass
class GateReport:
    run_id: str
    dbt_nodes: int = 0
    expectations: int = 0
    published_counts: dict[str, int] = field(default_factory=dict)


def new_run_id(prefix: str = "manual") -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}__{now}__{uuid.uuid4().hex[:6]}"


def _record_gate(url: str, run_id: str, status: str, failed: list[str] | None = None) -> None:
    with connect(url) as conn, conn.transaction():
        conn.execute(
            "insert into ops.gate_runs (run_id, status, failed_checks) values (%s, %s, %s::jsonb) "
            "on conflict (run_id) do update set status = excluded.status, "
            "failed_checks = excluded.failed_checks, "
            "finished_at = case when excluded.status = 'running' then null else now() end",
            (run_id, status, json.dumps(failed or [])),
        )


def dbt_build_audit(url: str, run_id: str) -> dict[str, Any]:
    """Stage 1: dbt build (models, unit tests, data tests, contracts) into `mart_audit`."""
    from scrutin.dbt_runner import build

    with connect(url) as conn:
        ensure_warehouse(conn)
    _record_gate(url, run_id, "running")
    outcome = build(url, run_id)
    if not outcome.success:
        _record_gate(url, run_id, "refused", [f"dbt: {u}" for u in outcome.failed])
        raise GateRefused("dbt build", [f"dbt: {u}" for u in outcome.failed])
    log.info("dbt build passed: %d nodes", len(outcome.results))
    return {"dbt_nodes": len(outcome.results)}


def validate_audit(url: str, run_id: str) -> dict[str, Any]:
    """Stage 2: Great Expectations suites on raw and on the audit schema."""
    from expectations.registry import audit_suite_names, raw_suite_names
    from expectations.runner import run_suites

    outcome = run_suites(url, [*raw_suite_names(), *audit_suite_names()], run_id)
    evaluated = sum(len(o.results) for o in outcome.outcomes)
    if not outcome.success:
        _record_gate(url, run_id, "refused", outcome.failed_checks)
        raise GateRefused("expectations", outcome.failed_checks)
    log.info("expectations passed: %d evaluated", evaluated)
    return {"expectations": evaluated, "warnings": outcome.warnings}


def publish_audited(url: str, run_id: str, summary: dict[str, Any]) -> dict[str, int]:
    """Stage 3: swap `mart_audit` in as `mart`, log the publication."""
    from scrutin.publish import publish

    with connect(url) as conn:
        report = publish(conn, run_id, summary)
    _record_gate(url, run_id, "passed")
    log.info("published run %s: %s", run_id, report.row_counts)
    return report.row_counts


def build_audit_publish(url: str, run_id: str | None = None) -> GateReport:
    """All three stages; raises GateRefused (and publishes nothing) when a check fails."""
    run_id = run_id or new_run_id()
    dbt_summary = dbt_build_audit(url, run_id)
    gx_summary = validate_audit(url, run_id)
    counts = publish_audited(url, run_id, {**dbt_summary, **gx_summary})
    return GateReport(
        run_id=run_id,
        dbt_nodes=int(dbt_summary["dbt_nodes"]),
        expectations=int(gx_summary["expectations"]),
        published_counts=counts,
    )
