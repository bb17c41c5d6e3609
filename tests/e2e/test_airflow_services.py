"""Airflow as services, for real: `scrutin airflow start`, the REST API, an alert, the UI, stop.

The services (api-server, scheduler, dag-processor, triggerer; LocalExecutor) start on free
ports with an AIRFLOW_HOME under tmp, a metadata database of their own and a copy of the
demo-loaded warehouse (so the ingestion DAGs the scheduler runs at once find every file already
loaded, and the one build is the one this test triggers). A malformed canvass export waits in
the drop zone: the canvass DAG's first scheduled run refuses it and fails, which must reach a
webhook receiver started here on 127.0.0.1 and `ops.alerts`. Everything is stopped at the end,
and no process of the instance may be left.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest

from pipeline.airflow_services import (
    ServiceState,
    free_port,
    group_members,
    instance_pids,
    pid_alive,
)
from scrutin.config import DAGS_DIR, PROJECT_ROOT, with_database
from tests.conftest import _SERVER_URL, TEST_DB
from tests.e2e.conftest import DEMO_DB, DemoWarehouse

WAREHOUSE_DB = f"{TEST_DB}_services"
METADATA_DB = f"{TEST_DB}_services_airflow"
DAG_IDS = sorted(
    m.group(1)
    for f in DAGS_DIR.glob("*.py")
    for m in re.finditer(r'dag_id="([^"]+)"', f.read_text(encoding="utf-8"))
)
BAD_EXPORT = "unknown-app-export.csv"


class _AlertReceiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Services:
    url: str
    env: dict[str, str]
    home: Path
    warehouse: str
    alerts: list[dict[str, Any]]
    state: ServiceState

    def token(self) -> str:
        users = json.loads(
            Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text()
        )
        answer = self.call("POST", "/auth/token", {"username": "admin", "password": users["admin"]})
        return str(answer["access_token"])

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str = ""
    ) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)


def _scrutin(
    args: list[str], env: dict[str, str], timeout: float, *, codes: tuple[int, ...] = (0,)
) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode in codes, f"scrutin {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clone_demo_warehouse() -> str:
    """A copy of the demo-loaded warehouse (a template copy: about a second)."""
    with psycopg.connect(with_database(_SERVER_URL, "postgres"), autocommit=True) as admin:
        admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            (DEMO_DB,),
        )
        for name in (WAREHOUSE_DB, METADATA_DB):
            admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{WAREHOUSE_DB}" template "{DEMO_DB}"')
    return with_database(_SERVER_URL, WAREHOUSE_DB)


@pytest.fixture(scope="module")
def services(
    demo_warehouse: DemoWarehouse, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("airflow-services")
    receiver = HTTPServer(("127.0.0.1", 0), type("Receiver", (_AlertReceiver,), {"received": []}))
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    warehouse = _clone_demo_warehouse()
    drop = tmp / "canvass-drop"
    drop.mkdir()
    (drop / BAD_EXPORT).write_text("colonne_a;colonne_b\n1;2\n", encoding="utf-8")
    home = tmp / "airflow-home"
    # Nothing of this session's Airflow settings: the services derive their own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "SCRUTIN_DATABASE_URL": warehouse,
            "SCRUTIN_AIRFLOW_DATABASE_URL": with_database(_SERVER_URL, METADATA_DB).replace(
                "postgresql://", "postgresql+psycopg2://", 1
            ),
            "AIRFLOW_HOME": str(home),
            "SCRUTIN_DEMO": "1",
            "SCRUTIN_DEADLINE_ALERTS": "1",  # the services run them (off for dag.test())
            # Their own Data Docs and dbt logs: the tier's belong to the other modules' runs.
            "SCRUTIN_DATA_DOCS_DIR": str(tmp / "data-docs"),
            "DBT_LOG_PATH": str(tmp / "dbt-logs"),
            "SCRUTIN_CANVASS_DROP": str(drop),
            "SCRUTIN_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{receiver.server_port}/alerts",
        }
    )
    env.pop("SCRUTIN_ALERT_EMAIL", None)
    port = free_port()
    started = time.monotonic()
    out = _scrutin(["airflow", "start", "--port", str(port), "--timeout", "300"], env, 600)
    print(f"services healthy after {time.monotonic() - started:.0f} s:\n{out}")
    state = ServiceState.load(home / "services")
    assert state is not None
    svc = Services(
        url=f"http://127.0.0.1:{port}",
        env={
            **env,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                home / "simple_auth_manager_passwords.json.generated"
            ),
        },
        home=home,
        warehouse=warehouse,
        alerts=receiver.RequestHandlerClass.received,  # type: ignore[attr-defined]
        state=state,
    )
    try:
        yield svc
    finally:
        subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "airflow", "stop"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        receiver.shutdown()
        receiver.server_close()
        if not os.environ.get("SCRUTIN_KEEP_TEST_DB"):
            with psycopg.connect(with_database(_SERVER_URL, "postgres"), autocommit=True) as a:
                for name in (WAREHOUSE_DB, METADATA_DB):
                    a.execute(f'drop database if exists "{name}" with (force)')


def _wait_for_run(svc: Services, token: str, dag_id: str, run_id: str, limit: float) -> str:
    deadline = time.monotonic() + limit
    state = "queued"
    while time.monotonic() < deadline:
        run = svc.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", token=token)
        state = run["state"]
        if state in ("success", "failed"):
            return str(state)
        time.sleep(3)
    raise AssertionError(f"{dag_id} run {run_id} still {state} after {limit:.0f} s")


def test_start_prints_url_and_login_and_is_healthy(services: Services) -> None:
    keys = ("metadatabase", "scheduler", "dag_processor", "triggerer")
    # A heartbeat may be late, or the health endpoint slow to answer (`status` exits 5, health
    # null), for a moment while the test tiers load both cores: the components must be running
    # throughout and report healthy within two minutes, not at one instant.
    deadline = time.monotonic() + 120
    while True:
        out = _scrutin(["airflow", "status", "--json"], services.env, 60, codes=(0, 5))
        status = json.loads(out)
        assert status["url"] == services.url
        assert set(status["components"]) == {
            "api-server",
            "scheduler",
            "dag-processor",
            "triggerer",
        }
        assert all(c["running"] for c in status["components"].values())
        health = status["health"] or {}
        if all(health.get(k, {}).get("status") == "healthy" for k in keys):
            break
        assert time.monotonic() < deadline, status["health"]
        time.sleep(3)
    # The API refuses an anonymous caller.
    with pytest.raises(urllib.error.HTTPError) as refused:
        services.call("GET", "/api/v2/dags")
    assert refused.value.code == 401


def test_every_dag_is_there_and_unpaused(services: Services) -> None:
    token = services.token()
    deadline = time.monotonic() + 120
    while True:
        dags = services.call("GET", "/api/v2/dags?limit=100", token=token)["dags"]
        if {d["dag_id"] for d in dags} >= set(DAG_IDS) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert sorted(d["dag_id"] for d in dags) == DAG_IDS
    assert not [d["dag_id"] for d in dags if d["is_paused"]]


def test_build_audit_publish_triggered_through_the_api_publishes(services: Services) -> None:
    token = services.token()
    # The warehouse is the demo's copy, already published from these very inputs: a plain run
    # would find nothing new and publish nothing (mode `unchanged`); the full refresh publishes.
    run = services.call(
        "POST",
        "/api/v2/dags/build_audit_publish/dagRuns",
        {"logical_date": None, "conf": {"full_refresh": True}},
        token=token,
    )
    run_id = run["dag_run_id"]
    assert _wait_for_run(services, token, "build_audit_publish", run_id, 600) == "success"
    with psycopg.connect(services.warehouse) as conn:
        gate = conn.execute(
            "select status from ops.gate_runs where run_id = %s", (run_id,)
        ).fetchone()
        published = conn.execute(
            "select action from ops.publication_log where run_id = %s", (run_id,)
        ).fetchone()
    assert gate == ("passed",)
    assert published == ("publish",)


def test_a_failed_task_alerts_the_webhook_and_ops_alerts(services: Services) -> None:
    token = services.token()
    deadline = time.monotonic() + 300
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = services.call("GET", "/api/v2/dags/ingest_canvass_feedback/dagRuns", token=token)[
            "dag_runs"
        ]
        if any(r["state"] == "failed" for r in runs) and services.alerts:
            break
        time.sleep(3)
    assert [r["state"] for r in runs][:1] == ["failed"], runs
    (alert,) = [a for a in services.alerts if a["dag_id"] == "ingest_canvass_feedback"]
    assert alert["kind"] == "task_failed"
    assert alert["task_id"] == "report_refused_deliveries"
    assert BAD_EXPORT in alert["message"] and "AirflowFailException" in alert["message"]
    assert "colonne_a;colonne_b" not in alert["message"]  # the file's name, never its content
    assert alert["subject"].startswith("[scrutin] ingest_canvass_feedback")
    with psycopg.connect(services.warehouse) as conn:
        rows = conn.execute(
            "select kind, task_id, run_id, notified, message from ops.alerts "
            "where dag_id = 'ingest_canvass_feedback'"
        ).fetchall()
    assert len(rows) == 1
    kind, task_id, run_id, notified, message = rows[0]
    assert (kind, task_id, notified) == ("task_failed", "report_refused_deliveries", ["webhook"])
    assert run_id == alert["run_id"] and message == alert["message"]


def test_the_ui_lists_every_dag_after_login(services: Services) -> None:
    from tests.browser import browser_page

    password = json.loads(
        Path(services.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text()
    )["admin"]
    shots = PROJECT_ROOT / "var" / "test-logs"
    shots.mkdir(parents=True, exist_ok=True)
    with browser_page(1280, 1600) as (page, watch):
        page.goto(services.url + "/")
        # The UI sends an anonymous visitor to its login form (a client-side redirect: wait
        # for the form, not for a navigation that the redirect may abort).
        page.locator("input[name=username]").wait_for(timeout=60_000)
        assert "/auth/login" in page.url
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.locator("button[type=submit]").click()
        page.wait_for_load_state("networkidle")
        page.goto(services.url + "/dags")
        for dag_id in DAG_IDS:
            page.get_by_role("link", name=dag_id, exact=True).first.wait_for(timeout=60_000)
        page.get_by_text(f"{len(DAG_IDS)} Dags").wait_for(timeout=30_000)
        page.screenshot(path=str(shots / "airflow-ui-dags.png"), full_page=True)
        assert not watch.page_errors
        requests = [u for u in watch.network_requests() if not u.startswith(services.url)]
        assert not requests, f"the UI called outside the instance: {requests[:5]}"
    assert (shots / "airflow-ui-dags.png").stat().st_size > 10_000


def test_stop_leaves_no_process(services: Services) -> None:
    out = _scrutin(["airflow", "stop"], services.env, 120)
    assert "stopped" in out
    assert instance_pids(services.state.instance) == []
    assert not [pid for pid in services.state.pids.values() if pid_alive(pid)]
    # Before: the LocalExecutor's workers (their environment block rewritten by their process
    # title, so no marker) outlived `stop` in the scheduler's process group.
    assert group_members(set(services.state.pids.values())) == set()
    leftovers = []
    marker = f"AIRFLOW_HOME={services.home}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    leftovers.append(int(entry.name))
            except OSError:
                continue
    assert [p for p in leftovers if pid_alive(p)] == []
    after = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "airflow", "status", "--json"],
        env=services.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert after.returncode == 5  # not running: INFRASTRUCTURE
    assert json.loads(after.stdout)["running"] is False
