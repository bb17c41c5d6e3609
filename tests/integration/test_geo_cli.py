"""The geography commands end to end on small files: `geo weights`, `ingest geo`, `geo allocate`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pipeline.cli import main
from scrutin.config import with_database
from tests.conftest import _SERVER_URL, TEST_DB

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "geo"
IRIS = FIXTURES / "iris_lambert93.geojson"
BUREAUX = FIXTURES / "bureaux_lambert93.geojson"
ADDRESSES = FIXTURES / "table-adresses-reu-fixture.csv"
CLI_DB = f"{TEST_DB}_geo_cli"

_WEIGHTS_ARGS = [
    "geo",
    "weights",
    "--source",
    str(IRIS),
    "--source-id",
    "CODE_IRIS",
    "--target",
    str(BUREAUX),
    "--target-id",
    "id_bv",
    "--points",
    str(ADDRESSES),
    "--lon",
    "longitude",
    "--lat",
    "latitude",
    "--weight",
    "nb_adresses",
    "--point-target",
    "id_brut_bv_reu",
]


def _read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_geo_weights_writes_the_hand_computed_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "weights.csv"
    assert main([*_WEIGHTS_ARGS, "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").splitlines()[0] == "source_id,target_id,weight"
    rows = _read(out)
    assert [(r["source_id"], r["target_id"]) for r in rows] == [
        ("290190101", "29019_1"),
        ("290190101", "29019_2"),
        ("290190102", "29019_2"),
        ("290190102", "29019_3"),
    ]
    assert [float(r["weight"]) for r in rows] == pytest.approx([0.25, 0.75, 0.25, 0.75], abs=1e-9)
    err = capsys.readouterr().err
    assert "outside every source 1 (weight 4)" in err
    assert "lines 6 of" in err  # the 5th data row of the CSV
    assert "4 weights written" in err


def test_geo_weights_details_and_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_WEIGHTS_ARGS, "--details", "--min-addresses", "5", "-o", "-"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == [
        "source_id",
        "target_id",
        "weight",
        "method",
        "quality",
        "n_addresses",
        "coverage",
    ]
    assert [(r["method"], r["quality"], r["n_addresses"]) for r in rows] == [
        ("addresses", "good", "2"),
        ("addresses", "good", "6"),
        ("areal", "good", ""),
        ("areal", "good", ""),
    ]
    assert float(rows[2]["coverage"]) == pytest.approx(1.0)


def test_geo_weights_without_points_is_areal_only(tmp_path: Path) -> None:
    out = tmp_path / "areal.csv"
    args = _WEIGHTS_ARGS[: _WEIGHTS_ARGS.index("--points")]
    assert main([*args, "-o", str(out)]) == 0
    weights = {(r["source_id"], r["target_id"]): float(r["weight"]) for r in _read(out)}
    assert weights == pytest.approx(
        {
            ("290190101", "29019_1"): 0.25,
            ("290190101", "29019_2"): 0.75,
            ("290190102", "29019_2"): 0.25,
            ("290190102", "29019_3"): 0.75,
        },
        abs=1e-9,
    )


def test_geo_weights_refuses_an_undeclared_projected_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(IRIS.read_text(encoding="utf-8"))
    del data["crs"]
    bare = tmp_path / "iris.geojson"
    bare.write_text(json.dumps(data), encoding="utf-8")
    args = [*_WEIGHTS_ARGS, "-o", str(tmp_path / "w.csv")]
    args[args.index(str(IRIS))] = str(bare)
    assert main(args) == 3  # bad input
    err = capsys.readouterr().err
    assert "iris.geojson" in err and "--crs" in err
    assert not (tmp_path / "w.csv").exists()
    assert main([*args, "--source-crs", "EPSG:2154"]) == 0


def test_geo_weights_names_a_bad_point_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ADDRESSES.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("-4.487808", "-4.48x")
    bad = tmp_path / "adresses.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = [*_WEIGHTS_ARGS, "-o", str(tmp_path / "w.csv")]
    args[args.index(str(ADDRESSES))] = str(bad)
    assert main(args) == 3  # bad input
    assert "adresses.csv, line 4, column 'longitude'" in capsys.readouterr().err


@pytest.fixture
def cli_warehouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[psycopg.Connection]:
    """A fresh warehouse of its own, which the CLI reaches through SCRUTIN_DATABASE_URL."""
    from scrutin.warehouse.migrate import migrate

    url = with_database(_SERVER_URL, CLI_DB)
    with psycopg.connect(with_database(_SERVER_URL, "postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{CLI_DB}" with (force)')
        admin.execute(f'create database "{CLI_DB}"')
    monkeypatch.setenv("SCRUTIN_DATABASE_URL", url)
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
        yield conn


@pytest.mark.db
def test_ingest_geo_then_allocate(
    cli_warehouse: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = cli_warehouse
    assert main(["ingest", "geo", str(IRIS), "--kind", "iris", "--geo-year", "2023"]) == 0
    assert main(["ingest", "geo", str(BUREAUX), "--kind", "bureau"]) == 0
    out = capsys.readouterr().out
    assert "iris contours loaded" in out and "2 features in 1 communes, CRS EPSG:2154" in out
    assert "bureau contours loaded" in out
    assert main(["geo", "allocate"]) == 0
    out = capsys.readouterr().out
    assert "weights loaded" in out and "4 (IRIS, bureau) pairs for 2 IRIS" in out
    assert main(["geo", "allocate"]) == 0
    assert "weights skipped" in capsys.readouterr().out
    rows = conn.execute(
        "select code_iris, bureau_id, method from raw.iris_bureau_weights order by 1, 2"
    ).fetchall()
    assert rows == [
        ("290190101", "29019_0001", "areal"),
        ("290190101", "29019_0002", "areal"),
        ("290190102", "29019_0002", "areal"),
        ("290190102", "29019_0003", "areal"),
    ]


def test_fetch_iris_writes_a_loadable_lambert93_file_from_pynsee(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """pynsee is replaced by a stub returning the IRIS-GE layout: no network in tests."""
    import geopandas as gpd
    import shapely

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    import pynsee.geodata

    calls: list[tuple[str, object]] = []

    def fake_get_geodata(dataset_id: str, crs: object = "EPSG:3857", **_: object) -> object:
        calls.append((dataset_id, crs))
        return gpd.GeoDataFrame(
            {
                "cleabs": ["A", "B", "C"],
                "code_iris": ["290190101", "290190102", "751010101"],
                "code_insee": ["29019", "29019", "75101"],
                "nom_commune": ["Brest", "Brest", "Paris 1er"],
                "iris": ["0101", "0102", "0101"],
                "nom_iris": ["Ouest", "Est", "Saint-Germain"],
                "type_iris": ["H", "H", "A"],
            },
            geometry=[
                shapely.box(145_000, 6_836_000, 147_000, 6_837_000),
                shapely.box(147_000, 6_836_000, 149_000, 6_837_000),
                shapely.box(651_000, 6_862_000, 652_000, 6_863_000),
            ],
            crs=crs,
        )

    monkeypatch.setattr(pynsee.geodata, "get_geodata", fake_get_geodata)
    out = tmp_path / "iris.geojson"
    assert main(["geo", "fetch-iris", "-o", str(out), "--commune", "29019"]) == 0
    assert calls == [("STATISTICALUNITS.IRISGE:iris_ge", "EPSG:2154")]
    assert f"scrutin ingest geo {out} --kind iris" in capsys.readouterr().out

    from ingestion.geo.contours import read_contours

    contours = read_contours(out, "iris")
    assert (contours.crs.label, contours.crs.source) == ("EPSG:2154", "declared")
    assert contours.fields.id_field == "code_iris"
    assert contours.features["id"].tolist() == ["290190101", "290190102"]
    assert contours.features["area_m2"].tolist() == pytest.approx([2e6, 2e6], rel=1e-9)


def test_geo_weights_communes_compare_paris_arrondissements_as_the_city(tmp_path: Path) -> None:
    """IRIS of 75104 meet the bureaux of 75056 (the results' code) under --*-commune."""
    iris = json.loads(IRIS.read_text(encoding="utf-8"))
    for feature in iris["features"]:
        props = feature["properties"]
        props["INSEE_COM"] = "75104"
        props["CODE_IRIS"] = "75104" + props["IRIS"]
    bureaux = json.loads(BUREAUX.read_text(encoding="utf-8"))
    for feature in bureaux["features"]:
        feature["properties"]["codeCommune"] = "75056"
    (tmp_path / "iris.geojson").write_text(json.dumps(iris), encoding="utf-8")
    (tmp_path / "bv.geojson").write_text(json.dumps(bureaux), encoding="utf-8")
    out = tmp_path / "w.csv"
    args = [
        "geo",
        "weights",
        "--source",
        str(tmp_path / "iris.geojson"),
        "--source-id",
        "CODE_IRIS",
        "--source-commune",
        "INSEE_COM",
        "--target",
        str(tmp_path / "bv.geojson"),
        "--target-id",
        "codeBureauVote",
        "--target-commune",
        "codeCommune",
        "--details",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    rows = _read(out)
    assert [(r["source_id"], r["target_id"], r["method"]) for r in rows] == [
        ("751040101", "29019_0001", "areal"),
        ("751040101", "29019_0002", "areal"),
        ("751040102", "29019_0002", "areal"),
        ("751040102", "29019_0003", "areal"),
    ]
    assert [float(r["weight"]) for r in rows] == pytest.approx([0.25, 0.75, 0.25, 0.75], abs=1e-9)


def test_geo_weights_on_a_city_layer_numbered_within_communes(tmp_path: Path) -> None:
    """Brest's layer numbers bureaux 1..104 in Brest and 1..6 in Gouesnou: with a commune field
    the target id becomes `<commune>_<BVOTE>` instead of refusing the file (review finding)."""
    geo = Path(__file__).resolve().parents[2] / "data" / "sample" / "geo"
    out = tmp_path / "w.csv"
    code = main(
        [
            "geo",
            "weights",
            "--source",
            str(geo / "contours-iris-synthetic.geojson"),
            "--source-id",
            "CODE_IRIS",
            "--source-commune",
            "INSEE_COM",
            "--target",
            str(geo / "BureauxVoteBrest.geojson"),
            "--target-id",
            "BVOTE",
            "--target-commune",
            "DEPCO",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    rows = _read(out)
    targets = {r["target_id"] for r in rows}
    assert {t.split("_")[0] for t in targets} <= {"29019", "29061", "29189"}
    # Gouesnou's six bureaux are kept apart from Brest's bureaux 1-6.
    assert {f"29061_{n}" for n in range(1, 7)} <= targets
    assert {f"29019_{n}" for n in range(1, 7)} <= targets
    sums: dict[str, float] = {}
    for r in rows:
        sums[r["source_id"]] = sums.get(r["source_id"], 0.0) + float(r["weight"])
    assert sums and all(abs(s - 1.0) < 1e-9 for s in sums.values())
    # An IRIS only ever feeds bureaux of its own commune.
    assert all(r["target_id"].startswith(r["source_id"][:5]) for r in rows)
