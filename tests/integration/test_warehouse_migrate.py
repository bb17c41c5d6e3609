"""Versioned migrations against a real PostgreSQL: applied once, refused when edited, serialised,
and the clear error a loader gives on a warehouse `scrutin setup` has not migrated."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import psycopg
import pytest

from ingestion.loaders.elections import load_results_file
from scrutin.warehouse.migrate import (
    MigrationError,
    WarehouseNotMigrated,
    migrate,
    migration_from_text,
    packaged_migrations,
    require_migrated,
)
from tests.conftest import TEST_DB, TOUR1, drop_warehouse, fresh_warehouse

pytestmark = pytest.mark.db

SCRATCH_DB = f"{TEST_DB}_migrate"
T = TypeVar("T")


@pytest.fixture
def empty_url() -> Iterator[str]:
    """A database with nothing in it, as before the first `scrutin setup`."""
    yield fresh_warehouse(SCRATCH_DB, migrated=False)
    drop_warehouse(SCRATCH_DB)


def _recorded(url: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select version, name, checksum from ops.schema_migrations order by version"
        ).fetchall()


def test_migrate_builds_the_layout_once_then_is_a_no_op(empty_url: str) -> None:
    with psycopg.connect(empty_url) as conn:
        applied = migrate(conn)
        assert [m.version for m in applied] == [m.version for m in packaged_migrations()]
        first = conn.execute("select version, applied_at from ops.schema_migrations").fetchall()
        conn.commit()
        assert migrate(conn) == []
        again = conn.execute("select version, applied_at from ops.schema_migrations").fetchall()
        assert again == first
        assert require_migrated(conn) == packaged_migrations()[-1].version
        assert conn.execute("select to_regclass('raw.batch_ledger') is not null").fetchone() == (
            True,
        )
    assert _recorded(empty_url) == [(m.version, m.name, m.checksum) for m in packaged_migrations()]


def test_an_edited_applied_migration_is_refused_and_nothing_more_applied(
    empty_url: str,
) -> None:
    one = migration_from_text("0001_probe.sql", b"create table public.probe (a int);")
    two = migration_from_text("0002_more.sql", b"create table public.more (a int);")
    edited = migration_from_text("0001_probe.sql", b"create table public.probe (a bigint);")
    three = migration_from_text("0003_last.sql", b"create table public.last (a int);")
    with psycopg.connect(empty_url, autocommit=True) as conn:
        migrate(conn, [one, two])
        with pytest.raises(MigrationError, match=r"0001_probe\.sql changed after it was applied"):
            migrate(conn, [edited, two, three])
        assert conn.execute("select to_regclass('public.last')").fetchone() == (None,)
    assert [r[:2] for r in _recorded(empty_url)] == [(1, "probe"), (2, "more")]


def test_a_failing_migration_leaves_the_previous_version(empty_url: str) -> None:
    one = migration_from_text("0001_probe.sql", b"create table public.probe (a int);")
    broken = migration_from_text(
        "0002_broken.sql", b"create table public.half (a int);\nselect * from no_such_table;"
    )
    with psycopg.connect(empty_url) as conn:
        with pytest.raises(MigrationError, match=r"0002_broken\.sql failed, nothing of it applied"):
            migrate(conn, [one, broken])
        # Rolled back whole: the table created before the error is not there either.
        assert conn.execute("select to_regclass('public.half')").fetchone() == (None,)
        conn.rollback()
        # The advisory lock was released: another migrate runs at once.
        assert migrate(conn, [one]) == []
    assert [r[:2] for r in _recorded(empty_url)] == [(1, "probe")]


def run_twice_at_once(work: Callable[[], T]) -> list[T | Exception]:
    """Run `work` in two threads started together; what each returned or raised."""
    outcomes: list[T | Exception] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(work())
        except Exception as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_concurrent_migrations_apply_each_file_once(empty_url: str) -> None:
    def work() -> list[int]:
        with psycopg.connect(empty_url) as conn:
            return [m.version for m in migrate(conn)]

    outcomes = run_twice_at_once(work)
    every = [m.version for m in packaged_migrations()]
    applied = [o for o in outcomes if isinstance(o, list)]
    assert len(applied) == 2, outcomes
    # One did all the work, the other waited on the lock and found nothing to do.
    assert sorted(applied, key=len) == [[], every]
    assert [r[0] for r in _recorded(empty_url)] == every


def test_a_warehouse_built_before_versioned_migrations_adopts_them(empty_url: str) -> None:
    """The baseline DDL ran every load before; such a warehouse keeps its rows and is adopted."""
    with psycopg.connect(empty_url) as conn:
        # What the former DDL-on-every-load built: the baseline 0001-0007 (docs/operations.md);
        # later migrations change that layout and run for real on adoption.
        for migration in packaged_migrations():
            if migration.version <= 7:
                conn.execute(migration.sql.encode())
        conn.execute(
            "insert into raw.batch_ledger (source, file_name, file_sha256, status) "
            "values ('elections', 'old.csv', 'abc', 'loaded')"
        )
        conn.commit()
        assert len(migrate(conn)) == len(packaged_migrations())
        assert conn.execute("select count(*) from raw.batch_ledger").fetchone() == (1,)


def test_a_loader_on_an_unmigrated_warehouse_says_to_run_setup(empty_url: str) -> None:
    with pytest.raises(WarehouseNotMigrated, match=r"no migration applied.*run `scrutin setup`"):
        load_results_file(empty_url, TOUR1, "2024_legi_t1")
    with psycopg.connect(empty_url) as conn:
        # A cheap check, not DDL: the loader created nothing.
        assert conn.execute("select to_regclass('raw.batch_ledger')").fetchone() == (None,)
        assert conn.execute("select to_regclass('ops.schema_migrations')").fetchone() == (None,)


def test_a_warehouse_behind_this_code_names_the_missing_migrations(empty_url: str) -> None:
    *older, latest = packaged_migrations()
    with psycopg.connect(empty_url) as conn:
        migrate(conn, older)
        with pytest.raises(
            WarehouseNotMigrated,
            match=rf"at migration {older[-1].version:04d}; this code needs {latest.file_name}",
        ):
            require_migrated(conn)
        migrate(conn)
        require_migrated(conn)
