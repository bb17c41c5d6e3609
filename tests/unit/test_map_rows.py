"""pipeline.maps.map_row: how one published row becomes a GeoJSON feature's properties."""

from __future__ import annotations

import datetime as dt

from pipeline.maps import map_row

# The targeting query's columns: bureau_map's shape first, then polling_station_targeting's
# (which carries its own copy of the centroid and source for the map card).
NAMES = (
    "geometry_geojson",
    "geometry_source",
    "latitude",
    "longitude",
    "campaign_id",
    "bureau_id",
    "value_per_canvasser_hour",
    "canvass_data_until",
    "latitude",
    "longitude",
    "map_geometry_source",
)
POLYGON = '{"type":"Polygon","coordinates":[[[-4.5,48.4],[-4.4,48.4],[-4.4,48.5],[-4.5,48.4]]]}'


def test_the_shape_columns_are_bureau_maps_and_appear_once() -> None:
    row = map_row(
        NAMES,
        (
            POLYGON,
            "contour",
            48.45,
            -4.45,
            "c1",
            "29019_0001",
            0.25,
            dt.date(2026, 11, 20),
            48.45,
            -4.45,
            "contour",
        ),
    )
    assert row.geometry == POLYGON
    assert row.properties == {
        "geometry_source": "contour",
        "latitude": 48.45,
        "longitude": -4.45,
        "campaign_id": "c1",
        "bureau_id": "29019_0001",
        "value_per_canvasser_hour": 0.25,
        "canvass_data_until": "2026-11-20",
    }


def test_a_bureau_without_a_score_row_keeps_its_centroid() -> None:
    """The targeting query is bureau_map LEFT JOIN polling_station_targeting: a bureau with no
    row for the campaign has null score columns, its own centroid still."""
    row = map_row(NAMES, (POLYGON, "reu_addresses", 48.1, -4.2, *(None,) * 7))
    assert (row.properties["latitude"], row.properties["longitude"]) == (48.1, -4.2)
    assert row.properties["geometry_source"] == "reu_addresses"
    assert "map_geometry_source" not in row.properties


def test_a_nan_score_is_null_in_json() -> None:
    row = map_row(
        NAMES,
        (None, "none", None, None, "c1", "29019_0002", float("nan"), None, None, None, "none"),
    )
    assert row.geometry is None
    assert row.properties["value_per_canvasser_hour"] is None
