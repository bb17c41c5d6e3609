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
