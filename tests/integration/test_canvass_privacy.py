"""No identity from the exports reaches the warehouse, its logs, or the drop zone's reason files.

Every fixture is delivered (good rows, bad rows, refused files); then every column of every
table of every warehouse schema is read back as text and searched for the fixtures' names, phone
numbers, e-mails and notes, and so are the captured logs.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ingestion.canvass.dropzone import process_drop_zone
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, IDENTITIES, NOW, SECRET

pytestmark = pytest.mark.db


def all_warehouse_text(url: str) -> str:
    chunks: list[str] = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema') "
            "and table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            query = sql.SQL("select t::text from {}.{} as t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            chunks.extend(str(r[0]) for r in conn.execute(query).fetchall())
    return "\n".join(chunks)


def test_no_identity_anywhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = support.fresh_warehouse("canvass_privacy")
    drop = tmp_path / "drop"
    drop.mkdir()
    for path in support.ALL_FIXTURES:
        shutil.copy(path, drop / path.name)
    # A refused file too: its reason must not quote its content either.
    text = support.QOMON.read_text(encoding="utf-8-sig")
    (drop / "qomon_resaved.csv").write_text(text.replace(";", ","), encoding="utf-8")
    with caplog.at_level(logging.DEBUG):
        results = process_drop_zone(url, drop, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert {r.outcome for r in results} == {"loaded", "failed"}

    warehouse = all_warehouse_text(url)
    assert "canvass_knocks" not in warehouse  # sanity: we read data, not names of tables
    assert "29019_0001" in warehouse  # sanity: the scan does see the landed rows
    reasons = "\n".join(p.read_text() for p in (drop / "failed").glob("*.reason.txt"))
    logs = caplog.text
    assert "qomon_small.csv" in logs  # sanity: the loader did log
    leaks = {
        where: [identity for identity in IDENTITIES if identity.casefold() in text.casefold()]
        for where, text in (("warehouse", warehouse), ("logs", logs), ("reasons", reasons))
    }
    assert leaks == {"warehouse": [], "logs": [], "reasons": []}
