"""Airflow DAG `ingest_elections`: land Ministry per-bureau results into `raw`.

Thin wiring only: the parsing, loading and checks live in `ingestion/` and `expectations/`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task

from pipeline.assets import DEFAULT_ARGS, NETWORK_TASK_ARGS, RAW_ELECTION_RESULTS

DOC_MD = """
### Ingest election results

Looks at the results landing folder (`SCRUTIN_ELECTIONS_DIR`, default: the bundled sample
`data/sample/elections/`, whose `manifest.yml` maps each file — a local path, or a published URL
with its sha256, fetched once into the cache `SCRUTIN_CACHE_DIR` — to an election id such as
`2024_legi_t1`, or names a data.gouv GENERAL/CANDIDATS pair or an election of the results
registry `config/results_registry.yml`), loads each new file into `raw.election_results_bureau` and
`raw.election_results_candidate` with `COPY` (one transaction per file; a file already loaded is
skipped by its sha256), then runs the raw Great Expectations suites.

* **Emits** `scrutin_raw_election_results` only when something new was loaded **and** the raw
  suites passed; `build_audit_publish` is scheduled on it.
* **Fails without retry** on bad data (the ledger `raw.batch_ledger` says which file, line and
  column); retries only on infrastructure errors.
* Runbook: `docs/operations.md`.
"""


@dag(
    dag_id="ingest_elections",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["scrutin", "ingestion", "elections"],
    doc_md=DOC_MD,
)
def ingest_elections() -> None:
    @task
    def discover_results_files() -> list[dict[str, Any]]:
        """The manifest's entries (files, URLs, data.gouv pairs, registry ids), as dicts."""
        from ingestion.manifest import read_elections_manifest

        return [entry.as_dict() for entry in read_elections_manifest()]

    @task(**NETWORK_TASK_ARGS)
    def load_results_file(entry: dict[str, Any]) -> dict[str, Any]:
        """Load one entry (idempotent); bad data fails the task without retry."""
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.download import DownloadRefused
        from ingestion.errors import SourceFormatError
        from ingestion.loaders.results_fetch import FetchRefused, land_manifest_entry
        from ingestion.manifest import entry_from_dict
        from pipeline.airflow_warehouse import warehouse_url

        item = entry_from_dict(entry)
        try:
            # A checksum mismatch is a data problem (fail now); a network error is retried.
            reports = land_manifest_entry(warehouse_url(), item)
        except (SourceFormatError, DownloadRefused, FetchRefused) as exc:
            raise AirflowFailException(str(exc)) from exc
        statuses = {r.status for r in reports}
        return {
            "entry": item.label,
            "status": "loaded" if "loaded" in statuses else min(statuses, default="empty"),
            "rows": sum(r.rows_read for r in reports),
            "elections": sorted(r.election_id for r in reports),
        }

    @task(outlets=[RAW_ELECTION_RESULTS])
    def validate_raw_results(reports: list[dict[str, Any]]) -> dict[str, Any]:
        """Raw suites gate the asset: a failing batch never emits it."""
        from expectations.suites import RAW_SUITES
        from pipeline.raw_gate import loaded_reports, validate_new_batches

        return validate_new_batches(
            len(loaded_reports(reports)),
            RAW_SUITES,
            source="results",
            run_prefix="ingest_elections",
            nothing_new="no new results file",
        )

    validate_raw_results(load_results_file.expand(entry=discover_results_files()))


ingest_elections()
