"""Warehouse connections and the idempotent warehouse layout."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from scrutin.config import database_url

if TYPE_CHECKING:
    import psycopg


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg 3 connection to the warehouse (SCRUTIN_DATABASE_URL or the local cluster)."""
    import psycopg

    return psycopg.connect(url or database_url(), autocommit=autocommit, connect_timeout=10)


def warehouse_ddl() -> str:
    """Every `scrutin/sql/*.sql` file, in name order (00_core first, then one file per source)."""
    folder = resources.files("scrutin").joinpath("sql")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def ensure_warehouse(conn: psycopg.Connection) -> None:
    """Create the schemas and ledger/ops tables if missing (safe to run concurrently)."""
    with conn.transaction(), conn.cursor() as cur:
        # Serialise concurrent DDL (two DAG tasks starting together) on one advisory lock.
        cur.execute("select pg_advisory_xact_lock(hashtext('scrutin.ensure_warehouse'))")
        cur.execute(warehouse_ddl())
