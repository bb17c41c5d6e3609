"""Tasks find the warehouse through the Airflow connection `scrutin_warehouse`."""

from __future__ import annotations

import pytest
from airflow.sdk import Connection

from pipeline.airflow_warehouse import connection_url, warehouse_url
from scrutin.config import WAREHOUSE_CONN_VARIABLE, airflow_conn_uri, warehouse_environment


def test_connection_fields_become_a_libpq_url() -> None:
    conn = Connection(
        conn_id="scrutin_warehouse",
        conn_type="postgres",
        host="db.internal",
        login="scrutin",
        password="p@ss:w/rd",
        port=6432,
        schema="campaign",
        extra='{"sslmode": "require", "unrelated": "x"}',
    )
    assert connection_url(conn) == (
        "postgresql://scrutin:p%40ss%3Aw%2Frd@db.internal:6432/campaign?sslmode=require"
    )


def test_the_default_connection_is_scrutin_database_url() -> None:
    url = "postgresql://scrutin@127.0.0.1:55442/scrutin_x"
    env = warehouse_environment(url)
    assert env["SCRUTIN_DATABASE_URL"] == url
    assert env[WAREHOUSE_CONN_VARIABLE] == airflow_conn_uri(url)


def test_warehouse_url_reads_the_connection_not_scrutin_database_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCRUTIN_DATABASE_URL", "postgresql://scrutin@127.0.0.1:1/default")
    monkeypatch.setenv(WAREHOUSE_CONN_VARIABLE, "postgres://ops:secret@elsewhere:5433/wh")
    assert warehouse_url() == "postgresql://ops:secret@elsewhere:5433/wh"


def test_a_connection_of_another_type_is_refused() -> None:
    conn = Connection(conn_id="scrutin_warehouse", conn_type="mysql", host="h")
    with pytest.raises(ValueError, match="must be a 'postgres' connection"):
        connection_url(conn)
