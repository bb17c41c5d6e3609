"""The national benchmark's second floor for a loader: COPY of as many rows as it wrote.

`inserted_rows` reads what a load wrote from PostgreSQL's statistics (another backend's counts,
published when its transaction ends or it exits), and `raw_copy_written` copies that many rows
of each table into an unlogged copy of its columns, generated columns included.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from benchmarks.bench_national import inserted_rows, raw_copy_written

SCHEMA = "bench_written_test"


@pytest.fixture
def schema(db: psycopg.Connection) -> Iterator[str]:
    db.execute(f"drop schema if exists {SCHEMA} cascade")
    db.execute(f"create schema {SCHEMA}")
    db.execute(
        f"create table {SCHEMA}.wide (id integer primary key, label text not null, "
        "doubled integer generated always as (id * 2) stored)"
    )
    db.execute(f"create table {SCHEMA}.untouched (id integer)")
    yield SCHEMA
    db.execute(f"drop schema {SCHEMA} cascade")


def _load(url: str, first: int, rows: int) -> None:
    """A loader's write: one transaction over a connection of its own, closed after."""
    with (
        psycopg.connect(url) as conn,
        conn.cursor().copy(f"copy {SCHEMA}.wide (id, label) from stdin") as copy,
    ):
        for i in range(first, first + rows):
            copy.write_row((i, f"row {i}"))


def test_the_rows_a_load_wrote_are_counted_per_table(warehouse_url: str, schema: str) -> None:
    _load(warehouse_url, 0, 40)  # an earlier load: not this one's
    before = inserted_rows(warehouse_url, schema)
    _load(warehouse_url, 1_000, 300)
    after = inserted_rows(warehouse_url, schema)
    written = {t: n - before.get(t, 0) for t, n in after.items() if n > before.get(t, 0)}
    assert written == {"wide": 300}
    assert after["wide"] == 340


def test_copying_the_written_rows_copies_that_many_into_a_scratch_table(
    warehouse_url: str, schema: str, db: psycopg.Connection
) -> None:
    _load(warehouse_url, 0, 500)
    elapsed, copied = raw_copy_written(warehouse_url, {"wide": 250, "untouched": 0}, schema)
    assert copied == 250
    assert elapsed > 0
    # the scratch table is gone, the table copied from untouched
    gone = db.execute("select to_regclass('bench_written_copy')").fetchone()
    assert gone == (None,)
    assert db.execute(f"select count(*) from {SCHEMA}.wide").fetchone() == (500,)
