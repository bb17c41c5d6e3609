"""The raw-data gate of an ingestion DAG: validate what was just loaded, or announce nothing.

Every ingestion DAG ends the same way: when no file of the run was loaded (all skipped), nothing
is validated and the source's asset is not emitted; otherwise the source's raw suites run, and a
failed `fail` check fails the task without retry (bad data, not infrastructure), so the asset is
never emitted for a failing batch. Written once here; the DAG files call it from their task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def loaded_reports(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The mapped tasks' reports whose file was loaded in this run.

    Indexed, not iterated: iterating Airflow's lazy XCom sequence probes one past its end.
    """
    return [reports[i] for i in range(len(reports)) if reports[i]["status"] == "loaded"]


def validate_new_batches(
    loaded: int, suites: Sequence[str], *, source: str, run_prefix: str, nothing_new: str
) -> dict[str, Any]:
    """Skip (no asset) when `loaded` is 0; else run `suites` and fail on a failed `fail` check."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from expectations.validations import run_suites_once
    from pipeline.airflow_warehouse import warehouse_url
    from pipeline.gate import new_run_id

    if not loaded:
        raise AirflowSkipException(f"{nothing_new}: nothing to announce downstream")
    outcome = run_suites_once(warehouse_url(), list(suites), new_run_id(run_prefix)).outcome
    if not outcome.success:
        raise AirflowFailException(
            f"raw {source} checks failed:\n" + "\n".join(outcome.failed_checks)
        )
    return {"files_loaded": loaded, "warnings": len(outcome.warnings)}
