"""Every Metabase card's plan, as the BI role, on published tables at a national-like volume.

The speed target (p95 <= 5 ms per card nationally, docs/analysts.md "BI speed") is measured by
`make bench-national`, never by a timed test. This module checks what makes it hold and what a
change could silently break: with the indexes that dbt_project.yml (and bureau_map.sql)
declare and the row-level security the publication applies, each card reads its rows through
an index, never scans the table that grows with every canvass day (canvass_progress), and the
cards that list bureaux take their first rows in index order (no sort of every bureau).

The tables are made from the marts' own contracts (their YAML columns and types) and filled
with synthetic rows: 20,000 bureaux in two campaigns, 30 canvass days, so that the planner
weighs the same choices as on a national mart (a few rows of one campaign among many).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import yaml

from tests.conftest import ROOT, drop_warehouse, fresh_warehouse

pytestmark = pytest.mark.db

DB_NAME = "scrutin_test_bi_plans"
DBT = ROOT / "dbt"
BUREAUX = 20_000
DAYS = 30
CAMPAIGN = "bi_plans_a"  # the BI role's campaign; bi_plans_b holds a quarter of the rows

# Cards allowed to read every row of a table, and why: the table is small and does not grow
# with the canvass (a day per campaign, the plan's bureaux), or the card aggregates a
# per-bureau table into a handful of rows.
FULL_READS_ALLOWED = {
    "Doors knocked and conversations per day": "canvass_days: one row per campaign and day",
    "Last canvass day published": "canvass_days: one row per campaign and day",
    "Plan": "canvass_plan: the bureaux of one plan (its hours), a few hundred",
    "Plan totals": "canvass_plan: the bureaux of one plan",
    "Data vintages behind the scores": "targeting_vintages: a few combinations per campaign",
    "Map sources": "bureau_map_sources: one row per geometry source",
}
# The tables those cards may read whole: none grows with the bureaux (a day, a plan's bureaux, a
# vintage, a source). A card grouping a per-bureau table instead reads 69,000 rows nationally.
SMALL_TABLES = {"canvass_days", "canvass_plan", "targeting_vintages", "bureau_map_sources"}
# Tables of a few rows need no index (a scan of 3 rows beats any index).
UNINDEXED_SMALL_TABLES = {"targeting_vintages", "bureau_map_sources"}
# The most rows a card may sort (the estimate of the sort's input): a commune's bureaux.
MAX_SORTED = 1_000
# The growing table: one row per bureau and canvass day (millions nationally).
GROWING = "canvass_progress"


def _models() -> dict[str, dict[str, Any]]:
    """Every mart model's YAML entry (columns with their contract types), by name."""
    found: dict[str, dict[str, Any]] = {}
    for path in (DBT / "models" / "marts").rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            found[model["name"]] = model
    return found


