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
The extracts (one per commune: ~35,000 nationally) are loaded by at most 32 mapped tasks, each
taking a contiguous group in name order over one connection, every file in its own transaction; a
refused file fails its task after the rest of its group loaded.
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
    def discover_roll_files() -> list[list[str]]:
        """Roll extracts of the landing folder (paths only: files are read where they are), in
        at most ROLL_LOAD_TASKS groups: a national roll is ~35,000 commune files."""
        from ingestion.loaders.roll import roll_file_groups, roll_files

        return roll_file_groups(roll_files())

    @task
    def load_roll_extracts(paths: list[str]) -> list[dict[str, Any]]:
        """Aggregate and load a group of extracts (each idempotent, in its own transaction);
        counts only leave the files. A refused file fails the task once the others loaded."""
        from airflow.sdk.exceptions import AirflowFailException

        from ingestion.loaders.roll import load_roll_files
        from pipeline.airflow_warehouse import warehouse_url

        reports, refused = load_roll_files(warehouse_url(), paths)
        if refused:
            # The messages name file, line and column only; keep it that way.
            # At most the first five (a wrong mapping refuses every file of a group), then how
            # many more: the ledger has each one.
            shown = "; ".join(error for _, error in refused[:5])
            more = f" (and {len(refused) - 5} more: raw.batch_ledger)" if len(refused) > 5 else ""
            raise AirflowFailException(
                f"{len(refused)} of {len(paths)} roll extracts refused: {shown}{more}"
            )
        return [{"status": r.status, "electors": r.electors_counted} for r in reports]

    @task(outlets=[RAW_ELECTORAL_ROLL])
    def validate_raw_roll(groups: list[list[dict[str, Any]]]) -> dict[str, Any]:
        """Roll suites gate the asset: a failing batch never emits it."""
        return _validate([report for group in groups for report in group], "roll")

    reu_reports = load_reu_table.expand(path=discover_reu_files())
    reu_checked = validate_raw_reu(reu_reports)
    roll_paths = discover_roll_files()
    reu_checked >> roll_paths
    roll_reports = load_roll_extracts.expand(paths=roll_paths)
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
