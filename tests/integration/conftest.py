"""Integration tier: the real PostgreSQL warehouse of the test session, dbt on a selection, GX.

The session's warehouse (`warehouse_url`, tests/conftest.py) is migrated once; modules that put
hand-made raw rows in it tag them with their own ids and delete them afterwards. A module that
needs an empty warehouse of its own asks `fresh_warehouse(name)`.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest


@pytest.fixture(scope="module")
def db(warehouse_url: str) -> Iterator[psycopg.Connection]:
    """One autocommit connection to the session's warehouse for the whole module."""
    from scrutin.db import connect

    with connect(warehouse_url, autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def run_ids() -> list[str]:
    """The dbt run ids a module started, so that its teardown deletes their `ops` rows."""
    return []


def purge_elections(conn: psycopg.Connection, election_ids: list[str]) -> None:
    """Delete every raw row and ledger entry of throw-away test elections (autocommit `conn`)."""
    for table in ("election_results_candidate", "election_results_bureau"):
        conn.execute(f"delete from raw.{table} where election_id = any(%s)", (election_ids,))
    conn.execute("delete from raw.batch_ledger where dataset_key = any(%s)", (election_ids,))
