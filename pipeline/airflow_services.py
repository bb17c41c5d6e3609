"""Airflow as services: the one start script of the local path and of docker-compose.

`scrutin airflow run COMPONENT` replaces itself (exec) with one Airflow component in the
foreground, with the environment of `service_environment()`: that is what every compose service
runs. `scrutin airflow start` (and `make airflow`) runs `scrutin setup`, then the same
`scrutin airflow run COMPONENT` for each component in the background (logs and pid files under
`$AIRFLOW_HOME/services/`), waits for `/api/v2/monitor/health` and prints how to log in.
`status` reports each process and the health answer; `stop` stops every process the start
launched, children included (each carries the marker variable SCRUTIN_AIRFLOW_INSTANCE).

Why one script: the compose stack cannot be exercised where there is no Docker engine, so the
local path must run exactly its commands and its variable names (a test parses
docker-compose.yml against `COMPONENTS` and `SERVICE_VARIABLES`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrutin.config import apply_environment_defaults

log = logging.getLogger("scrutin.pipeline.airflow_services")

# Each component, the Airflow command it runs. The celery worker is the scale-out path
# (docker-compose profile `celery`, AIRFLOW__CORE__EXECUTOR=CeleryExecutor); not started locally.
COMPONENT_COMMANDS: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler",),
    "dag-processor": ("dag-processor",),
    "triggerer": ("triggerer",),
    "celery-worker": ("celery", "worker"),
}
# What `scrutin airflow start` launches, in this order.
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# Health keys of /api/v2/monitor/health that must say "healthy" before start returns.
HEALTH_KEYS = ("metadatabase", "scheduler", "dag_processor", "triggerer")

PORT_VARIABLE = "SCRUTIN_AIRFLOW_PORT"
INSTANCE_VARIABLE = "SCRUTIN_AIRFLOW_INSTANCE"
DEFAULT_USERS = "admin:admin"

# The variables a service is configured with, beyond apply_environment_defaults()'s: the compose
# services set the same names (checked by tests/unit/test_compose.py).
SERVICE_VARIABLES = (
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__API__WORKERS",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
)


class ServiceError(RuntimeError):
    """A service could not start, or is not healthy in time (the message names its log)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def airflow_home() -> Path:
    apply_environment_defaults()
    return Path(os.environ["AIRFLOW_HOME"])


def run_dir(home: Path | None = None) -> Path:
    """Where the services' own logs, pid files and state live: $AIRFLOW_HOME/services/."""
    return (home or airflow_home()) / "services"


def _jwt_secret(home: Path) -> str:
    """One JWT secret shared by every component (tasks authenticate to the api-server with it),
    kept in $AIRFLOW_HOME (0600) so restarts keep accepting the tokens already issued."""
    path = home / "jwt_secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def service_environment(
    base: Mapping[str, str] | None = None, *, port: int | None = None
) -> dict[str, str]:
    """The environment of every Airflow component: the project defaults, then the service
    settings. A variable already set (compose, the operator, a test) always wins."""
    saved = dict(os.environ)
    try:
        if base is not None:
            os.environ.clear()
            os.environ.update(base)
        apply_environment_defaults()
        env = dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    home = Path(env["AIRFLOW_HOME"])
    api_port = str(port or env.get("AIRFLOW__API__PORT") or env.get(PORT_VARIABLE) or 8080)
    host = env.get("AIRFLOW__API__HOST") or "127.0.0.1"
    defaults = {
        # DAGs run on their schedules and assets from the first start.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": api_port,
        # One worker: the UI and the task API of a campaign fit in one process on 2 cores.
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": DEFAULT_USERS,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
            home / "simple_auth_manager_passwords.json.generated"
        ),
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    if "AIRFLOW__API_AUTH__JWT_SECRET" not in env:
        env["AIRFLOW__API_AUTH__JWT_SECRET"] = _jwt_secret(home)
    return env


def component_argv(component: str) -> list[str]:
    """The command line of one component (`airflow api-server`, ...)."""
    if component not in COMPONENT_COMMANDS:
        raise ServiceError(
            f"unknown Airflow component {component!r}: one of {', '.join(COMPONENT_COMMANDS)}"
        )
    local = Path(sys.executable).parent / "airflow"
    binary = str(local) if local.exists() else (shutil.which("airflow") or "airflow")
    return [binary, *COMPONENT_COMMANDS[component]]


def run_component(component: str) -> None:
    """Replace this process with `component` in the foreground (compose, and each local child)."""
    argv = component_argv(component)
    env = service_environment()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(argv[0], argv, env)


# --- background services (the local path) ---------------------------------------------------


@dataclass(frozen=True)
class ServiceState:
    """What `start` launched: read by `status` and `stop`."""

    url: str
    instance: str
    pids: dict[str, int]
    home: str

    def save(self, folder: Path) -> None:
        (folder / "state.json").write_text(json.dumps(self.__dict__, indent=2))

    @classmethod
    def load(cls, folder: Path) -> ServiceState | None:
        path = folder / "state.json"
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not reaped) is not running.
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


def instance_pids(instance: str) -> list[int]:
    """Every process whose environment carries this instance's marker (children included)."""
    marker = f"{INSTANCE_VARIABLE}={instance}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0") and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def group_members(groups: set[int]) -> set[int]:
    """Live processes whose process group is one of `groups` (read from /proc/<pid>/stat)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # After the command name (in parentheses, which may hold spaces): state, ppid, pgrp.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) in groups and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def health(url: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """The api-server's /api/v2/monitor/health answer, or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=timeout) as resp:
            return dict(json.load(resp))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def unhealthy(answer: dict[str, Any] | None) -> list[str]:
    """The components not (yet) healthy in a health answer."""
    if answer is None:
        return ["api-server"]
    return [key for key in HEALTH_KEYS if (answer.get(key) or {}).get("status") != "healthy"]


