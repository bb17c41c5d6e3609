"""Airflow DAG `ingest_census`: land INSEE census IRIS files (base-ic themes, Filosofi) into `raw`.

Thin wiring only: the registry, acquisition, parsing, loading and checks live in
`ingestion/census/` and `expectations/suites_census.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task

from pipeline.assets import DEFAULT_ARGS, NETWORK_TASK_ARGS, RAW_CENSUS

DOC_MD = """
### Ingest INSEE census (IRIS)

Once a month, reads the census registry and loads every entry not loaded yet into
`raw.census_iris` (one row per IRIS) and `raw.census_iris_values` (one row per indicator, long
shape) with `COPY`, one transaction per file. A file already loaded is skipped by its sha256
(a pinned entry is skipped before anything is fetched), so a new vintage is picked up as soon as
its registry entry exists.

* **Registry**: `SCRUTIN_CENSUS_REGISTRY` (production: `config/census_registry.yml`, URLs fetched
  through pynsee's catalogue or the registry URL into `SCRUTIN_CACHE_DIR`); when unset, the
  landing folder's manifest `SCRUTIN_CENSUS_DIR/manifest.yml` (default: the bundled synthetic
  sample `data/sample/census/`, no network).
* **Emits** `scrutin_raw_census` only when something new was loaded **and** the raw census suites
  passed; `build_audit_publish` is scheduled on it.
* **Fails without retry** on bad data (wrong layout, bad IRIS code, wrong decimal, checksum
  mismatch: the ledger `raw.batch_ledger` names file, line and column); retries only on
  infrastructure errors (network, database).
* Details: `docs/census.md`; runbook: `docs/operations.md`.
"""


@dag(
    dag_id="ingest_census",
    schedule="@monthly",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["scrutin", "ingestion", "census"],
    doc_md=DOC_MD,
)
def ingest_census() -> None:
    @task
    def read_census_registry() -> list[dict[str, Any]]:
        """The registry (or landing manifest) entries, as dicts for the mapped loads."""
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.census.registry import RegistryError, read_registry
        from ingestion.census.sources import census_registry_path

        try:
            return [spec.as_dict() for spec in read_registry(census_registry_path())]
        except RegistryError as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(**NETWORK_TASK_ARGS)
    def load_census_entry(entry: dict[str, Any]) -> dict[str, Any]:
        """Load one entry (idempotent); bad data fails the task without retry."""
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.census.pipeline import load_entry
        from ingestion.census.registry import spec_from_dict
        from ingestion.download import DownloadRefused
        from ingestion.errors import SourceFormatError
        from pipeline.airflow_warehouse import warehouse_url

        spec = spec_from_dict(entry)
        try:
            report = load_entry(warehouse_url(), spec)
        except (SourceFormatError, DownloadRefused) as exc:
            raise AirflowFailException(str(exc)) from exc
        return {
            "key": spec.label,
            "status": report.status,
            "iris": report.iris_rows,
            "values": report.value_rows,
        }

    @task(outlets=[RAW_CENSUS])
    def validate_raw_census(reports: list[dict[str, Any]]) -> dict[str, Any]:
        """Raw census suites gate the asset: a failing batch never emits it."""
        from expectations.suites_census import RAW_SUITES
        from pipeline.raw_gate import loaded_reports, validate_new_batches

        return validate_new_batches(
            len(loaded_reports(reports)),
            RAW_SUITES,
            source="census",
            run_prefix="ingest_census",
            nothing_new="no new census file",
        )

    validate_raw_census(load_census_entry.expand(entry=read_census_registry()))


ingest_census()
