"""Airflow DAG `ingest_geography`: land contours and recompute the IRIS -> bureau weights.

Thin wiring only: reading, loading, the weights engine and the checks live in `ingestion/geo/`
and `expectations/suites_geo.py`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task

from pipeline.assets import DEFAULT_ARGS, NETWORK_TASK_ARGS, RAW_GEOGRAPHY

DOC_MD = """
### Ingest geography

Reads the geography landing folder (`SCRUTIN_GEO_DIR`, default: the bundled sample
`data/sample/geo/`, whose `manifest.yml` names the kind — `iris`, `bureau`, `commune` — and the
id fields of each file, local or a published URL with its sha256), loads each new contour file
into `raw.geo_iris`, `raw.geo_bureaux` or `raw.geo_communes` (WGS84 WKB, areas in m² in
Lambert-93; invalid polygons repaired and counted; a file already loaded is skipped by sha256),
then recomputes the IRIS -> polling-station weights `raw.iris_bureau_weights` from the contours
and the REU addresses (`raw.reu_addresses`), replacing the previous set in one transaction — a
no-op when no input batch changed — and runs the geography suites.

* **Emits** `scrutin_raw_geography` only when contours or weights changed **and** the suites
  passed; `build_audit_publish` is scheduled on it.
* **Fails without retry** on bad data (undeclared CRS, empty geometry, duplicate id: the ledger
  `raw.batch_ledger` names the file and the feature); retries only on infrastructure errors.
* Monthly: contours change yearly, the REU extract a few times a year. Docs: `docs/geography.md`.
"""


@dag(
    dag_id="ingest_geography",
    schedule="@monthly",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["scrutin", "ingestion", "geography"],
    doc_md=DOC_MD,
)
def ingest_geography() -> None:
    @task
    def discover_contour_files() -> list[dict[str, Any]]:
        """The manifest's files, as dicts (a bad manifest fails without retry)."""
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.geo.manifest import GeoManifestError, read_geo_manifest

        try:
            return [entry.as_dict() for entry in read_geo_manifest()]
        except GeoManifestError as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(**NETWORK_TASK_ARGS)
    def load_contour_file(entry: dict[str, Any]) -> dict[str, Any]:
        """Load one contour file (idempotent); bad data fails the task without retry."""
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.download import DownloadRefused
        from ingestion.errors import SourceFormatError
        from ingestion.geo.loader import load_geo_file
        from ingestion.geo.manifest import entry_from_dict
        from pipeline.airflow_warehouse import warehouse_url

        item = entry_from_dict(entry)
        try:
            path = item.local_path()
            report = load_geo_file(
                warehouse_url(),
                path,
                item.kind,  # type: ignore[arg-type]
                id_field=item.id_field,
                commune_field=item.commune_field,
                crs=item.crs,
                layer=item.layer,
                geo_year=item.geo_year,
            )
        except (SourceFormatError, DownloadRefused) as exc:
            raise AirflowFailException(str(exc)) from exc
        return {
            "path": str(path),
            "kind": report.kind,
            "status": report.status,
            "features": report.features,
            "repaired": len(report.repaired),
        }

    @task
    def recompute_allocation_weights(reports: list[dict[str, Any]]) -> dict[str, Any]:
        """Weights from the loaded contours and REU addresses (skipped if no input changed)."""
        from ingestion.geo.weights import compute_weights
        from pipeline.airflow_warehouse import warehouse_url

        # Wait for every load (the argument); the fingerprint decides whether to recompute.
        del reports
        report = compute_weights(warehouse_url())
        return {"status": report.status, "rows": report.rows, "iris": report.iris}

    @task(outlets=[RAW_GEOGRAPHY])
    def validate_raw_geography(
        reports: list[dict[str, Any]], weights: dict[str, Any]
    ) -> dict[str, Any]:
        """Geography suites gate the asset: a failing batch never emits it."""
        from expectations.suites_geo import RAW_SUITES
        from pipeline.raw_gate import loaded_reports, validate_new_batches

        loaded = len(loaded_reports(reports))
        summary = validate_new_batches(
            loaded + (weights["status"] == "loaded"),
            RAW_SUITES,
            source="geography",
            run_prefix="ingest_geography",
            nothing_new="no new contour and no new weights",
        )
        return {**summary, "files_loaded": loaded, "weights": weights["status"]}

    loads = load_contour_file.expand(entry=discover_contour_files())
    validate_raw_geography(loads, recompute_allocation_weights(loads))


ingest_geography()
