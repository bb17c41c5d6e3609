"""Contours and weights in the warehouse: COPY, ledger, replacement, weights runs, GX suite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import shapely

from ingestion.errors import SourceFormatError
from ingestion.geo.loader import load_geo_file
from ingestion.geo.manifest import read_geo_manifest
from ingestion.geo.weights import compute_weights
from scrutin.config import with_database
from tests.conftest import _SERVER_URL, SAMPLE, TEST_DB, TOUR1

pytestmark = pytest.mark.db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "geo"
BREST = SAMPLE / "geo" / "BureauxVoteBrest.geojson"
REU_ADDRESSES = SAMPLE / "reu" / "table-adresses-reu-synthetic.csv.gz"
REU_BUREAUX = SAMPLE / "reu" / "table-bv-reu-synthetic.csv"
IRIS_SAMPLE = SAMPLE / "census" / "iris_sample.csv"

_TABLES = (
    "raw.geo_iris",
    "raw.geo_bureaux",
    "raw.geo_communes",
    "raw.geo_load_details",
    "raw.iris_bureau_weights",
    "raw.geo_weight_runs",
    "raw.reu_addresses",
    "raw.reu_bureaux",
    "raw.election_results_bureau",
    "raw.election_results_candidate",
)


GEO_DB = f"{TEST_DB}_geo"


@pytest.fixture(scope="module")
def warehouse_url() -> str:
    """A warehouse of its own: these tests empty the REU and results tables they read."""
    from scrutin.db import connect
    from scrutin.warehouse.migrate import migrate

    url = with_database(_SERVER_URL, GEO_DB)
    with psycopg.connect(with_database(_SERVER_URL, "postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{GEO_DB}" with (force)')
        admin.execute(f'create database "{GEO_DB}"')
    with connect(url) as conn:
        migrate(conn)
    return url


@pytest.fixture
def geo_conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    """That warehouse with the weights' inputs emptied: each test starts from nothing."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(_TABLES)}")
        conn.execute("truncate raw.batch_ledger cascade")
        yield conn


def _count(conn: psycopg.Connection, sql: str, *params: object) -> int:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return int(row[0])


def _ledger(conn: psycopg.Connection, source: str) -> list[tuple[object, ...]]:
    return conn.execute(
        "select batch_id, dataset_key, status, rows_loaded from raw.batch_ledger "
        "where source = %s order by batch_id",
        (source,),
    ).fetchall()


def test_brest_layer_lands_once_with_wkb_geometry(
    geo_conn: psycopg.Connection, warehouse_url: str
) -> None:
    first = load_geo_file(warehouse_url, BREST, "bureau")
    assert (first.status, first.features, first.crs, first.crs_source) == (
        "loaded",
        122,
        "EPSG:4326",
        "rfc7946",
    )
    again = load_geo_file(warehouse_url, BREST, "bureau")
    assert (again.status, again.loaded_batch_id) == ("skipped", first.batch_id)
    assert [r[2] for r in _ledger(geo_conn, "geo")] == ["loaded", "skipped"]
    assert _count(geo_conn, "select count(*) from raw.geo_bureaux") == 122
    row = geo_conn.execute(
        "select code_commune, code_bv, name, geometry, area_m2, area_epsg, repaired "
        "from raw.geo_bureaux where id = '29019_0076'"
    ).fetchone()
    assert row is not None
    code_commune, code_bv, name, wkb, area, epsg, repaired = row
    assert (code_commune, code_bv, epsg, repaired) == ("29019", "0076", 2154, False)
    assert name == "Bureau n° 76 - GROUPE SCOLAIRE KERINOU"
    geometry = shapely.from_wkb(bytes(wkb))
    published = json.loads(BREST.read_text(encoding="utf-8"))["features"][0]
    assert geometry.equals_exact(shapely.geometry.shape(published["geometry"]), tolerance=1e-12)
    assert area == pytest.approx(published["properties"]["SHAPE_AREA"], rel=3e-5)
    details = geo_conn.execute(
        "select kind, crs, crs_source, id_field, commune_field, features, repaired, communes "
        "from raw.geo_load_details where batch_id = %s",
        (first.batch_id,),
    ).fetchone()
    assert details == ("bureau", "EPSG:4326", "rfc7946", "BVOTE", "DEPCO", 122, 0, 3)


