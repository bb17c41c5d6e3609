"""Airflow DAG `ingest_electoral_roll`: INSEE REU tables and the campaign's roll extract.

Thin wiring only: parsing, aggregation, loading and checks live in `ingestion/` and
`expectations/`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import dag, task

from pipeline.assets import DEFAULT_ARGS, RAW_ELECTORAL_ROLL, RAW_REU

DOC_MD = """
### Ingest the electoral roll (REU tables and the campaign's roll extract)

Two landing folders, looked at every week:

* `SCRUTIN_REU_DIR` (default: the bundled `data/sample/reu/`): INSEE "Bureaux de vote et adresses
  de leurs électeurs" tables, `table-bv-reu` and `table-adresses-reu` (`*.csv`, `*.csv.gz`; the
  table is detected from the header) -> `raw.reu_bureaux`, `raw.reu_addresses`.
* `SCRUTIN_ROLL_DIR` (default: the bundled synthetic `data/sample/roll/`): the campaign's
  liste électorale extracts (`*.csv`; ages are taken at the date in the REU export's file name)
  -> aggregated **while read** into `raw.roll_bureau_counts` and `raw.roll_bureau_doors`, after
  the REU load: a line whose bureau is not in the bureau reference (REU, results) is quarantined.
  **No name, birth date or address is stored, logged or copied**; the file stays where it is.

Files already loaded are skipped by sha256; a new file replaces the rows of the communes it covers.
Then the raw Great Expectations suites of `expectations/suites_roll.py` run.

* **Emits** `scrutin_raw_reu` / `scrutin_raw_electoral_roll` only when something new was loaded
  **and** the suites passed; `build_audit_publish` is scheduled on them.
* **Fails without retry** on bad data (the ledger `raw.batch_ledger` names file, line and column,
  never a roll value); retries only on infrastructure errors.
* Runbook: `docs/electoral-roll.md`, `docs/operations.md`.
"""


@dag(
    dag_id="ingest_electoral_roll",
    schedule="@weekly",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["scrutin", "ingestion", "electoral-roll"],
    doc_md=DOC_MD,
)
def ingest_electoral_roll() -> None:
    @task
    def discover_reu_files() -> list[str]:
        """REU table files of the landing folder, in name order."""
        from ingestion.loaders.reu import reu_files

        return [str(p) for p in reu_files()]

    @task
    def load_reu_table(path: str) -> dict[str, Any]:
        """Load one REU table file (idempotent); bad data fails the task without retry."""
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.errors import SourceFormatError
        from ingestion.loaders.reu import load_reu_file
        from pipeline.airflow_warehouse import warehouse_url

        try:
            report = load_reu_file(warehouse_url(), path)
        except SourceFormatError as exc:
            raise AirflowFailException(str(exc)) from None
        return {"table": report.table, "status": report.status, "rows": report.rows_read}

    @task(outlets=[RAW_REU])
    def validate_raw_reu(reports: list[dict[str, Any]]) -> dict[str, Any]:
        """REU suites gate the asset: a failing batch never emits it."""
        return _validate(reports, "reu")

    # After the REU load (roll bureau codes are checked against the bureau reference), and even
    # when it failed or found nothing: the election results are a reference too.
    @task(trigger_rule="all_done")
    def discover_roll_files() -> list[str]:
        """Roll extracts of the landing folder (paths only: files are read where they are)."""
        from ingestion.loaders.roll import roll_files

        return [str(p) for p in roll_files()]

    @task
    def load_roll_extract(path: str) -> dict[str, Any]:
        """Aggregate and load one extract (idempotent); counts only leave the file."""
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.errors import SourceFormatError
        from ingestion.loaders.roll import load_roll_file
        from pipeline.airflow_warehouse import warehouse_url

        try:
            report = load_roll_file(warehouse_url(), path)
        except SourceFormatError as exc:
            # `from None`: the message names file, line and column only; keep it that way.
            raise AirflowFailException(str(exc)) from None
        return {"status": report.status, "electors": report.electors_counted}

    @task(outlets=[RAW_ELECTORAL_ROLL])
    def validate_raw_roll(reports: list[dict[str, Any]]) -> dict[str, Any]:
        """Roll suites gate the asset: a failing batch never emits it."""
        return _validate(reports, "roll")

    reu_reports = load_reu_table.expand(path=discover_reu_files())
    reu_checked = validate_raw_reu(reu_reports)
    roll_paths = discover_roll_files()
    reu_checked >> roll_paths
    roll_reports = load_roll_extract.expand(path=roll_paths)
    validate_raw_roll(roll_reports)


def _validate(reports: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Skip when nothing new was loaded, fail when a `fail` check failed (no retry)."""
    from expectations.suites_roll import REU_SUITES, ROLL_SUITES
    from pipeline.raw_gate import loaded_reports, validate_new_batches

    return validate_new_batches(
        len(loaded_reports(reports)),
        REU_SUITES if kind == "reu" else ROLL_SUITES,
        source=kind,
        run_prefix=f"ingest_{kind}",
        nothing_new=f"no new {kind} file",
    )


ingest_electoral_roll()