def _declared_indexes() -> dict[str, list[dict[str, Any]]]:
    """The indexes dbt creates on the marts: dbt_project.yml's `+indexes`, bureau_map.sql's."""
    project = yaml.safe_load((DBT / "dbt_project.yml").read_text(encoding="utf-8"))
    indexes: dict[str, list[dict[str, Any]]] = {}

    def walk(node: dict[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                if "+indexes" in value:
                    indexes[key] = value["+indexes"]
                walk(value)

    walk(project["models"]["scrutin"]["marts"])
    config = (DBT / "models" / "marts" / "polling_stations" / "bureau_map.sql").read_text()
    indexes["bureau_map"] = [
        {"columns": re.findall(r"'([a-z_]+)'", cols), "unique": bool(unique)}
        for cols, unique in re.findall(r"\{'columns': \[([^\]]*)\](, 'unique': true)?\}", config)
    ]
    return indexes


def _cards() -> list[Any]:
    from pipeline.metabase import load_dashboards

    return [card for dashboard in load_dashboards() for card in dashboard.cards]


def _card_tables() -> set[str]:
    return {t for card in _cards() for t in re.findall(r"\bmart\.([a-z_]+)", card.sql)}


# Values of the synthetic rows: `i` is the bureau number, `d` the day number (0 = first day).
_VALUES = {
    "campaign_id": f"case when i % 4 = 0 then 'bi_plans_b' else '{CAMPAIGN}' end",
    "bureau_id": "lpad(i::text, 5, '0') || '_0001'",
    "code_commune": "lpad((i / 8)::text, 5, '0')",
    "commune_name": "'Commune ' || (i / 8)",
    "code_bv": "'0001'",
    "day": "date '2026-03-01' + d",
    "targeting_rank": "i",
    "plan_rank": "i",
    "bureaux": "1 + i % 8",
    "latitude": "48 + (i % 1000) / 1000.0",
    "longitude": "-4 + (i % 1000) / 1000.0",
    "geometry_source": "(array['contour', 'reu_addresses', 'none'])[1 + i % 3]",
    "map_geometry_source": "(array['contour', 'reu_addresses', 'none'])[1 + i % 3]",
}
_BY_TYPE = {
    "text": "'x'",
    "integer": "i % 50",
    "bigint": "i % 50",
    "double precision": "(i % 997) / 997.0",
    "numeric": "(i % 997) / 997.0",
    "boolean": "i % 10 = 0",
    "date": "date '2026-03-01'",
}


def _create(conn: psycopg.Connection, table: str, model: dict[str, Any]) -> None:
    columns = [(c["name"], c.get("data_type", "text")) for c in model["columns"]]
    ddl = ", ".join(f"{name} {kind}" for name, kind in columns)
    conn.execute(f"create table mart.{table} ({ddl})")
    values = ", ".join(
        _VALUES.get(name, _BY_TYPE.get(kind.split("(")[0], "null")) for name, kind in columns
    )
    names = ", ".join(name for name, _ in columns)
    if table == GROWING:
        source = f"generate_series(1, {BUREAUX}) as i, generate_series(0, {DAYS - 1}) as d"
    elif table == "canvass_days":
        source = f"generate_series(0, 1) as i, generate_series(0, {DAYS - 1}) as d"
    elif table in UNINDEXED_SMALL_TABLES:  # a vintage per campaign, three geometry sources
        source = "generate_series(0, 2) as i"
    elif table == "canvass_plan":
        source = "generate_series(1, 300) as i"
    elif table == "commune_summary":
        # one row per commune (code_commune is i / 8), in both campaigns
        source = (
            f"generate_series(1, {BUREAUX // 8}) as j, lateral (select j * 8 + j % 4 as i) as k"
        )
    else:
        source = f"generate_series(1, {BUREAUX}) as i"
    conn.execute(f"insert into mart.{table} ({names}) select {values} from {source}")


@pytest.fixture(scope="module")
def bi_url() -> Iterator[str]:
    """A warehouse whose `mart` holds the cards' tables, indexed and secured as published."""
    from pipeline.campaign_access import apply_row_security, grant_mart, map_role
    from scrutin.config import bi_reader_role, bi_reader_url
    from scrutin.db import connect

    url = fresh_warehouse(DB_NAME)
    models = _models()
    indexes = _declared_indexes()
    with connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists mart")
        for table in sorted(_card_tables()):
            _create(conn, table, models[table])
            for n, index in enumerate(indexes.get(table, [])):
                unique = "unique " if index.get("unique") else ""
                conn.execute(
                    f"create {unique}index {table}_{n} on mart.{table} "
                    f"({', '.join(index['columns'])})"
                )
        with conn.transaction(), conn.cursor() as cur:
            map_role(cur, bi_reader_role(), CAMPAIGN)
            grant_mart(cur, bi_reader_role())
            apply_row_security(cur, "mart")
        conn.execute("vacuum analyze")
    yield bi_reader_url(url)
    drop_warehouse(DB_NAME)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plan(conn: psycopg.Connection, sql: str) -> list[dict[str, Any]]:
    row = conn.execute(f"explain (format json) {sql}").fetchone()
    assert row is not None
    return list(_nodes(row[0][0]["Plan"]))


def test_the_cards_tables_have_their_declared_indexes() -> None:
    """Each table a card reads by bureau, rank or day has indexes led by campaign_id (the row
    security's predicate) where it carries campaigns."""
    indexes = _declared_indexes()
    models = _models()
    for table in _card_tables() - UNINDEXED_SMALL_TABLES:
        declared = indexes.get(table)
        assert declared, f"mart.{table} is read by a card but has no declared index"
        names = {c["name"] for c in models[table]["columns"]}
        if "campaign_id" in names:
            assert all(i["columns"][0] == "campaign_id" for i in declared), (table, declared)


def test_no_card_scans_the_growing_canvass_table(bi_url: str) -> None:
    with psycopg.connect(bi_url, autocommit=True) as conn:
        for card in _cards():
            for node in _plan(conn, card.sql):
                if node.get("Relation Name") != GROWING:
                    continue
                assert node["Node Type"] in ("Index Scan", "Index Only Scan"), (
                    card.name,
                    node["Node Type"],
                )
                # the rows of one day (the latest), not the bureau's whole history
                assert "day" in node.get("Index Cond", ""), (card.name, node.get("Index Cond"))


def test_every_card_reads_through_an_index_or_is_a_known_small_read(bi_url: str) -> None:
    with psycopg.connect(bi_url, autocommit=True) as conn:
        for card in _cards():
            nodes = _plan(conn, card.sql)
            scans = {(n["Node Type"], n["Relation Name"]) for n in nodes if "Relation Name" in n}
            if card.name in FULL_READS_ALLOWED:
                whole = sorted(r for kind, r in scans if kind == "Seq Scan")
                assert set(whole) <= SMALL_TABLES, f"card {card.name!r} reads {whole} whole"
                continue
            seq = sorted(r for kind, r in scans if kind == "Seq Scan")
            assert not seq, f"card {card.name!r} scans {seq} (plan nodes: {sorted(scans)})"
            # A card listing bureaux takes them in index order: no sort of every bureau (a
            # commune's bureaux, a few hundred at most, may be sorted).
            sorts = [
                n
                for n in nodes
                if n["Node Type"] in ("Sort", "Incremental Sort") and n["Plan Rows"] > MAX_SORTED
            ]
            assert not sorts, f"card {card.name!r} sorts rows: {sorts[0].get('Sort Key')}"


def test_the_cards_listing_bureaux_join_nothing(bi_url: str) -> None:
    """The cards that list up to 2,000 bureaux (the map, coverage by bureau) read one table in
    index order: looking up each bureau's centroid in bureau_map, 2,000 index probes, was half
    of the map card's time nationally (docs/performance.md)."""
    listing = [card for card in _cards() if re.search(r"\blimit 2000\b", card.sql)]
    assert {card.name for card in listing} >= {
        "Bureaux by value per canvasser-hour (map)",
        "Coverage by bureau (latest day)",
    }
    with psycopg.connect(bi_url, autocommit=True) as conn:
        for card in listing:
            joins = [
                n["Node Type"]
                for n in _plan(conn, card.sql)
                if "Join" in n["Node Type"] or n["Node Type"] == "Nested Loop"
            ]
            assert not joins, f"card {card.name!r} joins: {joins}"


def test_the_bi_role_reads_only_its_campaign_through_those_plans(bi_url: str) -> None:
    """Row security still applies on the indexed reads: the BI role's campaign only."""
    with psycopg.connect(bi_url, autocommit=True) as conn:
        campaigns = conn.execute(
            "select distinct campaign_id from mart.canvass_progress "
            "where day = (select max(day) from mart.canvass_days)"
        ).fetchall()
        latest = conn.execute("select count(*) from mart.canvass_days").fetchone()
    assert campaigns == [(CAMPAIGN,)]
    assert latest == (DAYS,)  # its own days only (the other campaign has as many)
