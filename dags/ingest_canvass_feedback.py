"""Airflow DAG `ingest_canvass_feedback`: door-to-door feedback from the canvass drop zone.

Thin wiring only: mapping, pseudonymisation, loading and checks live in `ingestion/canvass/` and
`expectations/suites_canvass.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task

from pipeline.assets import DEFAULT_ARGS, NETWORK_TASK_ARGS, RAW_CANVASS

DOC_MD = """
### Ingest canvass feedback (every 15 minutes)

Loads every export waiting in the canvass drop zone (`SCRUTIN_CANVASS_DROP`, default
`var/canvass-drop/`; any fsspec URL) — Qomon, Ecanvasser, NationBuilder, OSDI or Renaissance PAP
exports, CSV or JSON-lines — into `raw.canvass_knocks`, one transaction per file, then moves it to
`processed/` (or `failed/` with `<name>.reason.txt`). Canvassers and addresses are HMAC-keyed with
the secret `SCRUTIN_CANVASS_SECRET` / connection `scrutin_canvass_secret` before anything is
written; names, phones, e-mails and notes are dropped. Rows that cannot be read as knocks go to
`quarantine.canvass_rows` (line, column, reason — never the content).

* **Emits** `scrutin_raw_canvass` only when a file landed rows **and** the raw canvass suites
  passed (`build_audit_publish` is scheduled on it: dbt resolves bureaux, keeps the newest version
  of each knock and flags them there).
* **Skips** when no delivery waits.
* **Fails without retry** when the secret or the campaign configuration is missing, when an app
  mapping of `config/canvass/` is invalid, when a
  fail-severity check fails, and (after emitting) when a delivery was refused, so someone looks
  at `failed/`. Infrastructure errors are retried.
* Runbook: `docs/canvass.md`.
"""


@dag(
    dag_id="ingest_canvass_feedback",
    schedule=dt.timedelta(minutes=15),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["scrutin", "ingestion", "canvass", "personal-data"],
    doc_md=DOC_MD,
)
def ingest_canvass_feedback() -> None:
    @task(**NETWORK_TASK_ARGS)
    def load_canvass_drop_zone() -> dict[str, Any]:
        """Load each waiting delivery once (sha256 ledger) and move it out of the way."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from ingestion.canvass.dropzone import process_drop_zone, seed_demo_deliveries
        from ingestion.canvass.mapping import MappingError, load_mappings
        from ingestion.canvass.pseudonymise import CanvassSecretError, demo_mode, resolve_secret
        from pipeline.airflow_warehouse import warehouse_url
        from scrutin.campaign import CampaignConfigError, load_campaign

        try:
            secret = resolve_secret(use_airflow=True)
            campaign = load_campaign()
            # A broken app mapping is configuration, not a passing outage: no retry.
            load_mappings()
        except (CanvassSecretError, CampaignConfigError, MappingError) as exc:
            raise AirflowFailException(str(exc)) from exc
        if demo_mode():
            seed_demo_deliveries()
        results = process_drop_zone(warehouse_url(), campaign=campaign, secret=secret)
        if not results:
            raise AirflowSkipException("no canvass delivery waiting")
        return {
            "files_loaded": sum(1 for r in results if r.outcome == "loaded"),
            "new_rows": sum(r.new_rows for r in results),
            "skipped": [r.name for r in results if r.outcome == "skipped"],
            "refused": {r.name: r.reason for r in results if r.outcome == "failed"},
        }

    @task(outlets=[RAW_CANVASS])
    def validate_raw_canvass(summary: dict[str, Any]) -> dict[str, Any]:
        """Raw canvass suites gate the asset: nothing landed, or a failed check, emits nothing."""
        from expectations.suites_canvass import RAW_SUITES
        from pipeline.raw_gate import validate_new_batches

        # A file whose rows were all quarantined landed nothing: nothing to announce either.
        return validate_new_batches(
            summary["files_loaded"] if summary["new_rows"] else 0,
            RAW_SUITES,
            source="canvass",
            run_prefix="ingest_canvass_feedback",
            nothing_new="no door knock landed",
        )

    @task
    def report_refused_deliveries(summary: dict[str, Any] | None) -> None:
        """A refused file fails the run (the good files are announced anyway) so it is seen."""
        from airflow.sdk.exceptions import AirflowFailException

        refused = (summary or {}).get("refused") or {}
        if refused:
            listing = "\n".join(f"- {name}: {reason}" for name, reason in refused.items())
            raise AirflowFailException(
                f"{len(refused)} delivery(ies) refused, moved to failed/ with a reason file:\n"
                + listing
            )

    summary = load_canvass_drop_zone()
    validate_raw_canvass(summary)
    report_refused_deliveries(summary)


ingest_canvass_feedback()
