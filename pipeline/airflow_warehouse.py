"""The warehouse of a running Airflow task: the Airflow connection `scrutin_warehouse`.

Tasks never read SCRUTIN_DATABASE_URL themselves: they ask Airflow for the connection, so the
connection an operator sets (an `AIRFLOW_CONN_SCRUTIN_WAREHOUSE` variable, a secrets backend)
decides where every task reads and writes. SCRUTIN_DATABASE_URL only provides its default:
`scrutin.config.apply_environment_defaults()` turns it into `AIRFLOW_CONN_SCRUTIN_WAREHOUSE`
when that is not set. The CLI outside Airflow keeps using `scrutin.config.database_url()`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from scrutin.config import WAREHOUSE_CONN_ID

# libpq parameters an operator may put in the connection's extra (TLS to a managed server...).
LIBPQ_EXTRAS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "options",
    "target_session_attrs",
)


def connection_url(conn: Any) -> str:
    """A `postgresql://` DSN (psycopg, dbt, GX) from an Airflow Connection's fields."""
    if conn.conn_type not in ("postgres", "postgresql"):
        raise ValueError(
            f"Airflow connection '{conn.conn_id}' has type {conn.conn_type!r}: the warehouse "
            "must be a 'postgres' connection"
        )
    if not conn.host:
        raise ValueError(f"Airflow connection '{conn.conn_id}' has no host")
    auth = quote(conn.login or "", safe="")
    if conn.password:
        auth += ":" + quote(conn.password, safe="")
    netloc = f"{auth}@{conn.host}" if auth else conn.host
    if conn.port:
        netloc += f":{conn.port}"
    extra = conn.extra_dejson or {}
    query = urlencode({k: extra[k] for k in LIBPQ_EXTRAS if extra.get(k) not in (None, "")})
    url = f"postgresql://{netloc}/{quote(conn.schema or 'postgres', safe='')}"
    return f"{url}?{query}" if query else url


def warehouse_url(conn_id: str = WAREHOUSE_CONN_ID) -> str:
    """The warehouse DSN of the task that runs now, from the Airflow connection `conn_id`."""
    from airflow.sdk import BaseHook

    return connection_url(BaseHook.get_connection(conn_id))
