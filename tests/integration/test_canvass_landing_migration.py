"""Migration 0008 turns the old upserted canvass table into the landing table, keeping its rows.

A warehouse at 0007 holds knocks the way the loader used to write them: one row per knock with
its bureau resolved, every flag decided, `updated_at` moved by each rewrite, and the canvasser
totals beside them. After `scrutin setup` applies 0008, those rows are valid landed rows (one
line number each within their batch, only the loader's two flags, loaded_at the last time they
changed), the totals are gone, and the loader lands into the table.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from ingestion.canvass.loader import load_canvass_file
from scrutin.config import database_url, with_database
from scrutin.warehouse.migrate import migrate, packaged_migrations
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET, fetch

pytestmark = pytest.mark.db

T0 = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 10, 2, 12, 0, tzinfo=dt.UTC)


def test_old_knocks_survive_as_landed_rows() -> None:
    name = support.database_name("canvass_migration")
    server = database_url()
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    url = with_database(server, name)
    before = [m for m in packaged_migrations() if m.version < 8]
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, before)
        batch = conn.execute(
            "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
            "values ('canvass', 'old.csv', 'x', 'qomon', 'loaded') returning batch_id"
        ).fetchone()
        assert batch is not None
        for knock, flags, updated in (
            ("K2", ["too_fast_distant", "outside_campaign_window"], T0),
            ("K1", ["suppressed_building", "high_contact_rate_canvasser"], T1),
        ):
            conn.execute(
                "insert into raw.canvass_knocks (source, knock_id, campaign_id, canvasser_key, "
                "bureau_id, building_key, knocked_at, outcome, integrity_flags, batch_id, "
                "loaded_at, updated_at, source_updated_at) "
                "values ('qomon', %s, 'c', 'cv', '29019_0001', 'b', %s, 'not_reached', %s, %s, "
                "%s, %s, %s)",
                (knock, T0, flags, batch[0], T0, updated, T0),
            )
        conn.execute("insert into raw.canvass_canvasser_totals values ('c', 'cv', 2, 0, true)")
        # dbt's staging view reads updated_at: the migration must not stop on it.
        conn.execute("create schema if not exists staging")
        conn.execute(
            "create view staging.stg_canvass__knocks as select updated_at from raw.canvass_knocks"
        )
        through_8 = [m for m in packaged_migrations() if m.version <= 8]
        assert [m.version for m in migrate(conn, through_8)] == [8]
        migrate(conn)  # and the later ones, as `scrutin setup` would

    rows = fetch(
        url,
        "select knock_id, line_no, integrity_flags, loaded_at, bureau_id "
        "from raw.canvass_knocks order by line_no",
    )
    assert rows == [
        ("K1", 1, [], T1, "29019_0001"),
        ("K2", 2, ["outside_campaign_window"], T0, "29019_0001"),
    ]
    assert fetch(url, "select to_regclass('raw.canvass_canvasser_totals')") == [(None,)]
    columns = dict(
        fetch(
            url,
            "select column_name, is_nullable from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'canvass_knocks'",
        )
    )
    assert "updated_at" not in columns
    assert columns["bureau_id"] == columns["longitude"] == columns["address_key"] == "YES"
    assert columns["line_no"] == "NO"
    # The loader lands into it, the same knock again included.
    report = load_canvass_file(url, support.QOMON, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert report.rows_loaded == 7
