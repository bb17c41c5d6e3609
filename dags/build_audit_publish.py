"""Airflow DAG `build_audit_publish`: dbt build into `mart_audit`, audit, publish `mart`.

Thin wiring only: the gate lives in `pipeline.gate` (the same code `scrutin build` runs).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from typing import Any

from airflow.sdk import Param, dag, task

from pipeline.alerts import deadline_alert
from pipeline.assets import DBT_TASK_ARGS, DEFAULT_ARGS, PUBLISHED_MART, RAW_ASSETS

DOC_MD = """
### Build, audit, publish

Scheduled on any of the raw assets (`scrutin_raw_election_results`, `scrutin_raw_reu`,
`scrutin_raw_electoral_roll`, `scrutin_raw_canvass`, `scrutin_raw_census`, `scrutin_raw_geography`).

1. `dbt_build_audit_schema` — decides full, incremental or unchanged (`ops.build_decisions`:
   only the canvass data changed since the last publication -> incremental; nothing -> every
   task returns at once, see below), then `dbt build` (models,
   unit tests, data tests, contracts) into `mart_audit`, never into `mart`, of every node but
   the score marts (`tag:scores`); an incremental run builds only `source:canvass+` and the
   tests touching it, over copies of the other published tables. Every node result lands in
   `ops.dbt_results`.
2. `fit_ecological_model` — the ecological regression of the targeting scores (bloc share on
   census shares, ridge): predictions in `scores.ecological_predictions`, fit statistics in
   `ops.ecological_fits` (status `skipped` with the reason when the data cannot support a fit);
   an incremental run reuses the published fit.
3. `dbt_build_scores` — `dbt build --select tag:scores`: `polling_station_targeting`,
   `canvass_plan`, `commune_summary`, their unit tests and data tests. An incremental run
   whose fit is the published one built them in task 1 already (`ops.publication_log`:
   `scores_built_in_audit_stage`): this task then writes the dbt docs site only.
4. `validate_audit_schema` — the Great Expectations Checkpoints of the raw suites whose tables
   were written since their last passed validation (Data Docs updated; the others reused from
   `ops.raw_validations`), then the score audit: the published scores recomputed with the
   Python formulas (`ops.quality_results`).
5. `publish_mart` — one transaction under an advisory lock swaps `mart_audit` in as `mart`
   and keeps the previous one as `mart_prev` (`ops.publication_log`).

When nothing moved since the last publication (`ops.build_decisions.mode = 'unchanged'`), every
task returns at once, `publish_mart` is **skipped** (no asset event) and the gate run ends
`unchanged`: `mart` already is what these inputs give.

Param `accept_bureau_loss` (trigger with config, e.g. `{"accept_bureau_loss": ["2024_legi_t1"]}`):
the elections allowed to lose bureaux they had in the published `mart`, for this run only — a
legitimate correction; otherwise an election losing bureaux is refused (`docs/quality.md`).
Param `full_refresh` (boolean): rebuild everything even when only knocks changed.

A failing check fails the run **without retry** and publishes nothing: `mart` stays exactly as it
was. See `ops.gate_runs.failed_checks` and the runbook in `docs/operations.md`;
`scrutin publish --rollback` restores the previous publication.
"""


@dag(
    dag_id="build_audit_publish",
    # Any raw asset update (elections, REU, roll, canvass, census, geography) triggers a build.
    schedule=functools.reduce(operator.or_, RAW_ASSETS),
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    # Late: not done 2 hours after being queued (ops.alerts + notifiers).
    deadline=deadline_alert("build_audit_publish"),
    tags=["scrutin", "dbt", "quality", "publish"],
    doc_md=DOC_MD,
    params={
        "accept_bureau_loss": Param(
            [],
            type="array",
            items={"type": "string"},
            description="elections allowed to lose published bureaux in this run (docs/quality.md)",
        ),
        "full_refresh": Param(
            False,
            type="boolean",
            description="rebuild every node even when only the canvass data changed "
            "(docs/operations.md)",
        ),
    },
)
def build_audit_publish() -> None:
    @task(**DBT_TASK_ARGS)
    def dbt_build_audit_schema() -> dict[str, Any]:
        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.airflow_warehouse import warehouse_url
        from pipeline.gate import GateRefused, dbt_build_audit

        context = get_current_context()
        run_id = context["run_id"]
        accepted = tuple(context["params"].get("accept_bureau_loss") or ())
        full = bool(context["params"].get("full_refresh"))
        try:
            return {
                "run_id": run_id,
                **dbt_build_audit(warehouse_url(), run_id, accept_bureau_loss=accepted, full=full),
            }
        except GateRefused as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def fit_ecological_model(summary: dict[str, Any]) -> dict[str, Any]:
        from pipeline.airflow_warehouse import warehouse_url
        from pipeline.gate import fit_scores

        return {**summary, **fit_scores(warehouse_url(), summary["run_id"])}

    @task(**DBT_TASK_ARGS)
    def dbt_build_scores(summary: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.airflow_warehouse import warehouse_url
        from pipeline.gate import GateRefused
        from pipeline.gate import dbt_build_scores as build_scores

        try:
            return {**summary, **build_scores(warehouse_url(), summary["run_id"])}
        except GateRefused as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def validate_audit_schema(summary: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.airflow_warehouse import warehouse_url
        from pipeline.gate import GateRefused, validate_audit

        try:
            return {**summary, **validate_audit(warehouse_url(), summary["run_id"])}
        except GateRefused as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(outlets=[PUBLISHED_MART], retries=0)
    def publish_mart(summary: dict[str, Any]) -> dict[str, int]:
        from airflow.sdk.exceptions import AirflowSkipException

        from pipeline.airflow_warehouse import warehouse_url
        from pipeline.gate import publish_audited

        counts = publish_audited(warehouse_url(), summary["run_id"], summary)
        if not counts:
            # mode `unchanged` (a publication has tables): the gate run is closed and the build
            # released; skipped, so no asset event announces a publication that did not happen
            raise AirflowSkipException(f"nothing to publish: {summary.get('build_reason')}")
        return counts

    built = dbt_build_scores(fit_ecological_model(dbt_build_audit_schema()))
    publish_mart(validate_audit_schema(built))


build_audit_publish()
