"""Shared fixtures: a real PostgreSQL test database, recreated once per test session.

The server is the project's local cluster (started by `make test`) or SCRUTIN_DATABASE_URL.
Tests use their own database (`scrutin_test` by default) so they never touch the demo warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from scrutin.config import apply_environment_defaults, database_url, with_database

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
TOUR1 = SAMPLE / "elections" / "circos23-tour1.csv"
TOUR2 = SAMPLE / "elections" / "circos23-tour2.csv"

# Under pytest-xdist each worker gets its own databases (`scrutin_test_gw0`, ...): a test module
# runs whole on one worker (`--dist loadfile`), and no two workers share a warehouse.
TEST_DB = os.environ.get("SCRUTIN_TEST_DB", "scrutin_test")
if os.environ.get("PYTEST_XDIST_WORKER") and not TEST_DB.endswith(
    os.environ["PYTEST_XDIST_WORKER"]
):
    TEST_DB = f"{TEST_DB}_{os.environ['PYTEST_XDIST_WORKER']}"
os.environ["SCRUTIN_TEST_DB"] = TEST_DB
_SERVER_URL = database_url()
TEST_URL = with_database(_SERVER_URL, TEST_DB)

# Everything the tests import (dbt, Airflow, GX) must see the test warehouse, not the demo one.
os.environ["SCRUTIN_DATABASE_URL"] = TEST_URL
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The tests run DAGs with dag.test(), which cannot run a DAG with a Deadline Alert
# (pipeline.alerts); the services test and the DAG policy test turn them back on.
os.environ["SCRUTIN_DEADLINE_ALERTS"] = "0"
apply_environment_defaults()


def write_bad_results_landing(folder: Path) -> None:
    """A results landing folder whose one file has 'douze' as Votants on line 100."""
    lines = TOUR1.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = lines[99].split(";")
    fields[6] = "douze"  # Votants
    lines[99] = ";".join(fields)
    (folder / "bad.csv").write_text("".join(lines), encoding="utf-8")
    (folder / "manifest.yml").write_text(
        # an election the demo does not load (the demo loads Brest's 2022 legislative export)
        "files:\n  - path: bad.csv\n    election_id: 2017_legi_t1\n",
        encoding="utf-8",
    )


def _recreate_database() -> None:
    import psycopg

    admin = with_database(_SERVER_URL, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            (TEST_DB,),
        )
        conn.execute(f'drop database if exists "{TEST_DB}"')
        conn.execute(f'create database "{TEST_DB}"')
        conn.execute(f'alter database "{TEST_DB}" set jit = off')


def fresh_warehouse(name: str, *, migrated: bool = True) -> str:
    """(Re)create the database `name` on the test server with the Scrutin layout; its URL.

    For modules that need a warehouse of their own (a whole pipeline run, DAG runs) so that
    they neither see nor disturb the rows other modules put in the session's warehouse.
    `migrated=False` leaves it empty, as before `scrutin setup`.
    """
    from scrutin.db import connect
    from scrutin.warehouse.migrate import migrate

    with psycopg.connect(with_database(_SERVER_URL, "postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
        admin.execute(f'alter database "{name}" set jit = off')
    url = with_database(_SERVER_URL, name)
    if migrated:
        with connect(url) as conn:
            migrate(conn)
    return url


def drop_warehouse(name: str) -> None:
    """Drop a database made by `fresh_warehouse` (terminating its sessions)."""
    with psycopg.connect(with_database(_SERVER_URL, "postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def warehouse_url() -> str:
    """URL of a fresh, empty test warehouse with the Scrutin layout applied."""
    from scrutin.db import connect
    from scrutin.warehouse.migrate import migrate

    _recreate_database()
    with connect(TEST_URL) as conn:
        migrate(conn)
    return TEST_URL


@pytest.fixture
def conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    from scrutin.db import connect

    with connect(warehouse_url, autocommit=True) as c:
        yield c


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata DB, migrated (a no-op when `make test` already ran `scrutin setup`)."""
    from pipeline.setup import ensure_database, migrate_airflow
    from scrutin.config import airflow_database_url

    url = airflow_database_url().replace("postgresql+psycopg2://", "postgresql://", 1)
    ensure_database(url, url.rsplit("/", 1)[1])
    migrate_airflow()
