"""The allocation weights engine: hand-computed cases, fallbacks, CRS invariance, real Brest layer.

Pure functions, no database. Geometries are in Lambert-93 metres unless a test says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely

from ingestion.geo.allocation import (
    Polygons,
    WeightedPoints,
    allocate,
    allocate_lonlat,
    place_points,
)
from ingestion.geo.contours import read_contours, read_polygon_layer, transform
from tests.conftest import SAMPLE

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "geo"
BREST_BUREAUX = SAMPLE / "geo" / "BureauxVoteBrest.geojson"
SYNTHETIC_IRIS = SAMPLE / "geo" / "contours-iris-synthetic.geojson"

RECT = shapely.box(700_000, 6_600_000, 702_000, 6_601_000)  # 2 km x 1 km IRIS
SQUARE_A = shapely.box(699_500, 6_600_000, 700_500, 6_601_000)  # 1 km: 0.5 km² of RECT
SQUARE_B = shapely.box(700_500, 6_599_500, 702_500, 6_601_500)  # 2 km: 1.5 km² of RECT


def _pairs(weights: object) -> dict[tuple[str, str], float]:
    frame = weights  # a DataFrame
    return {
        (s, t): w
        for s, t, w in zip(
            frame["source_id"],  # type: ignore[index]
            frame["target_id"],  # type: ignore[index]
            frame["weight"],  # type: ignore[index]
            strict=True,
        )
    }


def _layer(ids: list[str], geoms: list[object], communes: list[str] | None = None) -> Polygons:
    return Polygons(
        np.array(ids, dtype=object),
        np.array(geoms, dtype=object),
        None if communes is None else np.array(communes, dtype=object),
    )


def test_areal_weights_split_a_rectangle_25_75() -> None:
    iris = _layer(["I"], [RECT])
    bureaux = _layer(["A", "B"], [SQUARE_A, SQUARE_B])
    result = allocate(iris, bureaux)
    assert _pairs(result.weights) == pytest.approx({("I", "A"): 0.25, ("I", "B"): 0.75}, abs=1e-12)
    assert set(result.weights["method"]) == {"areal"}
    assert set(result.weights["quality"]) == {"good"}
    assert result.weights["coverage"].tolist() == pytest.approx([1.0, 1.0])


def test_areal_weights_are_renormalised_over_the_covered_part_and_flagged() -> None:
    # Only the western 1.5 km of the rectangle is covered: 0.5 km² by A, 1 km² by C.
    square_c = shapely.box(700_500, 6_600_000, 701_500, 6_601_000)
    result = allocate(_layer(["I"], [RECT]), _layer(["A", "C"], [SQUARE_A, square_c]))
    assert _pairs(result.weights) == pytest.approx({("I", "A"): 1 / 3, ("I", "C"): 2 / 3})
    assert set(result.weights["quality"]) == {"partial_coverage"}
    assert result.weights["coverage"].iloc[0] == pytest.approx(0.75)
    assert result.report.sources_by_quality == {"partial_coverage": 1}


def test_slivers_below_the_overlap_threshold_are_ignored() -> None:
    # B' reaches 0.5 m into the rectangle (0.5 m x 1000 m = 500 m² of overlap).
    sliver = shapely.box(701_999.5, 6_600_000, 703_000, 6_601_000)
    big = shapely.box(699_000, 6_599_000, 701_999.5, 6_602_000)
    iris = _layer(["I"], [RECT])
    bureaux = _layer(["BIG", "SLIVER"], [big, sliver])
    assert set(_pairs(allocate(iris, bureaux, min_overlap_m2=1000).weights)) == {("I", "BIG")}
    assert set(_pairs(allocate(iris, bureaux, min_overlap_m2=1).weights)) == {
        ("I", "BIG"),
        ("I", "SLIVER"),
    }


def test_address_weights_follow_nb_adresses_not_area() -> None:
    iris = _layer(["I"], [RECT])
    bureaux = _layer(["A", "B"], [SQUARE_A, SQUARE_B])
    points = WeightedPoints(
        x=np.array([700_100.0, 701_000.0, 701_900.0, 701_500.0]),
        y=np.array([6_600_500.0, 6_600_500.0, 6_600_900.0, 6_600_100.0]),
        weight=np.array([12.0, 10.0, 10.0, 8.0]),
        target=np.array(["A", "B", "B", "A"], dtype=object),
    )
    result = allocate(iris, bureaux, points, min_addresses=20)
    # A: 12 + 8 = 20 of 40; B: 20 of 40. Area alone would have said 0.25 / 0.75.
    assert _pairs(result.weights) == pytest.approx({("I", "A"): 0.5, ("I", "B"): 0.5})
    assert result.weights["n_addresses"].tolist() == [20.0, 20.0]
    assert set(result.weights["method"]) == {"addresses"}
    assert set(result.weights["quality"]) == {"good"}
    fewer = allocate(iris, bureaux, points, min_addresses=41)
    assert set(fewer.weights["quality"]) == {"few_addresses"}


def test_address_target_need_not_have_a_polygon() -> None:
    iris = _layer(["I"], [RECT])
    points = WeightedPoints(
        np.array([700_100.0]), np.array([6_600_500.0]), np.array([3.0]), np.array(["X"], object)
    )
    result = allocate(iris, _layer([], []), points)
    assert _pairs(result.weights) == {("I", "X"): 1.0}


def test_points_outside_every_source_are_counted_and_reported() -> None:
    iris = _layer(["I"], [RECT])
    points = WeightedPoints(
        x=np.array([700_100.0, 900_000.0, 701_000.0, 100.0]),
        y=np.array([6_600_500.0, 6_600_500.0, 6_600_500.0, 100.0]),
        weight=np.array([1.0, 5.0, 3.0, 2.0]),
        target=np.array(["A", "B", "B", "A"], dtype=object),
    )
    result = allocate(iris, _layer(["A", "B"], [SQUARE_A, SQUARE_B]), points)
    report = result.report
    assert (report.points, report.points_placed, report.points_outside) == (4, 2, 2)
    assert report.weight_outside == 7.0
    assert report.outside_examples == (1, 3)
    assert _pairs(result.weights) == pytest.approx({("I", "A"): 0.25, ("I", "B"): 0.75})
    assert any("outside every source 2" in line for line in report.lines())


def test_a_point_on_a_shared_border_is_placed_once_deterministically() -> None:
    west = shapely.box(0, 0, 1000, 1000)
    east = shapely.box(1000, 0, 2000, 1000)
    placement = place_points(
        np.array([east, west], dtype=object), np.array([1000.0, 500.0]), np.array([500.0, 500.0])
    )
    assert placement.source_index.tolist() == [0, 1]  # border point -> lowest index (east)
    assert placement.n_ambiguous == 1
    assert placement.n_outside == 0


def test_chunked_placement_gives_the_same_answer() -> None:
    rng = np.random.default_rng(7)
    cells = np.array(
        [
            shapely.box(x, y, x + 100, y + 100)
            for x in range(0, 1000, 100)
            for y in range(0, 500, 100)
        ],
        dtype=object,
    )
    x, y = rng.uniform(-50, 1050, 5000), rng.uniform(-50, 550, 5000)
    whole = place_points(cells, x, y, chunk_size=10_000)
    chunked = place_points(cells, x, y, chunk_size=333)
    assert np.array_equal(whole.source_index, chunked.source_index)
    inside = (x >= 0) & (x <= 1000) & (y >= 0) & (y <= 500)
    assert whole.n_outside == int((~inside).sum())
    expected = np.floor(np.clip(x, 0, 999.999) / 100) * 5 + np.floor(np.clip(y, 0, 499.999) / 100)
    interior = inside & (x % 100 != 0) & (y % 100 != 0)
    assert np.array_equal(whole.source_index[interior], expected[interior].astype(int))


def test_addresses_win_over_areal_and_areal_fills_iris_without_addresses() -> None:
    iris = _layer(["I1", "I2"], [RECT, shapely.box(702_000, 6_600_000, 703_000, 6_601_000)])
    bureaux = _layer(["A", "B"], [SQUARE_A, SQUARE_B])
    points = WeightedPoints(
        np.array([700_100.0]), np.array([6_600_500.0]), np.array([50.0]), np.array(["A"], object)
    )
    result = allocate(iris, bureaux, points)
    assert _pairs(result.weights) == pytest.approx({("I1", "A"): 1.0, ("I2", "B"): 1.0})
    methods = dict(zip(result.weights["source_id"], result.weights["method"], strict=True))
    assert methods == {"I1": "addresses", "I2": "areal"}
    # I2 is covered on its western half only (B stops at x = 702,500).
    assert result.weights["quality"].tolist() == ["good", "partial_coverage"]


def test_commune_fallbacks_keep_each_commune_total() -> None:
    iris = _layer(
        ["SOLO1", "MULTI1", "MULTI2", "BARE1", "LOST1"],
        [
            shapely.box(0, 0, 10, 10),
            shapely.box(100, 0, 110, 10),
            shapely.box(120, 0, 130, 10),
            shapely.box(200, 0, 210, 10),
            shapely.box(300, 0, 310, 10),
        ],
        ["SOLO", "MULTI", "MULTI", "BARE", "LOST"],
    )
    bureaux = _layer(
        ["SOLO_1", "MULTI_1", "MULTI_2", "BARE_1", "BARE_2"],
        [None, None, None, None, None],
        ["SOLO", "MULTI", "MULTI", "BARE", "BARE"],
    )
    # Addresses of MULTI geocoded far from both of its IRIS: only commune shares can use them.
    points = WeightedPoints(
        np.array([5_000.0, 5_001.0]),
        np.array([5_000.0, 5_000.0]),
        np.array([1.0, 3.0]),
        np.array(["MULTI_1", "MULTI_2"], dtype=object),
        np.array(["MULTI", "MULTI"], dtype=object),
    )
    result = allocate(iris, bureaux, points)
    got = _pairs(result.weights)
    assert got == pytest.approx(
        {
            ("SOLO1", "SOLO_1"): 1.0,
            ("MULTI1", "MULTI_1"): 0.25,
            ("MULTI1", "MULTI_2"): 0.75,
            ("MULTI2", "MULTI_1"): 0.25,
            ("MULTI2", "MULTI_2"): 0.75,
            ("BARE1", "BARE_1"): 0.5,
            ("BARE1", "BARE_2"): 0.5,
        }
    )
    quality = dict(zip(result.weights["source_id"], result.weights["quality"], strict=False))
    assert quality == {
        "SOLO1": "good",
        "MULTI1": "no_bureau_geometry",
        "MULTI2": "no_bureau_geometry",
        "BARE1": "no_bureau_geometry",
    }
    assert set(result.weights["method"]) == {"commune"}
    assert result.report.unallocated == ("LOST1",)
    # Every weight stays inside the IRIS's commune.
    for source, target in got:
        assert source.rstrip("12") == target.split("_")[0]


def test_an_address_is_not_used_by_an_iris_of_another_commune() -> None:
    iris = _layer(
        ["A1", "A2", "B1", "B2"],
        [
            shapely.box(0, 0, 10, 10),
            shapely.box(10, 0, 20, 10),
            shapely.box(20, 0, 30, 10),
            shapely.box(30, 0, 40, 10),
        ],
        ["A", "A", "B", "B"],
    )
    bureaux = _layer(["A_1", "B_1"], [None, None], ["A", "B"])
    points = WeightedPoints(
        np.array([5.0, 25.0, 15.0]),
        np.array([5.0, 5.0, 5.0]),
        np.array([2.0, 4.0, 7.0]),
        np.array(["A_1", "A_1", "B_1"], dtype=object),  # the 2nd and 3rd are geocoded across
        np.array(["A", "A", "B"], dtype=object),
    )
    result = allocate(iris, bureaux, points)
    assert result.report.points_cross_commune == 2
    methods = dict(zip(result.weights["source_id"], result.weights["method"], strict=True))
    assert methods == {"A1": "addresses", "A2": "commune", "B1": "commune", "B2": "commune"}
    assert _pairs(result.weights)[("A1", "A_1")] == 1.0


def test_a_single_iris_commune_takes_all_its_addresses() -> None:
    iris = _layer(["Z"], [shapely.box(0, 0, 10, 10)], ["Z"])
    bureaux = _layer(["Z_1", "Z_2"], [None, None], ["Z", "Z"])
    points = WeightedPoints(
        np.array([5.0, 500.0]),  # the second address was geocoded outside the commune polygon
        np.array([5.0, 500.0]),
        np.array([1.0, 3.0]),
        np.array(["Z_1", "Z_2"], dtype=object),
        np.array(["Z", "Z"], dtype=object),
    )
    result = allocate(iris, bureaux, points)
    assert _pairs(result.weights) == pytest.approx({("Z", "Z_1"): 0.25, ("Z", "Z_2"): 0.75})
    assert set(result.weights["method"]) == {"addresses"}
    assert result.report.points_by_commune == 1
    assert result.report.points_outside == 0


def test_without_communes_a_source_meeting_no_target_goes_to_the_nearest() -> None:
    far = shapely.box(710_000, 6_600_000, 711_000, 6_601_000)
    result = allocate(_layer(["I"], [far]), _layer(["A", "B"], [SQUARE_A, SQUARE_B]))
    assert _pairs(result.weights) == {("I", "B"): 1.0}
    assert result.weights[["method", "quality"]].values.tolist() == [["nearest", "no_overlap"]]


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="appears twice"):
        allocate(_layer(["I", "I"], [RECT, RECT]), _layer(["A"], [SQUARE_A]))


def _write_geojson(path: Path, ids: list[str], geoms: list[object], crs: str | None) -> Path:
    collection: dict[str, object] = {"type": "FeatureCollection"}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    collection["features"] = [
        {"type": "Feature", "properties": {"code": i}, "geometry": shapely.geometry.mapping(g)}
        for i, g in zip(ids, geoms, strict=True)
    ]
    path.write_text(json.dumps(collection), encoding="utf-8")
    return path


def test_the_same_polygons_in_lambert93_and_wgs84_give_the_same_weights(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    # Irregular IRIS and bureaux around Brest, so the result depends on real geometry.
    seeds = np.column_stack(
        [rng.uniform(140_000, 150_000, 12), rng.uniform(6_830_000, 6_840_000, 12)]
    )
    iris = list(
        shapely.get_parts(
            shapely.voronoi_polygons(
                shapely.multipoints(seeds), extend_to=shapely.box(140e3, 6830e3, 150e3, 6840e3)
            )
        )
    )
    iris = [shapely.intersection(g, shapely.box(140e3, 6830e3, 150e3, 6840e3)) for g in iris]
    bureaux = [
        shapely.box(x, y, x + 2500, y + 2500)
        for x in range(140_000, 150_000, 2500)
        for y in range(6_830_000, 6_840_000, 2500)
    ]
    iris_ids = [f"I{i}" for i in range(len(iris))]
    bureau_ids = [f"B{i}" for i in range(len(bureaux))]
    to_wgs84 = np.array(iris, dtype=object)
    results = []
    for crs, src, tgt in (
        ("urn:ogc:def:crs:EPSG::2154", iris, bureaux),
        (
            None,
            list(transform(to_wgs84, 2154, 4326)),
            list(transform(np.array(bureaux, dtype=object), 2154, 4326)),
        ),
    ):
        tag = "l93" if crs else "wgs84"
        s = read_polygon_layer(
            _write_geojson(tmp_path / f"iris_{tag}.geojson", iris_ids, src, crs), "code"
        )
        t = read_polygon_layer(
            _write_geojson(tmp_path / f"bv_{tag}.geojson", bureau_ids, tgt, crs), "code"
        )
        assert s.crs.label == ("EPSG:2154" if crs else "EPSG:4326")
        results.append(
            _pairs(allocate_lonlat(Polygons(s.ids, s.geoms), Polygons(t.ids, t.geoms)).weights)
        )
    l93, wgs84 = results
    assert set(l93) == set(wgs84)
    assert len(l93) > len(iris)  # IRIS do straddle bureaux
    for key, value in l93.items():
        assert wgs84[key] == pytest.approx(value, abs=1e-6)


def test_weights_sum_to_one_on_the_real_brest_bureau_layer() -> None:
    bureaux = read_contours(BREST_BUREAUX, "bureau").features
    iris = read_contours(SYNTHETIC_IRIS, "iris").features
    brest_iris = iris[iris["code_commune"] == "29019"]
    result = allocate_lonlat(
        Polygons(brest_iris["id"].to_numpy(), brest_iris["geometry"].to_numpy()),
        Polygons(bureaux["id"].to_numpy(), bureaux["geometry"].to_numpy()),
    )
    weights = result.weights
    sums = weights.groupby("source_id")["weight"].sum()
    assert len(sums) == 58
    assert (sums - 1).abs().max() < 1e-9
    assert ((weights["weight"] > 0) & (weights["weight"] <= 1)).all()
    assert set(weights["method"]) == {"areal"}
    # Synthetic IRIS cut across bureaux: most of them share their area among several bureaux.
    assert (weights.groupby("source_id").size() > 1).sum() > 40
    # IRIS tile the bureaux' union: coverage is complete up to the layer's own overlaps.
    assert weights["coverage"].min() > 0.99
    # The real layer's Brest and Gouesnou polygons overlap a little along their border: without
    # communes, those overlaps give Gouesnou bureaux crumbs of Brest IRIS ...
    foreign = weights[~weights["target_id"].str.startswith("29019_")]
    assert len(foreign) > 0
    assert foreign["weight"].max() < 1e-4
    # ... which the same-commune rule removes when communes are known.
    with_communes = allocate_lonlat(
        Polygons(
            brest_iris["id"].to_numpy(),
            brest_iris["geometry"].to_numpy(),
            brest_iris["code_commune_results"].to_numpy(),
        ),
        Polygons(
            bureaux["id"].to_numpy(),
            bureaux["geometry"].to_numpy(),
            bureaux["code_commune_results"].to_numpy(),
        ),
    ).weights
    assert with_communes["target_id"].str.startswith("29019_").all()
    assert (with_communes.groupby("source_id")["weight"].sum() - 1).abs().max() < 1e-9


def test_each_region_is_computed_in_its_own_metric_crs() -> None:
    """Regions run separately (Réunion in UTM 40S, Brest in Lambert-93), strays are counted."""

    def rect_split(epsg: int, x0: float, y0: float, prefix: str) -> tuple[list, list, list]:
        iris = shapely.box(x0, y0, x0 + 2000, y0 + 1000)
        a = shapely.box(x0 - 500, y0, x0 + 500, y0 + 1000)
        b = shapely.box(x0 + 500, y0 - 500, x0 + 2500, y0 + 1500)
        to_wgs84 = transform(np.array([iris, a, b], dtype=object), epsg, 4326)
        return [f"{prefix}I"], [to_wgs84[0]], [f"{prefix}A", f"{prefix}B", to_wgs84[1], to_wgs84[2]]

    brest = rect_split(2154, 145_000, 6_836_000, "29")
    reunion = rect_split(2975, 340_000, 7_660_000, "974")
    sources = Polygons(
        np.array(brest[0] + reunion[0], dtype=object),
        np.array(brest[1] + reunion[1], dtype=object),
    )
    targets = Polygons(
        np.array(brest[2][:2] + reunion[2][:2], dtype=object),
        np.array(brest[2][2:] + reunion[2][2:], dtype=object),
    )
    mayotte = WeightedPoints(
        np.array([45.15]), np.array([-12.8]), np.array([3.0]), np.array(["976A"], dtype=object)
    )
    result = allocate_lonlat(sources, targets, mayotte)
    assert _pairs(result.weights) == pytest.approx(
        {
            ("29I", "29A"): 0.25,
            ("29I", "29B"): 0.75,
            ("974I", "974A"): 0.25,
            ("974I", "974B"): 0.75,
        },
        abs=1e-9,
    )
    # The Mayotte point meets no source of its region: counted outside, not dropped silently.
    assert (result.report.points, result.report.points_outside) == (1, 1)
    assert result.report.weight_outside == 3.0
