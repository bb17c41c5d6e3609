"""Unit tier: pure Python, no database, no dbt, no Airflow run.

Every test here must pass with no PostgreSQL server at all: opening a connection is refused
loudly, so a test that quietly needs the warehouse is moved to `tests/integration/`.
"""

from __future__ import annotations

import pytest


class DatabaseInUnitTest(AssertionError):
    """Raised when a unit test tries to reach PostgreSQL."""


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    def refuse(*args: object, **kwargs: object) -> None:
        raise DatabaseInUnitTest(
            "unit tests have no database: move this test to tests/integration/"
        )

    monkeypatch.setattr(psycopg, "connect", refuse)
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(refuse))
