"""`scrutin airflow start|stop|status|run`: Airflow's scheduler, UI and workers as services.

The logic is `pipeline.airflow_services` (the same start script the docker-compose services run).
"""

from __future__ import annotations

import argparse
import json

from pipeline import exit_codes


def cmd_start(args: argparse.Namespace) -> int:
    from pipeline.airflow_services import ServiceError, login_hint, run_dir, service_environment
    from pipeline.airflow_services import start as start_services

    try:
        state = start_services(port=args.port, timeout=args.timeout, run_setup=not args.no_setup)
    except ServiceError as exc:
        print(f"scrutin airflow start: {exc}")
        return exit_codes.INFRASTRUCTURE
    env = service_environment()
    print(f"Airflow is up: {state.url}")
    print(f"  {login_hint(env)}")
    print(f"  components: {', '.join(f'{c} (pid {p})' for c, p in state.pids.items())}")
    print(f"  service logs: {run_dir()}/<component>.log; task logs: {state.home}/logs/")
    print("  every DAG is unpaused: they run on their schedules and assets from now on")
    print("  `scrutin airflow status` to check, `scrutin airflow stop` to stop everything")
    return exit_codes.OK


def cmd_stop(args: argparse.Namespace) -> int:
    from pipeline.airflow_services import stop

    stopped = stop()
    print(f"stopped {len(stopped)} process(es)" if stopped else "Airflow was not started here")
    return exit_codes.OK


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.airflow_services import status, unhealthy

    payload = status()
    if args.json:
        print(json.dumps(payload, indent=2))
    elif not payload["components"]:
        print(f"Airflow is not started from {payload['home']} (`scrutin airflow start`)")
    else:
        print(f"Airflow at {payload['url']} (home {payload['home']})")
        for name, proc in payload["components"].items():
            print(f"  {name:<14} pid {proc['pid']:<8} {'running' if proc['running'] else 'DOWN'}")
        answer = payload["health"]
        if answer is None:
            print("  health: no answer from the api-server")
        else:
            for key, value in answer.items():
                print(f"  health {key:<14} {(value or {}).get('status')}")
    healthy = payload["running"] and not unhealthy(payload["health"])
    return exit_codes.OK if healthy else exit_codes.INFRASTRUCTURE


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.airflow_services import run_component

    run_component(args.component)  # replaces this process
    return exit_codes.ERROR


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    from pipeline.airflow_services import COMPONENT_COMMANDS

    airflow = top.add_parser(
        "airflow", help="Airflow's api-server, scheduler, dag-processor, triggerer as services"
    ).add_subparsers(dest="action", required=True)
    p = airflow.add_parser(
        "start",
        help="set up, start every component in the background (logs under .airflow/services/), "
        "wait until healthy, print the URL and how to log in",
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help="api-server port (default: SCRUTIN_AIRFLOW_PORT, else 8080 when free, else any "
        "free port)",
    )
    p.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for health")
    p.add_argument("--no-setup", action="store_true", help="skip `scrutin setup` first")
    p.set_defaults(func=cmd_start)
    p = airflow.add_parser("stop", help="stop every process `scrutin airflow start` launched")
    p.set_defaults(func=cmd_stop)
    p = airflow.add_parser("status", help="each process and the api-server's health answer")
    p.add_argument("--json", action="store_true", help="the status as JSON")
    p.set_defaults(func=cmd_status)
    p = airflow.add_parser(
        "run",
        help="run one component in the foreground (what each docker-compose service runs)",
    )
    p.add_argument("component", choices=sorted(COMPONENT_COMMANDS))
    p.set_defaults(func=cmd_run)
