"""Published scores with their shapes: what `scrutin export geojson` and `scrutin report` read.

Only the PUBLISHED mart is read (`mart.bureau_map` joined with `mart.polling_station_targeting`
or `mart.canvass_plan`), so a map never shows figures the gate did not audit. The score columns
are taken by name from whatever the targeting table holds (`select *`): a column added to the
scores reaches the export without a change here.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import psycopg

What = Literal["targeting", "plan"]
WHATS: tuple[What, ...] = ("targeting", "plan")

# The shape columns of mart.bureau_map a feature carries besides its geometry.
_SHAPE_COLUMNS = ("geometry_source", "latitude", "longitude")
# polling_station_targeting's copy of bureau_map's geometry_source (for the map card), not repeated
SCORES_COPIES_OF_SHAPE = frozenset({"map_geometry_source"})

_QUERIES: dict[What, str] = {
    # every published bureau, scored or not
    "targeting": """
        select m.geometry_geojson, m.geometry_source, m.latitude, m.longitude, t.*
        from mart.bureau_map as m
        left join mart.polling_station_targeting as t
            on t.bureau_id = m.bureau_id and t.campaign_id = %(campaign)s
        order by m.bureau_id
    """,
    # the bureaux of the volunteer plan only, in plan order
    "plan": """
        select m.geometry_geojson, m.geometry_source, m.latitude, m.longitude, p.*
        from mart.canvass_plan as p
        inner join mart.bureau_map as m on m.bureau_id = p.bureau_id
        where p.campaign_id = %(campaign)s
        order by p.plan_rank
    """,
}


class MapDataError(RuntimeError):
    """The published mart has no map table yet (a mart published before bureau_map existed)."""


@dataclass(frozen=True)
class MapRow:
    """One bureau: its geometry (GeoJSON text or None) and its published properties."""

    geometry: str | None
    properties: dict[str, Any]


def jsonable(value: Any) -> Any:
    """A database value as JSON can carry it (dates as ISO text, NaN as null)."""
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def map_rows(
    conn: psycopg.Connection, what: What = "targeting", campaign_id: str | None = None
) -> Iterator[MapRow]:
    """The published bureaux of `what` with their shapes (see the module docstring), scored for
    `campaign_id` (default: the campaign file's; the mart may hold several campaigns)."""
    from pipeline.campaign_access import configured_campaign_id

    if what not in _QUERIES:
        raise ValueError(f"what must be one of {WHATS}, got {what!r}")
    exists = conn.execute("select to_regclass('mart.bureau_map')").fetchone()
    if not exists or exists[0] is None:
        raise MapDataError(
            "mart.bureau_map is not published: run `scrutin build` (or the DAG "
            "build_audit_publish) to publish the map table"
        )
    with conn.cursor() as cur:
        cur.execute(_QUERIES[what], {"campaign": campaign_id or configured_campaign_id()})
        names = [d.name for d in cur.description or ()]
        for record in cur:
            yield map_row(names, record)


def map_row(names: Sequence[str], record: Sequence[Any]) -> MapRow:
    """One result row of `_QUERIES` as a MapRow: bureau_map's shape columns come first and are
    kept over the copies polling_station_targeting carries for the map card (null when the
    bureau has no score row for the campaign); `map_geometry_source` is not repeated."""
    geometry = None
    props: dict[str, Any] = {}
    for name, value in zip(names, record, strict=True):
        if name == "geometry_geojson":
            geometry = value
        elif name in SCORES_COPIES_OF_SHAPE or (name in _SHAPE_COLUMNS and name in props):
            continue
        else:
            props[name] = jsonable(value)
    return MapRow(geometry, props)


def write_geojson(rows: Iterator[MapRow], path: Path) -> int:
    """Write a GeoJSON FeatureCollection (RFC 7946, WGS84 lon/lat) feature by feature, the
    geometry text copied as published; return the number of features."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"type":"FeatureCollection","features":[\n')
        for row in rows:
            if n:
                out.write(",\n")
            props = json.dumps(row.properties, ensure_ascii=False, separators=(",", ":"))
            out.write(
                f'{{"type":"Feature","id":{json.dumps(row.properties.get("bureau_id"))},'
                f'"geometry":{row.geometry or "null"},"properties":{props}}}'
            )
            n += 1
        out.write("\n]}\n")
    return n
