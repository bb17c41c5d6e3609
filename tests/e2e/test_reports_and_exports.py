"""What analysts see, on the demo's publication: the map table, the GeoJSON export, the report
in a real headless Chromium (no console error, no network, one shape per bureau, screenshot)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrutin.db import connect
from tests.browser import browser_page
from tests.e2e.conftest import DemoWarehouse

SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _published_bureaux(url: str) -> set[str]:
    with connect(url) as conn:
        return {r[0] for r in conn.execute("select bureau_id from mart.polling_stations")}


def test_every_published_bureau_has_a_valid_shape_and_its_source(
    demo_warehouse: DemoWarehouse,
) -> None:
    import shapely

    with connect(demo_warehouse.url) as conn:
        rows = conn.execute(
            "select bureau_id, code_commune, geometry_source, geometry_geojson, latitude, "
            "longitude from mart.bureau_map"
        ).fetchall()
    assert {r[0] for r in rows} == _published_bureaux(demo_warehouse.url)
    sources = {r[0]: r[2] for r in rows}
    # Brest's bureaux have the real contour layer; communes without one get address cells.
    assert {s for b, s in sources.items() if b.startswith("29019_")} == {"contour"}
    assert "reu_addresses" in sources.values()
    for bureau_id, _, _, text, lat, lon in rows:
        geom = shapely.from_geojson(text)
        assert geom.is_valid and geom.geom_type in ("Polygon", "MultiPolygon"), bureau_id
        # the centroid is in the shape, within the grid's snapping
        assert geom.buffer(1e-5).covers(shapely.Point(lon, lat)), bureau_id


@pytest.mark.parametrize("what", ["targeting", "plan"])
def test_geojson_export_opens_in_geopandas_one_valid_feature_per_bureau(
    demo_env: DemoWarehouse, tmp_path: Path, what: str
) -> None:
    import geopandas

    from pipeline.cli import main
    from pipeline.maps import SCORES_COPIES_OF_SHAPE

    out = tmp_path / f"{what}.geojson"
    assert main(["export", "geojson", "--what", what, "-o", str(out)]) == 0
    frame = geopandas.read_file(out)
    with connect(demo_env.url) as conn:
        table = "polling_station_targeting" if what == "targeting" else "canvass_plan"
        expected = {r[0] for r in conn.execute(f"select bureau_id from mart.{table}")}
        columns = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'mart' and table_name = %s",
                (table,),
            )
        ]
    assert len(frame) == len(expected) and set(frame["bureau_id"]) == expected
    assert frame.crs.to_epsg() == 4326
    assert frame.geometry.is_valid.all() and not frame.geometry.is_empty.any()
    # every published score column travels by name, with the shape's source (the scores' copy
    # of bureau_map's source, map_geometry_source, is that same geometry_source)
    assert set(columns) - SCORES_COPIES_OF_SHAPE <= set(frame.columns)
    assert "geometry_source" in frame.columns
    assert not SCORES_COPIES_OF_SHAPE & set(frame.columns)
    if what == "plan":
        assert list(frame["plan_rank"]) == sorted(frame["plan_rank"])


def test_report_opens_offline_and_draws_one_shape_per_bureau(
    demo_env: DemoWarehouse, tmp_path: Path
) -> None:
    from pipeline.cli import main

    report = tmp_path / "report.html"
    assert main(["report", "-o", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text  # no CDN, no tile server
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOT_DIR / "report.png"
    with browser_page() as (page, watch):
        page.goto(report.as_uri())
        page.wait_for_function("document.getElementById('map').dataset.shapes !== '0'")
        drawn = int(page.get_attribute("#map", "data-shapes") or 0)
        sections = page.locator("h2").all_inner_texts()
        plan_rows = page.locator("table").nth(1).locator("tbody tr").count()
        page.screenshot(path=str(shot), full_page=True)
    assert watch.console_errors == [] and watch.page_errors == []
    assert watch.network_requests() == []
    assert drawn == len(_published_bureaux(demo_env.url))
    assert any("Volunteer plan" in s for s in sections)
    assert any("Last gate run" in s for s in sections)
    with connect(demo_env.url) as conn:
        row = conn.execute("select count(*) from mart.canvass_plan").fetchone()
    assert row is not None and plan_rows == row[0]
    assert shot.stat().st_size > 10_000
    # the embedded data names every bureau once
    data = json.loads(
        text.split('<script id="report-data" type="application/json">')[1].split("</script>")[0]
    )
    assert len(data["bureaux"]) == drawn


def _relations(plan: object) -> set[tuple[str, str]]:
    """(schema, relation) of every table or view an EXPLAIN (FORMAT JSON) plan reads."""
    found: set[tuple[str, str]] = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add((plan.get("Schema", ""), plan["Relation Name"]))
        for value in plan.values():
            found |= _relations(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _relations(value)
    return found


def test_every_dashboard_card_runs_as_the_bi_role_and_reads_mart_only(
    demo_warehouse: DemoWarehouse,
) -> None:
    import psycopg

    from pipeline.metabase import load_dashboards
    from scrutin.config import bi_reader_url

    bi_url = bi_reader_url(demo_warehouse.url)
    cards = [c for d in load_dashboards() for c in d.cards]
    assert len(cards) >= 10
    with psycopg.connect(bi_url, autocommit=True) as conn:
        for card in cards:
            (plan,) = conn.execute(f"explain (format json, verbose) {card.sql}").fetchone()  # type: ignore[misc]
            relations = _relations(plan)
            assert relations and {s for s, _ in relations} == {"mart"}, (card.name, relations)
            rows = conn.execute(card.sql).fetchall()
            assert rows, f"card {card.name!r} returns no row on the demo mart"