def test_a_new_file_replaces_only_the_communes_it_covers(
    geo_conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    full = load_geo_file(warehouse_url, BREST, "bureau")
    data = json.loads(BREST.read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["properties"]["DEPCO"] == "29061"]
    gouesnou = tmp_path / "gouesnou.geojson"
    gouesnou.write_text(json.dumps(data), encoding="utf-8")
    partial = load_geo_file(warehouse_url, gouesnou, "bureau")
    assert (partial.rows_replaced, partial.communes) == (6, ("29061",))
    by_batch = dict(
        geo_conn.execute("select batch_id, count(*) from raw.geo_bureaux group by 1").fetchall()
    )
    assert by_batch == {full.batch_id: 116, partial.batch_id: 6}
    assert [r[2] for r in _ledger(geo_conn, "geo")] == ["loaded", "loaded"]
    reloaded = load_geo_file(warehouse_url, BREST, "bureau", force=True)
    assert reloaded.status == "loaded"
    assert set(reloaded.superseded) == {full.batch_id, partial.batch_id}
    assert _count(geo_conn, "select count(*) from raw.geo_bureaux") == 122


def test_a_refused_file_is_recorded_in_the_ledger_and_loads_nothing(
    geo_conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    undeclared = tmp_path / "iris_no_crs.geojson"
    data = json.loads((FIXTURES / "iris_lambert93.geojson").read_text(encoding="utf-8"))
    del data["crs"]
    undeclared.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(SourceFormatError, match="--crs"):
        load_geo_file(warehouse_url, undeclared, "iris")
    failed = geo_conn.execute(
        "select dataset_key, status, error from raw.batch_ledger where source = 'geo'"
    ).fetchall()
    assert len(failed) == 1
    assert failed[0][:2] == ("iris", "failed")
    assert "iris_no_crs.geojson" in failed[0][2] and "--crs" in failed[0][2]
    assert _count(geo_conn, "select count(*) from raw.geo_iris") == 0
    ok = load_geo_file(warehouse_url, undeclared, "iris", crs="EPSG:2154", geo_year=2023)
    assert ok.status == "loaded"
    assert geo_conn.execute("select distinct geo_year from raw.geo_iris").fetchall() == [(2023,)]


def test_repairs_are_counted_in_the_load_details(
    geo_conn: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    data = json.loads((FIXTURES / "iris_lambert93.geojson").read_text(encoding="utf-8"))
    ring = data["features"][1]["geometry"]["coordinates"][0]
    ring[1], ring[2] = ring[2], ring[1]  # a bow-tie: self-intersecting
    path = tmp_path / "bowtie.geojson"
    path.write_text(json.dumps(data), encoding="utf-8")
    report = load_geo_file(warehouse_url, path, "iris")
    assert report.repaired == ("290190102",)
    details = geo_conn.execute(
        "select repaired, repaired_ids from raw.geo_load_details where batch_id = %s",
        (report.batch_id,),
    ).fetchone()
    assert details == (1, ["290190102"])
    flags = dict(geo_conn.execute("select id, repaired from raw.geo_iris").fetchall())
    assert flags == {"290190101": False, "290190102": True}


def _load_sample_geo_and_addresses(url: str) -> None:
    """The sample's geography manifest (Brest contours, IRIS, communes) and REU addresses."""
    from ingestion.loaders.reu import load_reu_file

    for entry in read_geo_manifest(SAMPLE / "geo"):
        load_geo_file(
            url,
            entry.local_path(),
            entry.kind,  # type: ignore[arg-type]
            id_field=entry.id_field,
            commune_field=entry.commune_field,
            geo_year=entry.geo_year,
        )
    load_reu_file(url, REU_ADDRESSES)


def test_weights_from_the_warehouse_match_the_hand_computed_fixture(
    geo_conn: psycopg.Connection, warehouse_url: str
) -> None:
    from ingestion.loaders.reu import load_reu_file

    load_geo_file(warehouse_url, FIXTURES / "iris_lambert93.geojson", "iris", geo_year=2023)
    load_geo_file(warehouse_url, FIXTURES / "bureaux_lambert93.geojson", "bureau")
    load_reu_file(warehouse_url, FIXTURES / "table-adresses-reu-fixture.csv", "adresses")
    report = compute_weights(warehouse_url)
    assert report.status == "loaded"
    assert report.allocation is not None
    assert (report.allocation.points, report.allocation.points_outside) == (5, 1)
    rows = geo_conn.execute(
        "select code_iris, bureau_id, weight, method, quality, n_addresses, geo_year, code_commune "
        "from raw.iris_bureau_weights order by 1, 2"
    ).fetchall()
    assert [r[:2] for r in rows] == [
        ("290190101", "29019_0001"),
        ("290190101", "29019_0002"),
        ("290190102", "29019_0002"),
        ("290190102", "29019_0003"),
    ]
    assert [r[2] for r in rows] == pytest.approx([0.25, 0.75, 0.25, 0.75], abs=1e-9)
    assert [r[3:6] for r in rows] == [
        ("addresses", "few_addresses", 2),
        ("addresses", "few_addresses", 6),
        ("areal", "good", None),
        ("areal", "good", None),
    ]
    assert {r[6] for r in rows} == {2023}
    assert {r[7] for r in rows} == {"29019"}
    run = geo_conn.execute(
        "select report from raw.geo_weight_runs where batch_id = %s", (report.batch_id,)
    ).fetchone()
    assert run is not None and run[0]["points_outside"] == 1
    skipped = compute_weights(warehouse_url)
    assert (skipped.status, skipped.loaded_batch_id) == ("skipped", report.batch_id)


def test_sample_weights_allocate_every_census_iris_within_its_commune(
    geo_conn: psycopg.Connection, warehouse_url: str
) -> None:
    from ingestion.loaders.elections import load_results_file
    from ingestion.loaders.reu import load_reu_file

    _load_sample_geo_and_addresses(warehouse_url)
    load_reu_file(warehouse_url, REU_BUREAUX)
    load_results_file(warehouse_url, TOUR1, "2024_legi_t1")
    first = compute_weights(warehouse_url)
    assert first.status == "loaded"

    census_iris = {line.split(",")[0] for line in IRIS_SAMPLE.read_text().splitlines()[1:]}
    sums = dict(
        geo_conn.execute(
            "select code_iris, sum(weight) from raw.iris_bureau_weights group by 1"
        ).fetchall()
    )
    assert set(sums) == census_iris
    assert max(abs(s - 1) for s in sums.values()) < 1e-9
    # Allocated totals stay in their commune: no weight crosses a commune border.
    assert (
        _count(
            geo_conn,
            "select count(*) from raw.iris_bureau_weights where left(bureau_id, 5) <> code_commune",
        )
        == 0
    )
    # Every bureau of the results receives a share of some IRIS.
    assert (
        _count(
            geo_conn,
            "select count(*) from raw.election_results_bureau r where not exists "
            "(select 1 from raw.iris_bureau_weights w where w.bureau_id = r.bureau_id)",
        )
        == 0
    )
    methods = dict(
        geo_conn.execute(
            "select method, count(distinct code_iris) from raw.iris_bureau_weights group by 1"
        ).fetchall()
    )
    assert methods == {"addresses": len(census_iris)}

    # A new input (bureau contours of another commune) makes the next run recompute.
    assert compute_weights(warehouse_url).status == "skipped"
    load_geo_file(warehouse_url, FIXTURES / "bureaux_lambert93.geojson", "bureau")
    second = compute_weights(warehouse_url)
    assert second.status == "loaded"
    statuses = dict(
        geo_conn.execute(
            "select batch_id, status from raw.batch_ledger where source = 'geo_weights'"
        ).fetchall()
    )
    assert statuses[first.batch_id] == "superseded"
    assert statuses[second.batch_id] == "loaded"
    assert _count(geo_conn, "select count(distinct batch_id) from raw.iris_bureau_weights") == 1


def test_points_stream_in_chunks_and_keep_every_row_and_code(
    geo_conn: psycopg.Connection, warehouse_url: str
) -> None:
    """read_points parses the COPY a few kilobytes at a time here (64 MiB in production): every
    loaded address comes out once, with its codes as text (01086, not 1086), and each distinct
    code is one string shared by its points (the national run's memory depends on it)."""
    from ingestion.geo.weights import read_points
    from ingestion.loaders.reu import load_reu_file

    batch = load_reu_file(warehouse_url, REU_ADDRESSES).batch_id
    geo_conn.execute(
        "insert into raw.reu_addresses (batch_id, source_line, code_commune_ref, id_brut_bv_reu, "
        "code_commune, code_commune_results, code_bv, bureau_id, longitude, latitude, "
        "nb_adresses) values (%s, 0, '01086', '01086_0001', '01086', '01086', '0001', "
        "'01086_0001', 5.3, 46.2, 3)",
        (batch,),
    )
    expected = sorted(
        geo_conn.execute(
            "select longitude, latitude, nb_adresses::float8, bureau_id, code_commune_results "
            "from raw.reu_addresses"
        ).fetchall()
    )
    text_bytes = _count(
        geo_conn,
        "select sum(length(concat_ws(e'\\t', longitude, latitude, nb_adresses, bureau_id, "
        "code_commune_results)) + 1) from raw.reu_addresses",
    )
    chunk = 4096
    assert text_bytes > 10 * chunk  # several chunks, and lines cut at their ends
    points = read_points(geo_conn, chunk_bytes=chunk)
    got = sorted(
        zip(
            points.x.tolist(),
            points.y.tolist(),
            points.weight.tolist(),
            points.target.tolist(),
            points.commune.tolist(),  # type: ignore[union-attr]
            strict=True,
        )
    )
    assert got == expected
    assert ("01086_0001", "01086") in {(g[3], g[4]) for g in got}
    assert len({id(b) for b in points.target}) == len(set(points.target.tolist()))
    only = read_points(geo_conn, communes=["01086"], chunk_bytes=chunk)
    assert (len(only), only.target.tolist()) == (1, ["01086_0001"])


def test_shapes_draw_address_cells_only_where_a_bureau_has_no_contour(
    geo_conn: psycopg.Connection, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The map shapes skip the Voronoi diagram of a commune whose bureaux all have contours
    (every cell would be dropped) and publish exactly what computing every commune's cells,
    then dropping those of contoured bureaux, gave."""
    import dataclasses

    from ingestion.geo import shapes
    from ingestion.geo.weights import read_points

    _load_sample_geo_and_addresses(warehouse_url)
    drawn: list[str] = []
    every_commune = shapes._commune_cells

    def spy(commune: str, **kwargs: object) -> Iterator[shapes.Shape]:
        drawn.append(commune)
        yield from every_commune(commune, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shapes, "_commune_cells", spy)
    report = shapes.compute_shapes(warehouse_url)
    monkeypatch.undo()
    assert report.status == "loaded"

    contoured = {r[0] for r in geo_conn.execute("select id from raw.geo_bureaux").fetchall()}
    clips = {
        code: shapely.from_wkb(bytes(wkb))
        for code, wkb in geo_conn.execute(
            "select code_commune_results, geometry from raw.geo_communes"
        ).fetchall()
    }
    batch = report.batch_id
    expected = sorted(
        (
            (batch, *dataclasses.astuple(cell))
            for cell in shapes.address_cells(read_points(geo_conn), clips)
            if cell.bureau_key not in contoured
        ),
        key=lambda row: row[1],
    )
    published = geo_conn.execute(
        "select batch_id, bureau_key, key_kind, code_commune_results, geometry_source, "
        "geometry_geojson, centroid_lat, centroid_lon, n_addresses "
        "from raw.geo_bureau_shapes where key_kind = 'reu' order by bureau_key"
    ).fetchall()
    assert batch is not None and len(expected) == report.from_addresses > 0
    assert published == expected
    # Brest (every bureau has a contour) was not drawn; a commune with a bureau without one was.
    fully_contoured = {
        r[0]
        for r in geo_conn.execute(
            "select code_commune_results from raw.reu_addresses group by 1 "
            "having bool_and(bureau_id in (select id from raw.geo_bureaux))"
        ).fetchall()
    }
    assert "29019" in fully_contoured
    assert sorted(drawn) == sorted({row[3] for row in expected})
    assert not fully_contoured & set(drawn)


@pytest.mark.slow
def test_geography_suites_pass_then_catch_weights_that_do_not_sum_to_one(
    geo_conn: psycopg.Connection, warehouse_url: str
) -> None:
    from expectations.checkpoint import run_suites
    from expectations.suites_geo import RAW_SUITES

    load_geo_file(warehouse_url, FIXTURES / "iris_lambert93.geojson", "iris")
    load_geo_file(warehouse_url, FIXTURES / "bureaux_lambert93.geojson", "bureau")
    compute_weights(warehouse_url)
    outcome = run_suites(warehouse_url, list(RAW_SUITES), "test_geo_suites_ok")
    assert outcome.success, outcome.failed_checks

    geo_conn.execute(
        "update raw.iris_bureau_weights set weight = 0.5 "
        "where code_iris = '290190102' and bureau_id = '29019_0003'"
    )
    geo_conn.execute("update raw.geo_bureaux set id = '29019_3' where id = '29019_0001'")
    outcome = run_suites(warehouse_url, list(RAW_SUITES), "test_geo_suites_broken")
    assert not outcome.success
    failed = sorted(outcome.failed_checks)
    assert len(failed) == 3, failed
    assert failed[0].startswith("raw_geo_bureaux: expect_column_values_to_match_regex(id)")
    assert "29019_3" in failed[0]
    assert "[id = code_commune_results || '_' || code_bv]" in failed[1]
    assert failed[2].startswith("raw_iris_bureau_weights: unexpected_rows_expectation")
    assert "sum to 1" in failed[2] and '"code_iris": "290190102"' in failed[2]
