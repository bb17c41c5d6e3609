"""`scrutin` command line: one sub-command per pipeline step, the same code the DAGs run."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline import exit_codes
from pipeline.cli_args import add_json_flag, input_file, print_json
from scrutin.config import apply_environment_defaults, database_url, docs_links, redact

log = logging.getLogger("scrutin")


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("great_expectations", "airflow", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_setup(args: argparse.Namespace) -> int:
    from pipeline.setup import setup

    setup(with_airflow=not args.no_airflow)
    print(f"warehouse ready: {redact(database_url())}")
    return 0


def cmd_ingest_elections(args: argparse.Namespace) -> int:
    from ingestion.loaders.elections import load_results_file

    report = load_results_file(
        database_url(), Path(args.path), args.election_id, layout=args.layout
    )
    if args.json:
        print_json(report)
        return exit_codes.OK
    print(
        f"{args.path}: {report.status} (batch {report.batch_id}): {report.rows_read} rows read, "
        f"{report.bureau_rows} bureaux, {report.candidate_rows} candidate rows, "
        f"{report.rows_rejected} rejected, {report.duration_s:.2f} s"
    )
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from pipeline.build_lock import BuildBusy
    from pipeline.gate import GateRefused, build_audit_publish

    try:
        report = build_audit_publish(
            database_url(),
            args.run_id,
            wait_seconds=args.wait,
            accept_bureau_loss=args.accept_bureau_loss,
            full=args.full,
        )
    except BuildBusy as exc:
        print(f"scrutin build: {exc}", file=sys.stderr)
        if args.json:
            print(json.dumps({"status": "busy", "reason": str(exc)}))
        return exit_codes.BUSY
    except GateRefused as exc:
        print(str(exc), file=sys.stderr)
        if args.json:
            print(
                json.dumps(
                    {"status": "refused", "stage": exc.stage, "failed_checks": exc.failed_checks}
                )
            )
        return exit_codes.GATE_REFUSED
    unchanged = report.mode == "unchanged"
    if args.json:
        print(
            json.dumps(
                {
                    "status": "unchanged" if unchanged else "published",
                    "run_id": report.run_id,
                    "mode": report.mode,
                    "mode_reason": report.reason,
                    "dbt_nodes": report.dbt_nodes,
                    "expectations": report.expectations,
                    "published_counts": report.published_counts,
                    "data_docs": str(report.data_docs) if report.data_docs else None,
                },
                indent=2,
            )
        )
        return exit_codes.OK
    if unchanged:
        print(f"nothing to publish (run {report.run_id}): {report.reason}")
        return exit_codes.OK
    print(
        f"published run {report.run_id} ({report.mode} build: {report.reason}): "
        f"{report.dbt_nodes} dbt nodes and {report.expectations} expectations passed"
    )
    for table, n in sorted(report.published_counts.items()):
        print(f"  mart.{table}: {n} rows")
    if report.data_docs:
        print(f"Data Docs of the raw suites: {report.data_docs}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from pipeline.gate import new_run_id
    from pipeline.publish import PublicationError, rollback
    from scrutin.db import connect

    if not args.rollback:
        print(
            "publication only happens through the audit gate: run `scrutin build` "
            "(or `scrutin publish --rollback` to restore the previous publication)",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    try:
        with connect() as conn:
            report = rollback(conn, new_run_id("rollback"))
    except PublicationError as exc:
        print(f"rollback refused: {exc}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    print(f"rolled back: mart now holds {report.row_counts}")
    return 0


def status_payload() -> dict[str, Any]:
    """What `scrutin status` shows: where the warehouse is, the last publication, row counts."""
    from pipeline.build_lock import run_liveness
    from pipeline.publish import table_row_counts
    from scrutin.db import connect
    from scrutin.warehouse.ledger import mark_abandoned

    with connect() as conn, conn.cursor() as cur:
        # A load killed mid-way left a `loading` ledger row: say what it is before showing it.
        abandoned = mark_abandoned(conn)
        cur.execute(
            "select source, file_name, started_at from raw.batch_ledger "
            "where status = 'loading' order by batch_id"
        )
        loading = [
            {"source": r[0], "file_name": r[1], "started_at": r[2].isoformat()}
            for r in cur.fetchall()
        ]
        cur.execute(
            "select publication_id, run_id, action, published_at, row_counts, "
            "check_summary ->> 'campaign_id' "
            "from ops.publication_log order by publication_id desc limit 1"
        )
        row = cur.fetchone()
        last = None
        if row:
            last = {
                "publication_id": row[0],
                "run_id": row[1],
                "action": row[2],
                "published_at": row[3].isoformat(),
                # the campaign whose rows it replaced (the others' were kept as published)
                "campaign_id": row[5],
            }
        cur.execute(
            "select run_id, status, finished_at, failed_checks, stage from ops.gate_runs "
            "order by started_at desc limit 1"
        )
        gate = cur.fetchone()
        # A `running` row whose process died is shown as what it is (pipeline/build_lock.py).
        status = run_liveness(conn, gate[0], gate[1]) if gate else None
        return {
            "warehouse": redact(database_url()),
            "last_publication": last,
            "last_gate_run": (
                {
                    "run_id": gate[0],
                    "status": status,
                    "stage": gate[4],
                    "finished_at": gate[2].isoformat() if gate[2] else None,
                    "failed_checks": gate[3],
                }
                if gate
                else None
            ),
            "loads_in_progress": loading,
            "loads_marked_abandoned": abandoned,
            "mart_row_counts": table_row_counts(cur, "mart"),
            "docs": docs_links(),
        }


def cmd_status(args: argparse.Namespace) -> int:
    payload = status_payload()
    if args.json:
        print(json.dumps(payload, indent=2, default=str))
        return 0
    print(f"warehouse: {payload['warehouse']}")
    last = payload["last_publication"]
    print(
        "last publication: "
        + (
            f"{last['action']} of run {last['run_id']}"
            + (f" (campaign {last['campaign_id']})" if last["campaign_id"] else "")
            + f" at {last['published_at']}"
            if last
            else "none"
        )
    )
    gate = payload["last_gate_run"]
    if gate:
        where = f" (stage {gate['stage']})" if gate["status"] == "running" else ""
        print(f"last gate run: {gate['run_id']} -> {gate['status']}{where}")
        for check in gate["failed_checks"] or []:
            print(f"  failed: {check}")
    for load in payload["loads_in_progress"]:
        print(f"load in progress: {load['source']} {load['file_name']} since {load['started_at']}")
    if payload["loads_marked_abandoned"]:
        ids = ", ".join(str(i) for i in payload["loads_marked_abandoned"])
        print(f"loads found dead and marked abandoned in raw.batch_ledger: batch {ids}")
    for table, n in sorted(payload["mart_row_counts"].items()):
        print(f"  mart.{table}: {n} rows")
    for label, url in payload["docs"].items():
        print(f"{label}: {url}")
    print("campaign report: `scrutin report -o report.html` (docs/analysts.md)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.demo import run_demo

    return run_demo(verbose=args.verbose)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scrutin", description="Scrutin: polling-station mart for French election campaigns."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "setup",
        help="start the local PostgreSQL (unless SCRUTIN_DATABASE_URL), "
        "create databases, roles, Airflow metadata",
    )
    p.add_argument("--no-airflow", action="store_true", help="skip Airflow's metadata DB")
    p.set_defaults(func=cmd_setup)

    ingest = sub.add_parser("ingest", help="load one source file by hand").add_subparsers(
        dest="source", required=True
    )
    p = ingest.add_parser("elections", help="a Ministry per-bureau results file")
    p.add_argument("path", type=input_file)
    p.add_argument("--election-id", required=True, help="e.g. 2024_legi_t1")
    p.add_argument(
        "--layout", default=None, help="override header detection (see `scrutin results layouts`)"
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_ingest_elections)

    from pipeline.commands import register_all

    register_all(sub, ingest)

    p = sub.add_parser("build", help="dbt build into mart_audit, audit, publish (the gate)")
    p.add_argument("--run-id", default=None)
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another build is running, wait up to SECONDS for it (default: exit at once, "
        "code 6)",
    )
    p.add_argument(
        "--accept-bureau-loss",
        action="append",
        default=[],
        metavar="ELECTION_ID",
        help="let this election lose bureaux it had in the published mart, for this build only "
        "(a legitimate correction; repeat for several elections; docs/quality.md)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="rebuild every dbt node even when only the canvass data changed since the last "
        "publication (by default the build decides: docs/operations.md)",
    )
    p.add_argument("--json", action="store_true", help="the outcome as JSON on standard output")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("publish", help="publication management")
    p.add_argument("--rollback", action="store_true", help="restore the previous publication")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("status", help="warehouse, last publication, published row counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("demo", help="run every DAG on the bundled sample with dag.test()")
    p.set_defaults(func=cmd_demo)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scrutin")
    except PackageNotFoundError:  # a checkout used without `pip install -e .`
        return "unknown"


def _unreachable_server(exc: BaseException) -> BaseException | None:
    """The connection failure behind `exc`, if that is what it is: a psycopg (or psycopg2,
    through SQLAlchemy) OperationalError that the server never answered (no SQLSTATE)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        from_driver = kind.__module__.split(".")[0] in ("psycopg", "psycopg2")
        unanswered = getattr(current, "sqlstate", None) is None and not getattr(
            current, "pgcode", None
        )
        if kind.__name__ == "OperationalError" and from_driver and unanswered:
            return current
        if kind.__name__ == "FailedToConnectError":  # dbt's adapter
            return current
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def exit_code_for(exc: BaseException) -> tuple[int, str]:
    """The exit code and the message of an error that ends a command (docs/operations.md)."""
    from scrutin.warehouse.migrate import WarehouseNotMigrated

    down = _unreachable_server(exc)
    if down is not None:
        first = str(down).strip().splitlines()[0] if str(down).strip() else type(down).__name__
        return exit_codes.INFRASTRUCTURE, (
            f"the warehouse at {redact(database_url())} is not reachable ({first}). "
            "Start the project's PostgreSQL with `make setup` (or `scrutin setup`), "
            "or set SCRUTIN_DATABASE_URL to a running server."
        )
    if isinstance(exc, WarehouseNotMigrated):
        return exit_codes.INFRASTRUCTURE, str(exc)
    if isinstance(exc, (ValueError, FileNotFoundError, IsADirectoryError, UnicodeError)):
        return exit_codes.BAD_INPUT, str(exc)
    return exit_codes.ERROR, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    apply_environment_defaults()
    started = time.monotonic()
    try:
        code = int(args.func(args))
    except BrokenPipeError:
        # The reader went away (`scrutin … | head`): not an error of ours; silence the flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exit_codes.OK
    except Exception as exc:
        # Errors a user can hit (bad file, unreachable server) carry their own message; the
        # exit code tells a script which kind it was (pipeline/exit_codes.py).
        if args.verbose or os.environ.get("SCRUTIN_TRACEBACK"):
            raise
        code, message = exit_code_for(exc)
        print(f"scrutin {args.command}: error: {message}", file=sys.stderr)
        return code
    finally:
        _stop_children()
    log.debug("done in %.1f s", time.monotonic() - started)
    return code


def _stop_children() -> None:
    """Leave no process behind (issue 15): stop this process's children before it exits.

    dbt creates its locks in a `spawn` multiprocessing context, and the first one starts
    Python's resource tracker, a child that exits only after its parent has gone. `scrutin build`
    then left it in its process group, and a zombie wherever PID 1 does not reap (containers).
    Multiprocessing children (if any) are ended first; then the finalizers that unregister the
    semaphores run, so that the tracker stops cleanly (no "leaked semaphore" warning) and is
    waited for here.
    """
    import multiprocessing
    from multiprocessing import util

    for child in multiprocessing.active_children():
        child.terminate()
        child.join(5)
    tracker_module = sys.modules.get("multiprocessing.resource_tracker")
    if tracker_module is None:
        return
    # What interpreter exit would run: semaphores unlinked and unregistered (private, no stub).
    getattr(util, "_run_finalizers")(0)  # noqa: B009
    stop = getattr(tracker_module._resource_tracker, "_stop", None)
    if stop is not None:
        stop()


if __name__ == "__main__":
    sys.exit(main())