def login_hint(env: Mapping[str, str]) -> str:
    """How to log in: the users and where SimpleAuthManager wrote their passwords."""
    path = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    users = [u.split(":")[0] for u in env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")]
    try:
        passwords = json.loads(path.read_text())
    except (OSError, ValueError):
        passwords = {}
    shown = ", ".join(f"{u} / {passwords.get(u, '?')}" for u in users)
    return f"log in as {shown} (passwords file: {path})"


def start(
    *, port: int | None = None, timeout: float = 240.0, run_setup: bool = True
) -> ServiceState:
    """Set up, launch every component in the background, wait until healthy."""
    home = airflow_home()
    folder = run_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    running = ServiceState.load(folder)
    if running and any(pid_alive(p) for p in running.pids.values()):
        raise ServiceError(
            f"Airflow already runs from {home} at {running.url}: "
            "`scrutin airflow status`, or `scrutin airflow stop` first"
        )
    if run_setup:
        from pipeline.setup import setup

        setup()
    if port is None:
        wanted = os.environ.get("AIRFLOW__API__PORT") or os.environ.get(PORT_VARIABLE)
        port = int(wanted) if wanted else (8080 if port_is_free(8080) else free_port())
    if not port_is_free(port):
        raise ServiceError(f"port {port} is taken: set {PORT_VARIABLE} to a free port")
    env = service_environment(port=port)
    instance = f"{home}:{time.time_ns()}"
    env[INSTANCE_VARIABLE] = instance
    # The log servers of the task runner and the triggerer: free ports, so two instances
    # (the operator's and a test's) never collide on Airflow's fixed defaults.
    env.setdefault("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", str(free_port()))
    env.setdefault("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", str(free_port()))
    scrutin = Path(sys.executable).parent / "scrutin"
    launcher = [str(scrutin)] if scrutin.exists() else [sys.executable, "-m", "pipeline.cli"]
    pids: dict[str, int] = {}
    for component in COMPONENTS:
        log = (folder / f"{component}.log").open("ab")
        proc = subprocess.Popen(
            [*launcher, "airflow", "run", component],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        pids[component] = proc.pid
        (folder / f"{component}.pid").write_text(str(proc.pid))
    url = f"http://{env['AIRFLOW__API__HOST']}:{port}"
    state = ServiceState(url=url, instance=instance, pids=pids, home=str(home))
    state.save(folder)
    try:
        wait_healthy(state, folder, timeout)
    except ServiceError:
        stop(home)
        raise
    return state


def wait_healthy(state: ServiceState, folder: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    answer: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        for component, pid in state.pids.items():
            if not pid_alive(pid):
                raise ServiceError(
                    f"{component} exited at start: see {folder / (component + '.log')}\n"
                    + tail(folder / f"{component}.log")
                )
        answer = health(state.url)
        if not unhealthy(answer):
            return answer or {}
        time.sleep(2)
    raise ServiceError(
        f"not healthy after {timeout:.0f} s ({', '.join(unhealthy(answer))}): "
        f"see the logs in {folder}"
    )


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def status(home: Path | None = None) -> dict[str, Any]:
    """Each process (pid, running) and the health answer, for `scrutin airflow status`."""
    home = home or airflow_home()
    state = ServiceState.load(run_dir(home))
    if state is None:
        return {"running": False, "home": str(home), "components": {}, "health": None}
    components = {name: {"pid": pid, "running": pid_alive(pid)} for name, pid in state.pids.items()}
    return {
        "running": any(c["running"] for c in components.values()),
        "home": state.home,
        "url": state.url,
        "components": components,
        "health": health(state.url),
    }


# How long `stop` waits for killed processes to disappear.
KILL_WAIT_S = 10.0


def stop(home: Path | None = None, grace: float = 30.0) -> list[int]:
    """Stop every process of the last start (process groups, then any marked straggler)."""
    home = home or airflow_home()
    folder = run_dir(home)
    state = ServiceState.load(folder)
    if state is None:
        return []
    groups = set(state.pids.values())  # each component was started as a group leader

    def remaining() -> set[int]:
        # The marker alone misses children that rewrote their environment block with their
        # process title (the LocalExecutor's workers do): their process group still names them.
        return set(instance_pids(state.instance)) | group_members(groups)

    targets = set(state.pids.values()) | remaining()
    for pid in groups:
        _signal_group(pid, signal.SIGTERM)
    for pid in instance_pids(state.instance):
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        left = [p for p in targets | remaining() if pid_alive(p)]
        if not left:
            break
        time.sleep(0.5)
    for pid in groups:
        _signal_group(pid, signal.SIGKILL)
    for pid in remaining() | {p for p in targets if pid_alive(p)}:
        _signal(pid, signal.SIGKILL)
    # SIGKILL is delivered, not yet acted on: a process tearing down a large memory map (the
    # scheduler, on a loaded machine) still runs for a moment. `stop` returns once it is gone,
    # so that "stopped" is true when it is printed.
    for pid in state.pids.values():
        _reap(pid)
    deadline = time.monotonic() + KILL_WAIT_S
    while (left := [p for p in targets | remaining() if pid_alive(p)]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
        for pid in state.pids.values():
            _reap(pid)
    if left:
        log.warning("processes still alive %.0f s after SIGKILL: %s", KILL_WAIT_S, left)
    (folder / "state.json").unlink(missing_ok=True)
    for component in state.pids:
        (folder / f"{component}.pid").unlink(missing_ok=True)
    return sorted(targets)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        _signal(pid, sig)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect a child launched by this very process (a test's start), so it is no zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
