"""Map shapes of polling stations (ingestion/geo/shapes.py): contours kept, address cells tile."""

from __future__ import annotations

import json

import numpy as np
import shapely

from ingestion.geo.allocation import WeightedPoints
from ingestion.geo.shapes import address_cells, contour_shapes, geojson_text, geojson_texts


def _points(rows: list[tuple[float, float, float, str, str]]) -> WeightedPoints:
    lon, lat, w, bureau, commune = zip(*rows, strict=True)
    return WeightedPoints(
        np.array(lon),
        np.array(lat),
        np.array(w),
        np.array(bureau, dtype=object),
        np.array(commune, dtype=object),
    )


def _shape(text: str) -> shapely.Geometry:
    return shapely.from_geojson(text)


def test_geojson_text_snaps_coordinates_to_a_micro_degree() -> None:
    square = shapely.box(-4.48612345678, 48.3901234567, -4.48, 48.4)
    coords = json.loads(geojson_text(square))["coordinates"][0]
    assert [-4.486123, 48.390123] in coords
    assert all(round(c, 6) == c for point in coords for c in point)


def test_contour_keeps_its_centroid_and_the_ministry_key() -> None:
    polygon = shapely.box(-4.5, 48.38, -4.49, 48.39)
    (shape,) = contour_shapes(["29019_0001"], ["29019"], np.array([polygon]), [(-4.495, 48.385)])
    assert (shape.bureau_key, shape.key_kind, shape.geometry_source) == (
        "29019_0001",
        "contour",
        "contour",
    )
    assert (shape.centroid_lat, shape.centroid_lon) == (48.385, -4.495)
    assert _shape(shape.geometry_geojson).equals(polygon)


def test_a_contour_whose_centroid_falls_outside_gets_a_point_inside() -> None:
    crescent = shapely.box(0, 0, 3, 3).difference(shapely.box(1, 1, 3, 2.5))
    centroid = crescent.centroid
    assert not crescent.covers(centroid)
    (shape,) = contour_shapes(["1_1"], ["1"], np.array([crescent]), [(centroid.x, centroid.y)])
    assert crescent.covers(shapely.Point(shape.centroid_lon, shape.centroid_lat))


def test_address_cells_tile_the_commune_without_overlap() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for bureau, (x0, y0) in {"A": (-4.50, 48.38), "B": (-4.48, 48.38), "C": (-4.49, 48.40)}.items():
        for dx, dy in rng.normal(0, 0.002, size=(40, 2)):
            rows.append((x0 + dx, y0 + dy, 1.0, f"29999_{bureau}", "29999"))
    commune = shapely.box(-4.53, 48.36, -4.45, 48.43)
    shapes = list(address_cells(_points(rows), {"29999": commune}))
    assert [s.bureau_key for s in shapes] == ["29999_A", "29999_B", "29999_C"]
    assert {s.geometry_source for s in shapes} == {"reu_addresses"}
    geoms = [_shape(s.geometry_geojson) for s in shapes]
    assert all(g.is_valid and g.geom_type in ("Polygon", "MultiPolygon") for g in geoms)
    # a tessellation of the commune: areas add up, pairwise overlaps are nil
    assert abs(sum(g.area for g in geoms) - commune.area) < 1e-6 * commune.area + 1e-9
    assert geoms[0].intersection(geoms[1]).area < 1e-9
    # every bureau's own points fall in its cell, and its centroid inside it
    for shape, geom in zip(shapes, geoms, strict=True):
        mine = [r for r in rows if r[3] == shape.bureau_key]
        assert sum(geom.covers(shapely.Point(r[0], r[1])) for r in mine) >= 0.9 * len(mine)
        assert geom.covers(shapely.Point(shape.centroid_lon, shape.centroid_lat))
        assert shape.n_addresses == 40


def test_a_shared_point_goes_to_the_bureau_with_most_addresses_there() -> None:
    rows = [
        (-4.50, 48.38, 1.0, "1_A", "1"),
        (-4.49, 48.38, 5.0, "1_B", "1"),
        (-4.49, 48.38, 2.0, "1_A", "1"),  # same point: B has more addresses there
        (-4.48, 48.39, 1.0, "1_A", "1"),
    ]
    shapes = {s.bureau_key: _shape(s.geometry_geojson) for s in address_cells(_points(rows))}
    assert shapes["1_B"].contains(shapely.Point(-4.49, 48.38))
    assert not shapes["1_A"].contains(shapely.Point(-4.49, 48.38))


def test_a_commune_of_one_bureau_gets_the_buffered_hull_of_its_points() -> None:
    rows = [(-4.5, 48.38, 3.0, "2_0001", "2"), (-4.49, 48.39, 2.0, "2_0001", "2")]
    (shape,) = address_cells(_points(rows))
    geom = _shape(shape.geometry_geojson)
    assert geom.contains(shapely.Point(-4.5, 48.38)) and geom.contains(shapely.Point(-4.49, 48.39))
    assert shape.n_addresses == 5
    # buffered by about 150 m: a point 300 m beyond the hull is outside
    assert not geom.contains(shapely.Point(-4.5, 48.38 - 300 / 111_320))


def test_geojson_texts_match_one_call_per_geometry() -> None:
    """The vectorised form gives the text of each geometry alone, the grid fallback included
    (a sliver the micro-degree grid would erase keeps its unsnapped form)."""
    sliver = shapely.box(0.1000001, 0.1000001, 0.1000004, 0.1000004)
    geoms = np.array(
        [shapely.box(-4.48612345678, 48.3901234567, -4.48, 48.4), sliver, shapely.Point(1, 2)],
        dtype=object,
    )
    simplified = geojson_texts(geoms, simplify=1e-5)
    assert simplified == [geojson_text(g, simplify=1e-5) for g in geoms]
    texts = geojson_texts(geoms)
    assert texts == [geojson_text(g) for g in geoms]
    assert _shape(texts[1]).equals(sliver)


def test_contours_in_one_call_keep_each_bureau_its_own_centroid() -> None:
    square = shapely.box(-4.5, 48.38, -4.49, 48.39)
    crescent = shapely.box(0, 0, 3, 3).difference(shapely.box(1, 1, 3, 2.5))
    shapes = list(
        contour_shapes(
            ["29019_0001", "1_1"],
            ["29019", "1"],
            np.array([square, crescent]),
            [(-4.495, 48.385), (crescent.centroid.x, crescent.centroid.y)],
        )
    )
    assert [s.bureau_key for s in shapes] == ["29019_0001", "1_1"]
    assert (shapes[0].centroid_lon, shapes[0].centroid_lat) == (-4.495, 48.385)
    assert crescent.covers(shapely.Point(shapes[1].centroid_lon, shapes[1].centroid_lat))
    assert list(contour_shapes([], [], np.zeros(0), [])) == []
