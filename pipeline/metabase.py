"""Metabase as code: dashboards defined in `metabase/dashboards/*.yml`, provisioned through the
Metabase REST API (`scrutin metabase provision --url URL`).

Idempotent by name: a second run finds the warehouse, the collection, the cards and the
dashboards it created and updates them in place (PUT), it never creates duplicates. Steps:
1. log in (`/api/session`) with SCRUTIN_METABASE_USER / SCRUTIN_METABASE_PASSWORD;
2. add the warehouse through the BI role (`scrutin_bi`, schema filter `mart` only), or update it;
3. sync its schema, then copy every table and column description of the dbt manifest
   (the same text as the PostgreSQL comments) onto Metabase's tables and fields;
4. create the collection, one native-SQL card per `cards:` entry, one dashboard per file.

dbt-metabase was considered: it syncs descriptions but does not create cards or dashboards from
files, and the lock is shared between helpers; the few calls needed are written here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scrutin.config import PROJECT_ROOT

log = logging.getLogger("pipeline.metabase")

DASHBOARDS_DIR = PROJECT_ROOT / "metabase" / "dashboards"
DATABASE_NAME = "Scrutin mart"
COLLECTION_NAME = "Scrutin"
DASHBOARD_WIDTH = 24


class MetabaseError(RuntimeError):
    """Metabase refused a call; the message names the method, path and Metabase's answer."""


@dataclass(frozen=True)
class Card:
    name: str
    sql: str
    display: str = "table"
    width: int = 12
    height: int = 8
    visualization_settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Dashboard:
    name: str
    description: str
    cards: tuple[Card, ...]
    path: Path


