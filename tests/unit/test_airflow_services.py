"""The start script's pure parts: the service environment, the commands, health, login."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import airflow_services as services


def _base(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"AIRFLOW_HOME": str(tmp_path / "home"), "PATH": "/usr/bin", **extra}


def test_service_environment_has_every_service_variable(tmp_path: Path) -> None:
    env = services.service_environment(_base(tmp_path), port=18123)
    assert set(services.SERVICE_VARIABLES) <= set(env)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"  # never 0.0.0.0 locally
    assert env["AIRFLOW__API__PORT"] == "18123"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18123/execution/"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW_CONN_SCRUTIN_WAREHOUSE"].startswith("postgres://")
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == str(
        tmp_path / "home" / "simple_auth_manager_passwords.json.generated"
    )


def test_what_the_operator_set_wins(tmp_path: Path) -> None:
    env = services.service_environment(
        _base(
            tmp_path,
            AIRFLOW__API__HOST="0.0.0.0",
            AIRFLOW__API_AUTH__JWT_SECRET="from-the-vault",
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        ),
        port=8080,
    )
    assert env["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "from-the-vault"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert not (tmp_path / "home" / "jwt_secret").exists()


def test_one_jwt_secret_for_every_component_and_restart(tmp_path: Path) -> None:
    first = services.service_environment(_base(tmp_path), port=1)
    again = services.service_environment(_base(tmp_path), port=2)
    secret = first["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert len(secret) >= 32 and secret == again["AIRFLOW__API_AUTH__JWT_SECRET"]
    mode = (tmp_path / "home" / "jwt_secret").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_service_environment_leaves_this_process_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW__API__PORT", raising=False)
    services.service_environment(_base(tmp_path), port=3)
    import os

    assert "AIRFLOW__API__PORT" not in os.environ


def test_each_component_runs_one_airflow_command() -> None:
    for component in services.COMPONENTS:
        argv = services.component_argv(component)
        assert Path(argv[0]).name == "airflow"
        assert argv[1:] == list(services.COMPONENT_COMMANDS[component])
    assert services.component_argv("celery-worker")[1:] == ["celery", "worker"]
    with pytest.raises(services.ServiceError, match="unknown Airflow component 'webserver'"):
        services.component_argv("webserver")


def test_unhealthy_lists_what_is_not_healthy_yet() -> None:
    healthy = {"status": "healthy"}
    assert services.unhealthy(None) == ["api-server"]
    answer = {
        "metadatabase": healthy,
        "scheduler": healthy,
        "dag_processor": {"status": "unhealthy"},
        "triggerer": {"status": None},
    }
    assert services.unhealthy(answer) == ["dag_processor", "triggerer"]
    assert services.unhealthy({k: healthy for k in services.HEALTH_KEYS}) == []


def test_login_hint_shows_the_generated_password(tmp_path: Path) -> None:
    env = services.service_environment(_base(tmp_path), port=4)
    Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).write_text(
        json.dumps({"admin": "s3cret"})
    )
    hint = services.login_hint(env)
    assert "admin / s3cret" in hint and "simple_auth_manager_passwords" in hint


def test_status_without_a_start(tmp_path: Path) -> None:
    payload = services.status(tmp_path)
    assert payload["running"] is False and payload["components"] == {}
    assert services.stop(tmp_path) == []


def test_group_members_finds_a_child_that_hides_its_marker() -> None:
    """A child in the leader's process group is found by its group, whatever its environment
    (the LocalExecutor's workers overwrite theirs with their process title)."""
    child = "import time; time.sleep(60)"
    leader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            f"subprocess.Popen([sys.executable, '-c', {child!r}], env={{}}); time.sleep(60)",
        ],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        members: set[int] = set()
        while len(members) < 2 and time.monotonic() < deadline:
            members = services.group_members({leader.pid})
            time.sleep(0.05)
        assert leader.pid in members and len(members) == 2
        assert os.getpid() not in members
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait(10)
    deadline = time.monotonic() + 10
    while services.group_members({leader.pid}) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert services.group_members({leader.pid}) == set()
