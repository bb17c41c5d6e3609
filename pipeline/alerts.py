"""Alerts of the DAGs: a failed task or a late publication reaches a person, and `ops.alerts`.

Every task's `on_failure_callback` (pipeline.assets.DEFAULT_ARGS) is `on_task_failure`: it runs
once a task has failed for good (after its retries), records the alert in `ops.alerts` of the
warehouse first (so it is kept when a channel is down), then hands it to each configured
Airflow notifier:

- `WebhookNotifier` posts the alert as JSON to SCRUTIN_ALERT_WEBHOOK_URL (a chat webhook, an
  incident tool, a small relay);
- the SMTP provider's `SmtpNotifier` mails SCRUTIN_ALERT_EMAIL through the Airflow connection
  `smtp_default` (or SCRUTIN_ALERT_SMTP_CONN_ID).

The publication and purge DAGs also carry a Deadline Alert (`deadline_alert`): the triggerer
calls `deadline_missed`, which records and notifies the same way, when a run is still not done
long after it was queued.

An alert holds the DAG, run and task ids, the error cut to MAX_MESSAGE characters, and the log
link: the project's errors name a file, a line and a column, never a row's content, so no
personal data leaves the warehouse through an alert. A failing channel never fails the task
twice: its error is logged and kept in `ops.alerts.notify_errors`.

Light imports only at module level: DAG files import this at parse time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import re
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000
WEBHOOK_VARIABLE = "SCRUTIN_ALERT_WEBHOOK_URL"
EMAIL_VARIABLE = "SCRUTIN_ALERT_EMAIL"
EMAIL_FROM_VARIABLE = "SCRUTIN_ALERT_EMAIL_FROM"
SMTP_CONN_VARIABLE = "SCRUTIN_ALERT_SMTP_CONN_ID"
# Deadline Alerts need the scheduler: Airflow 3.3.2's dag.test() crashes when a run of a DAG
# with a deadline succeeds (it looks the alert up by its definition instead of its id), so
# `scrutin demo` and the tests, which run DAGs with dag.test(), parse the DAGs with this at 0.
DEADLINES_VARIABLE = "SCRUTIN_DEADLINE_ALERTS"

# How long after being queued a run of these DAGs is late (they take minutes at campaign scale).
DEADLINES = {
    "build_audit_publish": dt.timedelta(hours=2),
    "purge_expired_personal_data": dt.timedelta(hours=1),
}


@dataclass(frozen=True)
class Alert:
    """One alert: what failed or is late, where to look. Nothing else."""

    kind: str
    dag_id: str
    run_id: str | None
    task_id: str | None
    try_number: int | None
    message: str
    log_url: str | None = None

    def subject(self) -> str:
        what = f"{self.dag_id}.{self.task_id}" if self.task_id else self.dag_id
        verb = "failed" if self.kind == "task_failed" else "is late"
        return f"[scrutin] {what} {verb} (run {self.run_id})"

    def payload(self) -> dict[str, Any]:
        """The JSON the webhook receives."""
        return {"source": "scrutin", "subject": self.subject(), **asdict(self)}


# Belt and braces: the project's errors never quote a row, but an e-mail address or a phone
# number that slipped into one (a library's message) is masked before it leaves the task.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(?:\+33\s?|0)[1-9](?:[\s.-]?\d{2}){4}(?!\d)")


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` with e-mail addresses and phone numbers masked, cut to `limit` characters."""
    text = _PHONE.sub("<phone>", _EMAIL.sub("<e-mail>", text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_message(exception: BaseException | str | None) -> str:
    if exception is None:
        return "failed (no error recorded: see the task log)"
    if isinstance(exception, BaseException):
        detail = str(exception).strip()
        return f"{type(exception).__name__}: {detail}" if detail else type(exception).__name__
    return str(exception)


def alert_from_context(context: Any) -> Alert:
    """The alert of a failed task, from its Airflow context (task instance, exception)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None) or "unknown"
    log_url = None
    try:
        log_url = getattr(ti, "log_url", None)
    except Exception:  # the log URL needs configuration some contexts lack
        log_url = None
    return Alert(
        kind="task_failed",
        dag_id=dag_id,
        run_id=getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None),
        task_id=getattr(ti, "task_id", None),
        try_number=getattr(ti, "try_number", None),
        message=bounded(_error_message(context.get("exception"))),
        log_url=log_url,
    )


def alert_from_deadline(context: dict[str, Any]) -> Alert:
    """The alert of a missed deadline, from the small context the triggerer passes."""
    run = context.get("dag_run") or {}
    deadline = (context.get("deadline") or {}).get("deadline_time")
    dag_id = run.get("dag_id") or "unknown"
    run_id = run.get("dag_run_id") or run.get("run_id")
    return Alert(
        kind="deadline_missed",
        dag_id=dag_id,
        run_id=run_id,
        task_id=None,
        try_number=None,
        message=bounded(
            f"run {run_id} of {dag_id} was not finished at its deadline {deadline} "
            f"(state {run.get('state')}, queued at {run.get('queued_at')}): "
            "see the run in the Airflow UI and docs/operations.md"
        ),
    )


class WebhookNotifier(BaseNotifier):
    """Posts the alert as JSON to a URL (SCRUTIN_ALERT_WEBHOOK_URL)."""

    template_fields = ()

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        super().__init__()
        self.url = url
        self.timeout = timeout

    def notify(self, context: Any) -> None:
        alert = context.get("scrutin_alert") if hasattr(context, "get") else None
        payload = (alert or alert_from_context(context)).payload()
        request = urllib.request.Request(
            self.url,
            data=json.dumps(payload, default=str).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if response.status >= 300:
                raise RuntimeError(f"webhook answered HTTP {response.status}")


def _email_body(alert: Alert) -> str:
    from html import escape

    rows = "".join(
        f"<tr><th align='left'>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
        for k, v in asdict(alert).items()
        if v is not None and k != "message"
    )
    return f"<table>{rows}</table><pre>{escape(alert.message)}</pre>"


def configured_notifiers(alert: Alert) -> list[tuple[str, Any]]:
    """(channel, notifier) for each channel the environment configures."""
    notifiers: list[tuple[str, Any]] = []
    webhook = os.environ.get(WEBHOOK_VARIABLE)
    if webhook:
        notifiers.append(("webhook", WebhookNotifier(webhook)))
    to = os.environ.get(EMAIL_VARIABLE)
    if to:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifiers.append(
            (
                "smtp",
                SmtpNotifier(
                    to=[a.strip() for a in to.split(",") if a.strip()],
                    from_email=os.environ.get(EMAIL_FROM_VARIABLE) or None,
                    subject=alert.subject(),
                    html_content=_email_body(alert),
                    smtp_conn_id=os.environ.get(SMTP_CONN_VARIABLE) or None,
                ),
            )
        )
    return notifiers


def _alert_warehouse_url() -> str:
    """Where alerts are recorded: the task's warehouse connection, else SCRUTIN_DATABASE_URL."""
    from pipeline.airflow_warehouse import warehouse_url

    try:
        return warehouse_url()
    except Exception as exc:  # an alert is recorded somewhere rather than nowhere
        from scrutin.config import database_url

        log.warning("warehouse connection unavailable for the alert (%s): using the default", exc)
        return database_url()


def record_alert(url: str, alert: Alert) -> int:
    """Insert the alert into ops.alerts; its id."""
    from scrutin.db import connect

    with connect(url) as conn:
        row = conn.execute(
            "insert into ops.alerts (kind, dag_id, run_id, task_id, try_number, message, "
            "log_url) values (%s, %s, %s, %s, %s, %s, %s) returning alert_id",
            (
                alert.kind,
                alert.dag_id,
                alert.run_id,
                alert.task_id,
                alert.try_number,
                alert.message,
                alert.log_url,
            ),
        ).fetchone()
        conn.commit()
    assert row is not None
    return int(row[0])


def _mark_notified(url: str, alert_id: int, notified: list[str], errors: list[str]) -> None:
    from scrutin.db import connect

    with connect(url) as conn:
        conn.execute(
            "update ops.alerts set notified = %s, notify_errors = %s where alert_id = %s",
            (notified, errors, alert_id),
        )
        conn.commit()


def dispatch(alert: Alert, context: Any = None) -> dict[str, Any]:
    """Record the alert, then notify every configured channel; what happened, per channel."""
    url = _alert_warehouse_url()
    alert_id: int | None = None
    try:
        alert_id = record_alert(url, alert)
    except Exception as exc:  # the warehouse may be what is down: still notify
        log.error("could not record the alert in ops.alerts: %s", exc)
    notified: list[str] = []
    errors: list[str] = []
    base = dict(context) if context is not None else {}
    for channel, notifier in configured_notifiers(alert):
        try:
            notifier.notify({**base, "scrutin_alert": alert})
            notified.append(channel)
        except Exception as exc:
            message = bounded(f"{channel}: {type(exc).__name__}: {exc}", 500)
            log.error("alert not sent through %s", message)
            errors.append(message)
    if alert_id is not None and (notified or errors):
        try:
            _mark_notified(url, alert_id, notified, errors)
        except Exception as exc:
            log.error("could not record the notification of alert %s: %s", alert_id, exc)
    log.warning("alert %s: %s (notified: %s)", alert_id, alert.subject(), notified or "none")
    return {"alert_id": alert_id, "notified": notified, "errors": errors}


def on_task_failure(context: Any) -> None:
    """The `on_failure_callback` of every task (pipeline.assets.DEFAULT_ARGS)."""
    try:
        dispatch(alert_from_context(context), context)
    except Exception:  # a callback must never hide the task's own failure
        log.exception("the failure alert could not be raised")


async def deadline_missed(context: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """The Deadline Alert callback (run by the triggerer) of the publication and purge DAGs."""
    alert = alert_from_deadline(context or {})
    await asyncio.to_thread(dispatch, alert, None)


def deadline_alert(dag_id: str) -> Any:
    """The Deadline Alert of `dag_id`: late DEADLINES[dag_id] after its run was queued.

    None (no deadline) when SCRUTIN_DEADLINE_ALERTS is 0, for dag.test() runs.
    """
    if os.environ.get(DEADLINES_VARIABLE, "1") == "0":
        return None
    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=DEADLINES[dag_id],
        callback=AsyncCallback(f"{__name__}.deadline_missed"),
        name=f"{dag_id}_late",
    )