def load_dashboards(folder: Path = DASHBOARDS_DIR) -> list[Dashboard]:
    """Every dashboard file of `folder`, checked: a card without name or SQL names its file."""
    dashboards = []
    for path in sorted(folder.glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        cards = []
        for i, card in enumerate(spec.get("cards") or [], start=1):
            if not card.get("name") or not card.get("sql"):
                raise ValueError(f"{path}: card {i} needs a `name` and a `sql`")
            cards.append(
                Card(
                    name=card["name"],
                    sql=card["sql"].strip(),
                    display=card.get("display", "table"),
                    width=int(card.get("width", 12)),
                    height=int(card.get("height", 8)),
                    visualization_settings=card.get("visualization_settings") or {},
                )
            )
        if not spec.get("name") or not cards:
            raise ValueError(f"{path}: a dashboard needs a `name` and at least one card")
        dashboards.append(Dashboard(spec["name"], spec.get("description", ""), tuple(cards), path))
    return dashboards


def dbt_descriptions(manifest_path: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """{table: (description, {column: description})} of the published models of a dbt manifest."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model" or node.get("schema") != "mart_audit":
            continue
        columns = {c: (v.get("description") or "") for c, v in node.get("columns", {}).items()}
        out[node["name"]] = (node.get("description") or "", columns)
    return out


class MetabaseClient:
    """The few Metabase REST calls provisioning needs, over one `requests` session."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        import requests

        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def call(self, method: str, path: str, body: Any | None = None) -> Any:
        response = self.session.request(
            method, f"{self.url}{path}", json=body, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise MetabaseError(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:300]}"
            )
        return response.json() if response.content else None

    def login(self, username: str, password: str) -> None:
        token = self.call("POST", "/api/session", {"username": username, "password": password})
        self.session.headers["X-Metabase-Session"] = token["id"]


@dataclass
class ProvisionReport:
    database_id: int = 0
    collection_id: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    descriptions: int = 0


def _items(payload: Any) -> list[dict[str, Any]]:
    """Metabase answers some lists bare and some as {"data": [...]}."""
    return payload.get("data", []) if isinstance(payload, dict) else list(payload or [])


def provision(
    client: MetabaseClient,
    warehouse: dict[str, Any],
    dashboards: list[Dashboard],
    descriptions: dict[str, tuple[str, dict[str, str]]] | None = None,
) -> ProvisionReport:
    """Create or update the warehouse, descriptions, collection, cards and dashboards.

    `warehouse`: host, port, dbname, user (the BI role), password of the BI connection.
    """
    report = ProvisionReport()
    details = {**warehouse, "schema-filters-type": "inclusion", "schema-filters-patterns": "mart"}
    existing = {d["name"]: d for d in _items(client.call("GET", "/api/database"))}
    body = {"name": DATABASE_NAME, "engine": "postgres", "details": details}
    if DATABASE_NAME in existing:
        report.database_id = existing[DATABASE_NAME]["id"]
        client.call("PUT", f"/api/database/{report.database_id}", body)
        report.updated.append(f"database {DATABASE_NAME}")
    else:
        report.database_id = client.call("POST", "/api/database", body)["id"]
        report.created.append(f"database {DATABASE_NAME}")
    db = report.database_id
    client.call("POST", f"/api/database/{db}/sync_schema")
    if descriptions:
        report.descriptions = _sync_descriptions(client, db, descriptions)

    collections = {c["name"]: c for c in _items(client.call("GET", "/api/collection"))}
    if COLLECTION_NAME in collections:
        report.collection_id = collections[COLLECTION_NAME]["id"]
    else:
        report.collection_id = client.call(
            "POST",
            "/api/collection",
            {"name": COLLECTION_NAME, "description": "Provisioned by scrutin (metabase/)"},
        )["id"]
        report.created.append(f"collection {COLLECTION_NAME}")
    coll = report.collection_id
    items = _items(client.call("GET", f"/api/collection/{coll}/items?models=card&models=dashboard"))
    cards = {i["name"]: i["id"] for i in items if i.get("model") == "card"}
    boards = {i["name"]: i["id"] for i in items if i.get("model") == "dashboard"}

    for dashboard in dashboards:
        dashcards = []
        row = col = row_height = 0
        for n, card in enumerate(dashboard.cards, start=1):
            card_id = _upsert(
                client,
                report,
                cards,
                kind="card",
                name=card.name,
                body={
                    "name": card.name,
                    "collection_id": coll,
                    "display": card.display,
                    "visualization_settings": card.visualization_settings,
                    "dataset_query": {
                        "type": "native",
                        "native": {"query": card.sql},
                        "database": db,
                    },
                },
            )
            if col + card.width > DASHBOARD_WIDTH:
                row, col, row_height = row + row_height, 0, 0
            dashcards.append(
                {
                    "id": -n,
                    "card_id": card_id,
                    "row": row,
                    "col": col,
                    "size_x": card.width,
                    "size_y": card.height,
                }
            )
            col += card.width
            row_height = max(row_height, card.height)
        board_id = _upsert(
            client,
            report,
            boards,
            kind="dashboard",
            name=dashboard.name,
            body={
                "name": dashboard.name,
                "description": dashboard.description,
                "collection_id": coll,
            },
        )
        client.call("PUT", f"/api/dashboard/{board_id}", {"dashcards": dashcards})
    return report


def _upsert(
    client: MetabaseClient,
    report: ProvisionReport,
    known: dict[str, int],
    *,
    kind: str,
    name: str,
    body: dict[str, Any],
) -> int:
    if name in known:
        client.call("PUT", f"/api/{kind}/{known[name]}", body)
        report.updated.append(f"{kind} {name}")
        return known[name]
    new_id = int(client.call("POST", f"/api/{kind}", body)["id"])
    known[name] = new_id
    report.created.append(f"{kind} {name}")
    return new_id


def _sync_descriptions(
    client: MetabaseClient, db: int, descriptions: dict[str, tuple[str, dict[str, str]]]
) -> int:
    """Copy dbt's table and column descriptions onto Metabase's; return how many were set."""
    metadata = client.call("GET", f"/api/database/{db}/metadata")
    n = 0
    for table in metadata.get("tables", []):
        if table.get("schema") != "mart" or table.get("name") not in descriptions:
            continue
        text, columns = descriptions[table["name"]]
        if text:
            client.call("PUT", f"/api/table/{table['id']}", {"description": text})
            n += 1
        for fld in table.get("fields", []):
            if columns.get(fld.get("name")):
                client.call("PUT", f"/api/field/{fld['id']}", {"description": columns[fld["name"]]})
                n += 1
    return n
