"""Publication swaps schemas atomically, keeps the previous mart; the BI role reads `mart` only."""

from __future__ import annotations

import psycopg
import pytest

from pipeline.publish import PublicationError, publish, rollback
from pipeline.setup import ensure_bi_role, ensure_database
from scrutin.config import bi_reader_url, with_database

pytestmark = pytest.mark.db


def _make_audit(conn: psycopg.Connection, marker: str, rows: int) -> None:
    conn.execute("create schema if not exists mart_audit")
    conn.execute("drop table if exists mart_audit.publish_probe")
    conn.execute("create table mart_audit.publish_probe (marker text)")
    for _ in range(rows):
        conn.execute("insert into mart_audit.publish_probe values (%s)", (marker,))


def _published_marker(conn: psycopg.Connection, schema: str = "mart") -> str | None:
    row = conn.execute(f"select min(marker) from {schema}.publish_probe").fetchone()
    return row[0] if row else None


@pytest.fixture
def clean_marts(conn: psycopg.Connection) -> psycopg.Connection:
    for schema in ("mart_audit", "mart_prev", "mart_swap"):
        conn.execute(f"drop schema if exists {schema} cascade")
    conn.execute("drop schema if exists mart cascade")
    conn.execute("create schema mart")
    return conn


def test_publish_swaps_audit_in_and_keeps_previous(clean_marts: psycopg.Connection) -> None:
    conn = clean_marts
    _make_audit(conn, "v1", 2)
    first = publish(conn, "run-v1", {"checks": 1})
    assert first.row_counts == {"publish_probe": 2}
    assert _published_marker(conn) == "v1"
    assert conn.execute("select to_regnamespace('mart_audit')").fetchone() == (None,)

    _make_audit(conn, "v2", 3)
    publish(conn, "run-v2", {"checks": 1})
    assert _published_marker(conn) == "v2"
    assert _published_marker(conn, "mart_prev") == "v1"

    log = conn.execute(
        "select run_id, action, row_counts from ops.publication_log "
        "where run_id in ('run-v1', 'run-v2') order by publication_id"
    ).fetchall()
    assert log == [
        ("run-v1", "publish", {"publish_probe": 2}),
        ("run-v2", "publish", {"publish_probe": 3}),
    ]


def test_rollback_restores_previous_publication(clean_marts: psycopg.Connection) -> None:
    conn = clean_marts
    _make_audit(conn, "old", 1)
    publish(conn, "run-old", {})
    _make_audit(conn, "new", 1)
    publish(conn, "run-new", {})

    report = rollback(conn, "rb-1")
    assert report.action == "rollback"
    assert _published_marker(conn) == "old"
    assert _published_marker(conn, "mart_prev") == "new"
    # Rolling back twice flips again: a rollback is itself reversible.
    rollback(conn, "rb-2")
    assert _published_marker(conn) == "new"


def test_publish_without_audit_schema_changes_nothing(clean_marts: psycopg.Connection) -> None:
    conn = clean_marts
    _make_audit(conn, "kept", 1)
    publish(conn, "run-kept", {})
    with pytest.raises(PublicationError, match="mart_audit does not exist"):
        publish(conn, "run-nothing", {})
    assert _published_marker(conn) == "kept"


def test_rollback_without_previous_is_refused(clean_marts: psycopg.Connection) -> None:
    with pytest.raises(PublicationError, match="no previous publication"):
        rollback(clean_marts, "rb-none")


def test_bi_role_reads_mart_and_nothing_else(
    clean_marts: psycopg.Connection, warehouse_url: str
) -> None:
    conn = clean_marts
    ensure_bi_role(warehouse_url)
    _make_audit(conn, "visible", 1)
    publish(conn, "run-bi", {})
    _make_audit(conn, "hidden", 1)  # an unpublished audit schema

    bi_url = bi_reader_url(warehouse_url)
    with psycopg.connect(bi_url, autocommit=True) as bi:
        assert bi.execute("select marker from mart.publish_probe").fetchone() == ("visible",)
        for forbidden in (
            "select * from raw.batch_ledger",
            "select * from ops.publication_log",
            "select * from mart_audit.publish_probe",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi.execute(forbidden)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("create table mart.sneaky (x int)")

    # After a second publication the old mart (now mart_prev) is no longer readable.
    publish(conn, "run-bi-2", {})
    with psycopg.connect(bi_url, autocommit=True) as bi:
        assert bi.execute("select marker from mart.publish_probe").fetchone() == ("hidden",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("select * from mart_prev.publish_probe")


def test_bi_role_cannot_connect_to_closed_databases(warehouse_url: str) -> None:
    closed = "scrutin_test_closed"
    ensure_database(warehouse_url, closed)
    ensure_bi_role(warehouse_url, (closed,))
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(bi_reader_url(with_database(warehouse_url, closed)))


def test_publish_locks_the_tables_it_swaps_before_changing_anything(
    clean_marts: psycopg.Connection, warehouse_url: str
) -> None:
    """A session holding a lock on a table to publish (autovacuum analyzing what dbt just
    wrote holds SHARE UPDATE EXCLUSIVE) makes the publication wait at its first statement, with
    nothing changed yet, instead of deadlocking with it halfway through the swap."""
    import threading
    import time

    conn = clean_marts
    _make_audit(conn, "v-locked", 1)
    outcome: dict[str, object] = {}

    def run() -> None:
        with psycopg.connect(warehouse_url) as publisher:
            outcome["pid"] = publisher.info.backend_pid
            outcome["report"] = publish(publisher, "run-locked", {"checks": 1})

    with psycopg.connect(warehouse_url) as holder:
        holder.execute("begin")
        holder.execute("lock table mart_audit.publish_probe in share update exclusive mode")
        thread = threading.Thread(target=run)
        thread.start()
        waiting = None
        for _ in range(100):
            waiting = conn.execute(
                "select l.mode, c.relname from pg_locks as l "
                "join pg_class as c on c.oid = l.relation "
                "where l.pid = %s and not l.granted",
                (outcome.get("pid"),),
            ).fetchone()
            if waiting:
                break
            time.sleep(0.05)
        # Waiting for its ACCESS EXCLUSIVE lock on the table, before renaming any schema.
        assert waiting == ("AccessExclusiveLock", "publish_probe")
        assert conn.execute("select to_regnamespace('mart_audit') is not null").fetchone() == (
            True,
        )
        holder.execute("rollback")
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert _published_marker(conn) == "v-locked"
