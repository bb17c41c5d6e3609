"""Airflow DAG `purge_expired_personal_data`: delete door knocks past retention, then check.

Thin wiring only: the purge lives in `ingestion/canvass/purge.py`, the gate in
`expectations/suites_canvass.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task

from pipeline.alerts import deadline_alert
from pipeline.assets import DEFAULT_ARGS

DOC_MD = """
### Purge expired personal data (daily)

1. `purge_expired_door_knocks` deletes the rows of `raw.canvass_knocks` whose campaign's retention
   has ended (election date + `retention_days`, per `ops.canvass_campaigns`) **and** that have been
   aggregated: the latest entry of `ops.publication_log` is a publication made after the row's
   `loaded_at` (landed rows never change). Every run writes `ops.purge_log` (one row per
   campaign). The opposition register `raw.canvass_suppression` is kept. The same task deletes
   the raw exports of the drop zone's `processed/` (after `SCRUTIN_CANVASS_KEEP_PROCESSED_DAYS`,
   7) and `failed/` (after `SCRUTIN_CANVASS_KEEP_FAILED_DAYS`, 30), and all of them once every
   campaign is past retention: the exports hold names, phones and notes.
2. `check_retention_gate` runs the `raw_canvass_knocks` suite: its fail-severity check "no door
   knock remains past its campaign's retention date" fails the run (and blocks every publication)
   while any expired row survives — e.g. rows never aggregated. Runbook: `docs/canvass.md`
   (publish, purge again, or `scrutin canvass purge --force`).
"""


@dag(
    dag_id="purge_expired_personal_data",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    # The purge is a legal duty: a run not done an hour after being queued raises an alert.
    deadline=deadline_alert("purge_expired_personal_data"),
    tags=["scrutin", "privacy", "retention", "canvass"],
    doc_md=DOC_MD,
)
def purge_expired_personal_data() -> None:
    @task
    def purge_expired_door_knocks() -> dict[str, Any]:
        """Delete expired, aggregated door knocks (ops.purge_log), and the drop zone's raw exports
        past their retention (docs/canvass.md, "Retention and purge")."""
        from airflow.sdk import get_current_context

        from ingestion.canvass.dropzone import drop_root
        from ingestion.canvass.purge import purge_expired
        from pipeline.airflow_warehouse import warehouse_url

        report = purge_expired(
            warehouse_url(), run_id=get_current_context()["run_id"], drop_zone=drop_root()
        )
        return {
            "rows_expired": report.rows_expired,
            "rows_deleted": report.rows_deleted,
            "rows_kept_not_aggregated": report.rows_kept,
            "exports_deleted": len(report.drop_zone.deleted) if report.drop_zone else 0,
        }

    @task
    def check_retention_gate(summary: dict[str, Any]) -> dict[str, Any]:
        """Fail while any door knock past retention remains (the publication gate fails too)."""
        from airflow.sdk.exceptions import AirflowFailException

        from expectations.checkpoint import run_suites
        from expectations.suites_canvass import RETENTION_SUITES
        from pipeline.airflow_warehouse import warehouse_url
        from pipeline.gate import new_run_id

        outcome = run_suites(warehouse_url(), RETENTION_SUITES, new_run_id("retention"))
        if not outcome.success:
            raise AirflowFailException(
                f"retention gate failed after the purge ({summary}):\n" + outcome.summary()
            )
        return summary

    check_retention_gate(purge_expired_door_knocks())


purge_expired_personal_data()
