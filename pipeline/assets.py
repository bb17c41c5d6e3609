"""Airflow assets and DAG defaults shared by the DAG files (light imports only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset

from pipeline.alerts import on_task_failure

RAW_ELECTION_RESULTS = Asset(
    name="scrutin_raw_election_results",
    uri="scrutin://warehouse/raw/election_results",
    group="scrutin_raw",
)
RAW_REU = Asset(
    name="scrutin_raw_reu",
    uri="scrutin://warehouse/raw/reu",
    group="scrutin_raw",
)
RAW_ELECTORAL_ROLL = Asset(
    name="scrutin_raw_electoral_roll",
    uri="scrutin://warehouse/raw/electoral_roll",
    group="scrutin_raw",
)
RAW_CANVASS = Asset(
    name="scrutin_raw_canvass",
    uri="scrutin://warehouse/raw/canvass",
    group="scrutin_raw",
)
RAW_CENSUS = Asset(
    name="scrutin_raw_census",
    uri="scrutin://warehouse/raw/census",
    group="scrutin_raw",
)
RAW_GEOGRAPHY = Asset(
    name="scrutin_raw_geography",
    uri="scrutin://warehouse/raw/geography",
    group="scrutin_raw",
)
# build_audit_publish runs when any raw source announced new, checked data.
RAW_ASSETS = (
    RAW_ELECTION_RESULTS,
    RAW_REU,
    RAW_ELECTORAL_ROLL,
    RAW_CANVASS,
    RAW_CENSUS,
    RAW_GEOGRAPHY,
)
PUBLISHED_MART = Asset(
    name="scrutin_published_mart",
    uri="scrutin://warehouse/mart",
    group="scrutin_mart",
)

# Every task: an owner, a failure alert (ops.alerts + the configured notifiers), a time limit,
# and one quick retry against a passing blip of the local database. Bad data fails without
# retry (AirflowFailException) whatever these say.
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "scrutin-data-eng",
    "retries": 1,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": 0,
    "execution_timeout": dt.timedelta(minutes=30),
    "on_failure_callback": [on_task_failure],
}
# Steps that reach the network (downloads of published files, a remote drop zone): an outage
# there lasts minutes, so they retry with exponential back-off (2, 4, 8 min).
NETWORK_TASK_ARGS: dict[str, Any] = {
    "retries": 3,
    "retry_delay": dt.timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=15),
    "execution_timeout": dt.timedelta(minutes=60),
}
# dbt builds of the whole project: long at national scale, never retried blindly.
DBT_TASK_ARGS: dict[str, Any] = {
    "retries": 0,
    "execution_timeout": dt.timedelta(minutes=90),
}
