"""`scrutin metabase provision`'s client against recorded Metabase API answers (`responses`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses
from responses import matchers

from pipeline.metabase import (
    DASHBOARDS_DIR,
    MetabaseClient,
    MetabaseError,
    load_dashboards,
    provision,
)

URL = "http://metabase.test"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "metabase"
WAREHOUSE = {
    "host": "postgres",
    "port": 5432,
    "dbname": "scrutin",
    "user": "scrutin_bi",
    "password": "secret",
}
DESCRIPTIONS = {
    "polling_station_targeting": ("Where canvassing wins.", {"why": "The reason.", "x": "none"}),
    "bureau_map": ("Shapes.", {"geometry_source": "contour or reu_addresses"}),
}


def _common(rsps: responses.RequestsMock) -> None:
    rsps.post(f"{URL}/api/session", json={"id": "token-1"})
    rsps.post(f"{URL}/api/database/2/sync_schema", json={"status": "ok"})
    rsps.get(
        f"{URL}/api/database/2/metadata", json=json.loads((FIXTURES / "metadata.json").read_text())
    )
    for table in (11, 12):
        rsps.put(f"{URL}/api/table/{table}", json={"id": table})
    for fld in (102, 111):
        rsps.put(f"{URL}/api/field/{fld}", json={"id": fld})


def _bodies(rsps: responses.RequestsMock, method: str, prefix: str) -> list[dict]:
    return [
        json.loads(c.request.body)
        for c in rsps.calls
        if c.request.method == method
        and c.request.url.startswith(URL + prefix)
        and c.request.body is not None
    ]


def test_the_versioned_dashboards_are_the_five_of_the_issue() -> None:
    names = {d.name for d in load_dashboards(DASHBOARDS_DIR)}
    assert names == {
        "Priority map",
        "Ranking and why",
        "Volunteer plan",
        "Canvass progress",
        "Data freshness and publication",
    }


def test_first_run_creates_database_as_bi_role_collection_cards_and_dashboards() -> None:
    dashboards = load_dashboards()
    n_cards = sum(len(d.cards) for d in dashboards)
    with responses.RequestsMock() as rsps:
        _common(rsps)
        rsps.get(f"{URL}/api/database", json={"data": [{"id": 1, "name": "Sample Database"}]})
        rsps.post(f"{URL}/api/database", json={"id": 2})
        rsps.get(f"{URL}/api/collection", json=[{"id": "root", "name": "Our analytics"}])
        rsps.post(f"{URL}/api/collection", json={"id": 7})
        rsps.get(f"{URL}/api/collection/7/items", json={"data": []})
        card_ids = iter(range(100, 200))
        rsps.add_callback(
            responses.POST,
            f"{URL}/api/card",
            callback=lambda r: (200, {}, json.dumps({"id": next(card_ids)})),
        )
        board_ids = iter(range(300, 400))
        rsps.add_callback(
            responses.POST,
            f"{URL}/api/dashboard",
            callback=lambda r: (200, {}, json.dumps({"id": next(board_ids)})),
        )
        rsps.add(
            responses.PUT,
            f"{URL}/api/dashboard/300",
            json={},
            match=[matchers.header_matcher({"X-Metabase-Session": "token-1"})],
        )
        for board in range(301, 300 + len(dashboards)):
            rsps.put(f"{URL}/api/dashboard/{board}", json={})
        client = MetabaseClient(URL)
        client.login("admin@example.org", "pw")
        report = provision(client, WAREHOUSE, dashboards, DESCRIPTIONS)

        (database,) = _bodies(rsps, "POST", "/api/database")
        cards = _bodies(rsps, "POST", "/api/card")
        layouts = _bodies(rsps, "PUT", "/api/dashboard/")
    assert database["engine"] == "postgres"
    assert database["details"]["user"] == "scrutin_bi"
    assert database["details"]["schema-filters-patterns"] == "mart"
    assert len(cards) == n_cards
    assert all(
        c["dataset_query"]["type"] == "native"
        and c["dataset_query"]["database"] == 2
        and c["collection_id"] == 7
        for c in cards
    )
    # every card of every dashboard is placed once, side by side within 24 columns
    placed = [dc for layout in layouts for dc in layout["dashcards"]]
    assert len(placed) == n_cards and all(dc["col"] + dc["size_x"] <= 24 for dc in placed)
    # descriptions: 2 tables + the 2 fields dbt documents (bureau_id and latitude are not)
    assert report.descriptions == 4
    assert (report.database_id, report.collection_id) == (2, 7)
    assert len(report.created) == 2 + n_cards + len(dashboards)


def test_second_run_updates_in_place_and_creates_nothing() -> None:
    dashboards = load_dashboards()
    items = [
        {"model": "card", "id": 100 + i, "name": c.name}
        for i, c in enumerate(c for d in dashboards for c in d.cards)
    ]
    items += [
        {"model": "dashboard", "id": 300 + i, "name": d.name} for i, d in enumerate(dashboards)
    ]
    with responses.RequestsMock() as rsps:
        _common(rsps)
        rsps.get(f"{URL}/api/database", json={"data": [{"id": 2, "name": "Scrutin mart"}]})
        rsps.put(f"{URL}/api/database/2", json={"id": 2})
        rsps.get(f"{URL}/api/collection", json=[{"id": 7, "name": "Scrutin"}])
        rsps.get(f"{URL}/api/collection/7/items", json={"data": items})
        for item in items:
            rsps.put(f"{URL}/api/{item['model']}/{item['id']}", json={})
        client = MetabaseClient(URL)
        client.login("admin@example.org", "pw")
        report = provision(client, WAREHOUSE, dashboards, DESCRIPTIONS)
        posts = [c.request.url for c in rsps.calls if c.request.method == "POST"]
    assert report.created == []
    assert posts == [f"{URL}/api/session", f"{URL}/api/database/2/sync_schema"]


def test_a_refused_call_names_the_path_and_the_answer() -> None:
    with responses.RequestsMock() as rsps:
        rsps.post(f"{URL}/api/session", status=401, json={"errors": {"password": "did not match"}})
        with pytest.raises(MetabaseError, match=r"POST /api/session: HTTP 401.*did not match"):
            MetabaseClient(URL).login("admin@example.org", "wrong")


def test_a_card_without_sql_is_refused_with_its_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("name: Bad\ncards:\n  - name: no sql\n")
    with pytest.raises(ValueError, match=r"bad.yml: card 1 needs a `name` and a `sql`"):
        load_dashboards(tmp_path)
