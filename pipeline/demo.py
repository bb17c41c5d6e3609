"""`scrutin demo`: every DAG, for real (`dag.test()`), on the bundled sample, then a summary."""

from __future__ import annotations

import os
import time
from typing import Any

from scrutin.config import (
    DAGS_DIR,
    PROJECT_ROOT,
    data_docs_dir,
    database_url,
    dbt_docs_dir,
    docs_links,
    dsn_parts,
    is_local_cluster,
    local_passfile,
    redact,
)

# Where `make demo` writes the campaign report (git-ignored, like the docs sites).
DEMO_REPORT = PROJECT_ROOT / "var" / "report.html"

# Every ingestion DAG on the bundled sample, in dependency order (REU addresses before the
# allocation weights and the canvass bureau resolution), then the gate.
DEMO_DAGS = (
    "ingest_elections",
    "ingest_electoral_roll",
    "ingest_census",
    "ingest_geography",
    "ingest_canvass_feedback",
    "build_audit_publish",
)


class DemoFailed(RuntimeError):
    pass


def _psql_command() -> str:
    """A psql command the reader can paste: on the embedded cluster it names the pass file
    (the password itself is never printed); elsewhere the redacted URL."""
    url = database_url()
    if not is_local_cluster(url):
        return f"psql {redact(url)}"
    p = dsn_parts(url)
    return f"PGPASSFILE={local_passfile()} psql -h {p.host} -p {p.port} -U {p.user} {p.dbname}"


def run_dag(dag_id: str) -> Any:
    """Run one DAG end to end in this process with `dag.test()`; raise if it did not succeed."""
    from airflow.dag_processing.dagbag import DagBag

    from pipeline.alerts import DEADLINES_VARIABLE

    # dag.test() cannot run a DAG with a Deadline Alert (pipeline.alerts): parse them without.
    os.environ[DEADLINES_VARIABLE] = "0"
    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise DemoFailed(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    if dag is None:
        raise DemoFailed(f"DAG {dag_id} not found in {DAGS_DIR}")
    started = time.monotonic()
    dag_run = dag.test()
    state = str(getattr(dag_run, "state", "unknown"))
    tasks = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    elapsed = time.monotonic() - started
    print(f"    {dag_id}: {state} in {elapsed:.1f} s — tasks: {tasks}", flush=True)
    if not state.endswith("success"):
        raise DemoFailed(f"DAG {dag_id} ended in state {state}: see the task logs above")
    return dag_run


def summary_lines() -> list[str]:
    from pipeline.campaign_access import configured_campaign_id
    from pipeline.publish import table_row_counts
    from scrutin.db import connect

    campaign = (configured_campaign_id(),)  # the mart may hold several campaigns' rows

    lines: list[str] = []
    with connect() as conn, conn.cursor() as cur:
        cur.execute(
            "select election_id, count(*), sum(registered), sum(voters), sum(valid_votes) "
            "from mart.polling_station_results group by election_id order by election_id"
        )
        for election_id, n, registered, voters, valid in cur.fetchall():
            lines.append(
                f"  {election_id}: {n} polling stations published, registered {registered}, "
                f"voters {voters}, valid votes {valid}"
            )
        cur.execute(
            "select election_id, bureau_id, commune_name, registered, voters, "
            "round(turnout_rate::numeric, 3), leading_nuance "
            "from mart.polling_station_results order by election_id, bureau_id limit 3"
        )
        lines.append(
            "  sample rows (election, bureau, commune, registered, voters, turnout, lead):"
        )
        lines.extend("    " + " | ".join(str(v) for v in row) for row in cur.fetchall())
        cur.execute(
            "select count(*) filter (where suppressed), count(*) "
            "from mart.canvass_bureau_opinion where campaign_id = %s",
            campaign,
        )
        row = cur.fetchone()
        if row:
            lines.append(
                f"  canvass opinion: {row[1] - row[0]} bureaux published, {row[0]} suppressed "
                "(fewer than k_min answers to every question)"
            )
        cur.execute(
            "select count(value_per_canvasser_hour), count(*), "
            "count(*) filter (where do_not_mobilise), min(params_version) "
            "from mart.polling_station_targeting where campaign_id = %s",
            campaign,
        )
        scored = cur.fetchone()
        cur.execute(
            "select count(*), sum(hours), sum(expected_net_votes) from mart.canvass_plan "
            "where campaign_id = %s",
            campaign,
        )
        plan = cur.fetchone()
        if scored and plan:
            lines.append(
                f"  targeting: {scored[0]} of {scored[1]} bureaux scored, {scored[2]} marked "
                f"do_not_mobilise (params {scored[3]}); plan: {plan[1] or 0:g} canvasser-hours "
                f"to {plan[0]} bureaux, {plan[2] or 0:.1f} expected net votes "
                "(`scrutin plan --hours N` for another budget)"
            )
        lines.append("  published tables:")
        lines.extend(
            f"    mart.{table}: {n} rows"
            for table, n in sorted(table_row_counts(cur, "mart").items())
        )
    return lines


def run_demo(verbose: bool = False) -> int:
    import os
    import warnings

    from pipeline.setup import setup

    # Task logs go to $AIRFLOW_HOME/logs either way; the console shows warnings only unless -v.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    # Demo mode: the canvass sample is pseudonymised with a public demo key (never real data).
    os.environ.setdefault("SCRUTIN_DEMO", "1")
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    started = time.monotonic()
    setup()
    for dag_id in DEMO_DAGS:
        print(f"==> running DAG {dag_id} with dag.test()", flush=True)
        run_dag(dag_id)
    print()
    print(f"Scrutin demo done in {time.monotonic() - started:.0f} s. Published mart:")
    for line in summary_lines():
        print(line)
    print()
    print("Where to look next:")
    print(f"  {_psql_command()}   (schemas mart, ops, raw)")
    print("  scrutin status                  (last publication, row counts)")
    print("  docs/operations.md              (runbook, failed gates, rollback)")
    print(f"  {data_docs_dir() / 'index.html'}   (Great Expectations Data Docs of the raw suites)")
    print(f"  {dbt_docs_dir() / 'index.html'}   (dbt docs: models, columns, tests, lineage)")
    print()
    print(f"Campaign report: {write_demo_report()}")
    return 0


def write_demo_report() -> str:
    """The campaign report of the demo's publication (`scrutin report`), its absolute path."""
    from pipeline.report import write_report
    from scrutin.db import connect

    with connect() as conn:
        return str(write_report(conn, DEMO_REPORT, docs_links()))
