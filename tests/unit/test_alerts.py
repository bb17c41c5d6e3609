"""Failure alerts: what an alert holds, the webhook notifier, the dispatch that never raises."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from pipeline import alerts


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    """A webhook receiver on 127.0.0.1 (a free port), the requests it received."""
    handler = type("Receiver", (_Receiver,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler
    server.shutdown()
    server.server_close()


def _context(exception: BaseException | None) -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="ingest_elections",
        run_id="scheduled__2026-12-05",
        task_id="load_results_file",
        try_number=2,
        log_url="http://airflow/log",
    )
    return {"ti": ti, "exception": exception}


def test_alert_names_dag_run_task_and_error() -> None:
    exc = ValueError("circos23-tour1.csv, line 57, column 'Votants': expected an integer")
    alert = alerts.alert_from_context(_context(exc))
    assert alert.kind == "task_failed"
    assert (alert.dag_id, alert.run_id, alert.task_id, alert.try_number) == (
        "ingest_elections",
        "scheduled__2026-12-05",
        "load_results_file",
        2,
    )
    assert alert.message == f"ValueError: {exc}"
    assert alert.log_url == "http://airflow/log"
    assert alert.subject() == (
        "[scrutin] ingest_elections.load_results_file failed (run scheduled__2026-12-05)"
    )


def test_alert_message_is_bounded_and_masks_contact_details() -> None:
    exc = RuntimeError("row of jean.dupont@example.fr, 06 12 34 56 78 " + "x" * 5000)
    message = alerts.alert_from_context(_context(exc)).message
    assert len(message) == alerts.MAX_MESSAGE and message.endswith("…")
    assert "jean.dupont" not in message and "06 12" not in message
    assert "<e-mail>" in message and "<phone>" in message
    assert alerts.alert_from_context(_context(None)).message.startswith("failed (no error")


def test_deadline_alert_from_the_triggerer_context() -> None:
    context = {
        "dag_run": {
            "dag_id": "purge_expired_personal_data",
            "dag_run_id": "r1",
            "state": "running",
        },
        "deadline": {"id": "d", "deadline_time": "2026-12-05T10:00:00+00:00"},
    }
    alert = alerts.alert_from_deadline(context)
    assert (alert.kind, alert.dag_id, alert.run_id, alert.task_id) == (
        "deadline_missed",
        "purge_expired_personal_data",
        "r1",
        None,
    )
    assert "2026-12-05T10:00:00+00:00" in alert.message
    assert alert.subject().endswith("purge_expired_personal_data is late (run r1)")


def test_webhook_notifier_posts_the_alert_as_json(receiver: Any) -> None:
    url, handler = receiver
    alert = alerts.alert_from_context(_context(ValueError("bad file")))
    alerts.WebhookNotifier(url).notify({"scrutin_alert": alert})
    (body,) = handler.received
    assert body["source"] == "scrutin"
    assert body["task_id"] == "load_results_file"
    assert body["message"] == "ValueError: bad file"
    handler.status = 500
    with pytest.raises(Exception, match="500"):
        alerts.WebhookNotifier(url).notify({"scrutin_alert": alert})


def test_channels_follow_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    alert = alerts.alert_from_context(_context(ValueError("x")))
    monkeypatch.delenv(alerts.WEBHOOK_VARIABLE, raising=False)
    monkeypatch.delenv(alerts.EMAIL_VARIABLE, raising=False)
    assert alerts.configured_notifiers(alert) == []
    monkeypatch.setenv(alerts.WEBHOOK_VARIABLE, "http://127.0.0.1:9/hook")
    monkeypatch.setenv(alerts.EMAIL_VARIABLE, "ops@example.org, data@example.org")
    monkeypatch.setenv(alerts.EMAIL_FROM_VARIABLE, "scrutin@example.org")
    channels = dict(alerts.configured_notifiers(alert))
    assert set(channels) == {"webhook", "smtp"}
    smtp = channels["smtp"]
    assert smtp.to == ["ops@example.org", "data@example.org"]
    assert smtp.from_email == "scrutin@example.org"
    assert smtp.subject == alert.subject()
    assert "ValueError: x" in smtp.html_content


def test_dispatch_records_first_then_notifies_and_never_raises(
    monkeypatch: pytest.MonkeyPatch, receiver: Any
) -> None:
    url, handler = receiver
    calls: list[Any] = []
    monkeypatch.setattr(alerts, "_alert_warehouse_url", lambda: "postgresql://x/y")
    monkeypatch.setattr(alerts, "record_alert", lambda u, a: calls.append(("record", a)) or 7)
    monkeypatch.setattr(
        alerts, "_mark_notified", lambda u, i, n, e: calls.append(("mark", i, n, e))
    )
    monkeypatch.setenv(alerts.WEBHOOK_VARIABLE, url)
    monkeypatch.setenv(alerts.EMAIL_VARIABLE, "ops@example.org")  # no SMTP server: it fails
    monkeypatch.setenv(alerts.SMTP_CONN_VARIABLE, "no_such_smtp_connection")
    outcome = alerts.dispatch(alerts.alert_from_context(_context(ValueError("bad"))))
    assert outcome["alert_id"] == 7 and outcome["notified"] == ["webhook"]
    assert len(outcome["errors"]) == 1 and outcome["errors"][0].startswith("smtp:")
    assert calls[0][0] == "record" and calls[1] == ("mark", 7, ["webhook"], outcome["errors"])
    assert len(handler.received) == 1

    def broken(*_: Any) -> None:
        raise RuntimeError("warehouse down")

    monkeypatch.setattr(alerts, "record_alert", broken)
    handler.received.clear()
    alerts.on_task_failure(_context(ValueError("bad")))  # no exception escapes
    assert len(handler.received) == 1  # notified although it could not be recorded


def test_deadline_callback_dispatches(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[alerts.Alert] = []
    monkeypatch.setattr(alerts, "dispatch", lambda alert, context: seen.append(alert))
    asyncio.run(alerts.deadline_missed(context={"dag_run": {"dag_id": "build_audit_publish"}}))
    assert seen[0].kind == "deadline_missed" and seen[0].dag_id == "build_audit_publish"


def test_deadline_alerts_are_queued_at_plus_the_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import AsyncCallback, DeadlineReference

    monkeypatch.setenv(alerts.DEADLINES_VARIABLE, "0")  # dag.test() runs
    assert alerts.deadline_alert("build_audit_publish") is None
    monkeypatch.setenv(alerts.DEADLINES_VARIABLE, "1")
    alert = alerts.deadline_alert("build_audit_publish")
    assert alert.interval == alerts.DEADLINES["build_audit_publish"]
    assert isinstance(alert.reference, type(DeadlineReference.DAGRUN_QUEUED_AT))
    assert isinstance(alert.callback, AsyncCallback)
    assert alert.callback.path == "pipeline.alerts.deadline_missed"
