"""Warehouse connections (the layout itself is `scrutin.warehouse.migrate`'s)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrutin.config import database_url

if TYPE_CHECKING:
    import psycopg


def connect(url: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg 3 connection to the warehouse (SCRUTIN_DATABASE_URL or the local cluster)."""
    import psycopg

    return psycopg.connect(url or database_url(), autocommit=autocommit, connect_timeout=10)
