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
            "and table_type = 'BASE TABLE' "
            # One row per write statement naming the raw table written, nothing of its rows
            # (migration 0015): table names as data would fool the sanity check below.
            "and (table_schema, table_name) <> ('ops', 'raw_table_writes')"
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


def fetch_count(url: str) -> int:
    return int(str(support.fetch(url, "select count(*) from raw.canvass_knocks")[0][0]))


def test_no_identity_whatever_the_mapping_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A campaign's own mappings: identity columns left out of the mapping are never read, and
    a mapping that points a stored field at one is refused before anything is read."""
    from ingestion.canvass.loader import load_canvass_file
    from ingestion.canvass.mapping import MappingError
    from scrutin.config import CANVASS_MAPPINGS_VARIABLE, DEFAULT_CANVASS_MAPPINGS

    url = support.fresh_warehouse("canvass_privacy_mapping", with_results=False)
    folder = tmp_path / "mappings"
    shutil.copytree(DEFAULT_CANVASS_MAPPINGS, folder)
    monkeypatch.setenv(CANVASS_MAPPINGS_VARIABLE, str(folder))
    qomon = folder / "qomon.yml"
    original = qomon.read_text(encoding="utf-8")
    # Not even listed as `ignore`: unlisted columns are never read.
    unlisted = "".join(
        line
        for line in original.splitlines(keepends=True)
        if not line.lstrip().startswith(("Prénom:", "Nom:", "Email:", "Téléphone:", "Militant:"))
    )
    qomon.write_text(unlisted, encoding="utf-8")
    report = load_canvass_file(url, support.QOMON, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert report.rows_loaded == 7
    warehouse = all_warehouse_text(url)
    assert [
        identity for identity in IDENTITIES if identity.casefold() in warehouse.casefold()
    ] == []

    # The only value stored as written is the knock id: it may not be fed by a personal column.
    qomon.write_text(
        original.replace(
            "  Email:                  {field: ignore,",
            "  Email:                  {field: knock_id,",
        ),
        encoding="utf-8",
    )
    with pytest.raises(MappingError, match=r"qomon\.yml, line \d+: columns\.Email\.field"):
        load_canvass_file(url, support.PAP, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert fetch_count(url) == 7  # nothing more landed
