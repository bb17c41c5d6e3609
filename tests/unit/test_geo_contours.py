"""Reading contour files: real layouts, ids, CRS rules, repairs and refusals (no database)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import shapely

from ingestion.errors import SourceFormatError
from ingestion.geo.contours import read_contours, transform
from ingestion.geo.crs import area_epsg, geojson_crs_member
from tests.conftest import SAMPLE

REAL = Path("/work/shared/data/real")
BREST = SAMPLE / "geo" / "BureauxVoteBrest.geojson"
DATAGOUV = REAL / "brest" / "exemple.geojson"
COMMUNES = REAL / "reu_finistere" / "contours_com_sample.geojson"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "geo"

needs_shared = pytest.mark.skipif(not DATAGOUV.exists(), reason="shared real data not mounted")

L93_RECT = shapely.box(145_000, 6_836_000, 147_000, 6_837_000)


def _collection(
    path: Path, features: list[tuple[dict[str, object], dict | None]], crs: str | None = None
) -> Path:
    data: dict[str, object] = {"type": "FeatureCollection"}
    if crs:
        data["crs"] = {"type": "name", "properties": {"name": crs}}
    data["features"] = [
        {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features
    ]
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _iris(code: str, geom: object) -> tuple[dict[str, object], dict]:
    return (
        {"INSEE_COM": code[:5], "CODE_IRIS": code, "NOM_IRIS": "x", "TYP_IRIS": "H"},
        shapely.geometry.mapping(geom),
    )


def test_brest_city_layer_gives_ministry_bureau_ids_and_lambert93_areas() -> None:
    contours = read_contours(BREST, "bureau")
    f = contours.features
    assert contours.n_features == 122
    assert (contours.fields.commune_field, contours.fields.number_field) == ("DEPCO", "BVOTE")
    assert (contours.crs.label, contours.crs.source) == ("EPSG:4326", "rfc7946")
    assert f["id"].iloc[0] == "29019_0076"  # first feature: DEPCO 29019, BVOTE 76
    assert f["id"].str[:5].value_counts().to_dict() == {"29019": 104, "29189": 12, "29061": 6}
    assert set(f.loc[f["code_commune"] == "29019", "code_bv"]) == {
        f"{n:04d}" for n in range(1, 105)
    }
    assert not f["repaired"].any()
    assert set(f["area_epsg"]) == {2154}
    # SHAPE_AREA is the publisher's Lambert-93 area: ours matches within 0.003 %.
    raw = json.loads(BREST.read_text(encoding="utf-8"))["features"]
    published = np.array([feat["properties"]["SHAPE_AREA"] for feat in raw])
    assert np.max(np.abs(f["area_m2"].to_numpy() / published - 1)) < 3e-5
    assert f["centroid_lon"].between(-4.57, -4.31).all()
    assert f["centroid_lat"].between(48.32, 48.48).all()


@needs_shared
def test_datagouv_bureau_contours_use_codebureauvote() -> None:
    contours = read_contours(DATAGOUV, "bureau")
    assert contours.fields.id_field == "codeBureauVote"
    assert contours.crs.source == "declared"  # crs = OGC CRS84
    assert sorted(contours.features["id"]) == [
        "01001_0001",
        "01002_0001",
        "01004_0001",
        "01004_0002",
        "01004_0003",
        "01004_0004",
        "01004_0005",
    ]
    kinds = {g.geom_type for g in contours.features["geometry"]}
    assert kinds == {"Polygon", "MultiPolygon"}
    # The REU-style id_bv (`01001_1`) normalises to the same key.
    by_reu_id = read_contours(DATAGOUV, "bureau", id_field="id_bv").features
    assert sorted(by_reu_id["id"]) == sorted(contours.features["id"])


@needs_shared
def test_commune_contours_areas_match_the_documented_ones() -> None:
    f = read_contours(COMMUNES, "commune").features
    areas = dict(zip(f["id"], f["area_m2"] / 1e6, strict=True))
    assert areas == pytest.approx({"29116": 2.224, "29046": 25.646, "29039": 40.791}, abs=5e-4)


def test_ign_contours_iris_layouts_2x_and_3x(tmp_path: Path) -> None:
    upper = read_contours(FIXTURES / "iris_lambert93.geojson", "iris")
    assert upper.fields.id_field == "CODE_IRIS"
    assert upper.fields.commune_field == "INSEE_COM"
    assert list(upper.features["typ_iris"]) == ["H", "H"]
    assert upper.features["area_m2"].tolist() == pytest.approx([2e6, 2e6], rel=1e-9)
    assert upper.crs.label == "EPSG:2154"
    lower = _collection(
        tmp_path / "iris3.geojson",
        [
            (
                {
                    "cleabs": "IRIS0001",
                    "code_insee": "75101",
                    "nom_commune": "Paris 1er",
                    "iris": "0101",
                    "code_iris": "751010101",
                    "nom_iris": "Saint-Germain",
                    "type_iris": "A",
                },
                shapely.geometry.mapping(L93_RECT),
            )
        ],
        "urn:ogc:def:crs:EPSG::2154",
    )
    f = read_contours(lower, "iris").features
    assert f[
        ["id", "code_commune", "code_commune_results", "name", "typ_iris"]
    ].values.tolist() == [["751010101", "75101", "75056", "Saint-Germain", "A"]]


def test_undeclared_lambert93_coordinates_are_refused_with_a_hint(tmp_path: Path) -> None:
    path = _collection(tmp_path / "no_crs.geojson", [_iris("290190101", L93_RECT)])
    assert geojson_crs_member(path) is None
    with pytest.raises(SourceFormatError, match=r"no coordinate reference system.*--crs"):
        read_contours(path, "iris")
    ok = read_contours(path, "iris", crs="EPSG:2154")
    assert (ok.crs.label, ok.crs.source) == ("EPSG:2154", "option")
    assert ok.features["area_m2"].iloc[0] == pytest.approx(2e6, rel=1e-9)


def test_shapefile_prj_declares_the_crs_and_its_absence_is_refused(tmp_path: Path) -> None:
    import geopandas as gpd

    frame = gpd.GeoDataFrame(
        {"CODE_IRIS": ["290190101"], "INSEE_COM": ["29019"]},
        geometry=[L93_RECT],
        crs="EPSG:2154",
    )
    shp = tmp_path / "CONTOURS-IRIS.shp"
    frame.to_file(shp)
    declared = read_contours(shp, "iris")
    assert (declared.crs.label, declared.crs.source) == ("EPSG:2154", "declared")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(SourceFormatError, match="--crs"):
        read_contours(shp, "iris")


def test_a_crs_contradicting_the_file_or_the_coordinates_is_refused(tmp_path: Path) -> None:
    declared = _collection(
        tmp_path / "l93.geojson", [_iris("290190101", L93_RECT)], "urn:ogc:def:crs:EPSG::2154"
    )
    with pytest.raises(SourceFormatError, match="declares EPSG:2154 but --crs says EPSG:4326"):
        read_contours(declared, "iris", crs="EPSG:4326")
    mislabelled = _collection(
        tmp_path / "wrong.geojson", [_iris("290190101", L93_RECT)], "urn:ogc:def:crs:OGC:1.3:CRS84"
    )
    with pytest.raises(SourceFormatError, match="not longitude/latitude"):
        read_contours(mislabelled, "iris")
    lonlat = transform(np.array([L93_RECT], dtype=object), 2154, 4326)[0]
    degrees = _collection(tmp_path / "deg.geojson", [_iris("290190101", lonlat)])
    with pytest.raises(SourceFormatError, match="look like longitude/latitude"):
        read_contours(degrees, "iris", crs="EPSG:2154")


def test_invalid_geometry_is_repaired_with_a_warning_naming_the_feature(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [
                [145000, 6836000],
                [147000, 6837000],
                [147000, 6836000],
                [145000, 6837000],
                [145000, 6836000],
            ]
        ],
    }
    path = _collection(
        tmp_path / "bad.geojson",
        [_iris("290190101", L93_RECT), (_iris("290190102", L93_RECT)[0], bowtie)],
        "urn:ogc:def:crs:EPSG::2154",
    )
    with caplog.at_level(logging.WARNING, logger="scrutin.ingestion.geo"):
        contours = read_contours(path, "iris")
    assert contours.repaired_ids == ("290190102",)
    assert contours.features["repaired"].tolist() == [False, True]
    repaired = contours.features["geometry"].iloc[1]
    assert repaired.is_valid and repaired.geom_type in {"Polygon", "MultiPolygon"}
    # The two triangles of the bow-tie: half the rectangle.
    assert contours.features["area_m2"].iloc[1] == pytest.approx(1e6, rel=1e-6)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("feature 2 (290190102)" in m and "Self-intersection" in m for m in messages)


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (None, r"feature 2 \(290190102\): empty geometry"),
        ({"type": "Polygon", "coordinates": []}, r"feature 2 \(290190102\): empty geometry"),
        ({"type": "Point", "coordinates": [146000, 6836500]}, "geometry is a Point"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [146000, 6836500],
                        [float("nan"), 6836500],
                        [147000, 6837500],
                        [146000, 6836500],
                    ]
                ],
            },
            r"feature 2 \(290190102\): a vertex is not a finite number",
        ),
    ],
)
def test_empty_or_non_polygon_geometries_refuse_the_file(
    tmp_path: Path, geometry: dict | None, expected: str
) -> None:
    path = _collection(
        tmp_path / "empty.geojson",
        [_iris("290190101", L93_RECT), (_iris("290190102", L93_RECT)[0], geometry)],
        "urn:ogc:def:crs:EPSG::2154",
    )
    with pytest.raises(SourceFormatError, match=expected) as info:
        read_contours(path, "iris")
    assert info.value.column == "CODE_IRIS"
    assert info.value.path == path


def test_the_first_bad_feature_in_file_order_is_named(tmp_path: Path) -> None:
    """The checks run on the whole array; the error still names the first bad feature."""
    point = {"type": "Point", "coordinates": [146000, 6836500]}
    path = _collection(
        tmp_path / "two-bad.geojson",
        [
            _iris("290190101", L93_RECT),
            (_iris("290190102", L93_RECT)[0], point),
            (_iris("290190103", L93_RECT)[0], None),
        ],
        "urn:ogc:def:crs:EPSG::2154",
    )
    with pytest.raises(SourceFormatError, match=r"feature 2 \(290190102\): geometry is a Point"):
        read_contours(path, "iris")


def test_duplicate_and_malformed_ids_are_refused(tmp_path: Path) -> None:
    crs = "urn:ogc:def:crs:EPSG::2154"
    twice = _collection(tmp_path / "twice.geojson", [_iris("290190101", L93_RECT)] * 2, crs)
    with pytest.raises(SourceFormatError, match="already used by feature 1"):
        read_contours(twice, "iris")
    short = _collection(tmp_path / "short.geojson", [_iris("2901901", L93_RECT)], crs)
    with pytest.raises(SourceFormatError, match="9-character IRIS code"):
        read_contours(short, "iris")
    unknown = _collection(
        tmp_path / "unknown.geojson", [({"foo": 1}, shapely.geometry.mapping(L93_RECT))], crs
    )
    with pytest.raises(SourceFormatError, match="no bureau id attribute found"):
        read_contours(unknown, "bureau")


def test_a_plm_arrondissement_bureau_gets_the_city_key(tmp_path: Path) -> None:
    path = _collection(
        tmp_path / "paris.geojson",
        [({"codeBureauVote": "75104_0012"}, shapely.geometry.mapping(L93_RECT))],
        "urn:ogc:def:crs:EPSG::2154",
    )
    f = read_contours(path, "bureau").features
    assert f[["id", "code_commune", "code_commune_results", "code_bv"]].values.tolist() == [
        ["75056_0012", "75104", "75056", "0012"]
    ]


def test_overseas_areas_use_the_local_utm_projection() -> None:
    lon = np.array([-4.5, 55.5, -61.0, -52.3, 45.1, 2.0])
    lat = np.array([48.4, -21.1, 14.6, 4.9, -12.8, -40.0])
    assert area_epsg(lon, lat).tolist() == [2154, 2975, 5490, 2972, 4471, 6933]


def _crs_last(path: Path, features: list[tuple[dict[str, object], dict]], crs: str) -> Path:
    """A FeatureCollection whose `crs` member comes after `features` (valid JSON, GDAL skips it)."""
    body = {"type": "FeatureCollection", "features": []}
    body["features"] = [
        {"type": "Feature", "properties": props, "geometry": geom} for props, geom in features
    ]
    body["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(body), encoding="utf-8")
    assert path.read_text(encoding="utf-8").index('"crs"') > 0
    assert path.read_text(encoding="utf-8").index('"crs"') > path.read_text().index('"features"')
    return path


def test_crs_member_after_features_is_read(tmp_path: Path) -> None:
    """Before: GDAL ignored it, so this correct Lambert-93 file was refused as undeclared."""
    path = _crs_last(
        tmp_path / "l93_last.geojson", [_iris("290190101", L93_RECT)], "urn:ogc:def:crs:EPSG::2154"
    )
    assert geojson_crs_member(path) == "urn:ogc:def:crs:EPSG::2154"
    got = read_contours(path, "iris")
    assert (got.crs.label, got.crs.source) == ("EPSG:2154", "declared")
    assert got.features["area_m2"].iloc[0] == pytest.approx(2e6, rel=1e-9)


def test_lambert93_declared_after_features_on_lonlat_coordinates_is_refused(
    tmp_path: Path,
) -> None:
    """Before: accepted as WGS84, the declaration unseen."""
    lonlat = shapely.box(-4.50, 48.38, -4.49, 48.39)
    path = _crs_last(tmp_path / "lying.geojson", [_iris("290190101", lonlat)], "EPSG:2154")
    with pytest.raises(SourceFormatError, match=r"projected CRS EPSG:2154.*longitude/latitude"):
        read_contours(path, "iris")


def test_a_crs_member_that_names_nothing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "crs": {"type": "link", "properties": {"href": "x"}},'
        ' "features": []}',
        encoding="utf-8",
    )
    with pytest.raises(SourceFormatError, match="does not name a CRS") as refused:
        geojson_crs_member(path)
    assert path.name in str(refused.value)
