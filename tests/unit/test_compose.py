"""docker-compose.yml runs the local path's start script, with the local path's variable names.

No Docker engine runs on the development machines, so the stack is checked here against the
code the local path runs (`make airflow` is exercised for real by tests/e2e).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.airflow_services import COMPONENT_COMMANDS, COMPONENTS, SERVICE_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery-worker",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_airflow_service_runs_the_start_script(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(AIRFLOW_SERVICES.values()) == set(COMPONENT_COMMANDS)
    assert {AIRFLOW_SERVICES[s] for s in AIRFLOW_SERVICES if s in services} >= set(COMPONENTS)
    for name, component in AIRFLOW_SERVICES.items():
        service = services[name]
        assert service["command"] == ["scrutin", "airflow", "run", component], name
        # Not the image's /entrypoint, which waits for a database airflow-init creates.
        assert service["entrypoint"] == ["/usr/bin/dumb-init", "--"], name
        assert service["depends_on"]["airflow-init"] == {
            "condition": "service_completed_successfully"
        }
        assert "healthcheck" in service, name
        assert service["user"].startswith("${AIRFLOW_UID"), name


def test_init_runs_setup_directly(compose: dict[str, Any]) -> None:
    init = compose["services"]["airflow-init"]
    assert init["command"] == ["scrutin", "setup"]
    assert init["entrypoint"] == ["/usr/bin/dumb-init", "--"]
    assert init["restart"] == "no"
    assert init["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert init["environment"]["SCRUTIN_METABASE_DB"] == "metabase"


def test_same_variable_names_as_the_local_path(compose: dict[str, Any]) -> None:
    from scrutin.config import WAREHOUSE_CONN_VARIABLE

    env = compose["services"]["airflow-scheduler"]["environment"]
    for name in (*SERVICE_VARIABLES, WAREHOUSE_CONN_VARIABLE, "SCRUTIN_DATABASE_URL"):
        assert name in env, f"docker-compose.yml does not set {name}"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
        "http://airflow-apiserver:8080/"
    )
    documented = (ROOT / "docs" / "configuration.md").read_text()
    for name in env:
        if name.startswith("SCRUTIN_"):
            assert f"`{name}`" in documented, f"{name} is not in docs/configuration.md"


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if service.get("restart") != "no":  # one-off jobs (init, provisioning) end
            assert "healthcheck" in service, name
    one_off = {n for n, s in compose["services"].items() if s.get("restart") == "no"}
    assert one_off == {"airflow-init", "metabase-provision"}


def test_dashboards_are_provisioned_once_metabase_is_healthy(compose: dict[str, Any]) -> None:
    job = compose["services"]["metabase-provision"]
    assert job["command"][:4] == ["scrutin", "metabase", "provision", "--url"]
    assert job["depends_on"]["metabase"]["condition"] == "service_healthy"
    assert {"SCRUTIN_METABASE_USER", "SCRUTIN_METABASE_PASSWORD", "SCRUTIN_BI_PASSWORD"} <= set(
        job["environment"]
    )


def test_metabase_keeps_its_application_db_in_postgres(compose: dict[str, Any]) -> None:
    env = compose["services"]["metabase"]["environment"]
    assert env["MB_DB_TYPE"] == "postgres" and env["MB_DB_DBNAME"] == "metabase"
    assert "MB_DB_FILE" not in env


def test_celery_profile_is_redis_and_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["redis"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["profiles"] == ["celery"]
    env = services["airflow-worker"]["environment"]
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert "--extra celery" in (ROOT / "Dockerfile").read_text()


def test_landing_volume_starts_with_the_sample_manifests(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["airflow-scheduler"]["volumes"]
    assert "scrutin-landing:/opt/scrutin/landing" in volumes
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in ("elections", "reu", "roll", "census", "geo"):
        assert (ROOT / "data" / "sample" / source).is_dir()
        assert source in dockerfile
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["SCRUTIN_ELECTIONS_DIR"] == "/opt/scrutin/landing/elections"
    assert env["SCRUTIN_CANVASS_DROP"] == "/opt/scrutin/landing/canvass-drop"


def test_dockerignore_never_ships_secrets_or_local_state() -> None:
    lines = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for pattern in (".env", ".venv/", "var/", ".airflow/"):
        assert pattern in lines, pattern


def test_no_secret_in_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    found = re.findall(r"^\s*([A-Z_]*(?:PASSWORD|SECRET|_PASS)[A-Z_]*): (\S+)", text, re.M)
    assert len(found) >= 4
    for name, value in found:
        if not name.endswith("_FILE"):
            assert value.startswith("${"), f"{name}: {value}"
