"""Airflow assets and DAG defaults shared by the DAG files (light imports only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset

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

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "scrutin-data-eng",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=2),
    "retry_exponential_backoff": True,
}
