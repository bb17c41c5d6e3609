"""INSEE REU tables: the real Finistère extract, both column sets, keys, bad input, replacement."""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingestion.errors import SourceFormatError
from ingestion.loaders.reu import load_reu_file, reu_files
from ingestion.sources.reu import (
    ADDRESS_COLUMNS,
    address_key,
    detect_file_table,
    normalise_address,
    results_commune_code,
)
from tests.conftest import ROOT, SAMPLE, TOUR1

pytestmark = pytest.mark.db

REAL = SAMPLE / "reu" / "addresses_sample.csv"
BV_SYNTH = SAMPLE / "reu" / "table-bv-reu-synthetic.csv"
ADDR_SYNTH = SAMPLE / "reu" / "table-adresses-reu-synthetic.csv.gz"
BV_HEADER = (
    "id_brut_reu,id_brut_insee,id_brut_miom,code_commune,code,libelle_reu,num_voie_reu,voie_reu,"
    "cp_reu,commune_reu,nb_adresses_initial,nb_adresses_final"
)


@pytest.fixture
def clean(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """Every test starts and ends with no REU row and no REU ledger entry."""

    def wipe() -> None:
        conn.execute("delete from raw.reu_addresses")
        conn.execute("delete from raw.reu_bureaux")
        conn.execute("delete from raw.batch_ledger where source = 'reu'")

    wipe()
    yield conn
    wipe()


def _one(conn: psycopg.Connection, sql: str, *params: Any) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def _ledger(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select batch_id, file_name, dataset_key, status, rows_read, error from raw.batch_ledger "
        "where source = 'reu' order by batch_id"
    ).fetchall()


def _real_lines() -> list[str]:
    return REAL.read_text(encoding="utf-8").splitlines(keepends=True)


# ---- the real extract ------------------------------------------------------------------------


def test_real_extract_loads_with_the_published_sums(clean: psycopg.Connection) -> None:
    report = load_reu_file(clean, REAL)
    assert (report.status, report.table, report.rows_read) == ("loaded", "adresses", 12335)
    assert report.communes == ("29039", "29046", "29116")
    assert set(report.columns_missing) == {
        "reconstitution_code_commune",
        "id",
        "geo_adresse",
        "api_line",
        "nb_bv_commune",
    }
    sums = dict(
        clean.execute(
            "select code_commune_ref, sum(nb_adresses) from raw.reu_addresses group by 1"
        ).fetchall()
    )
    assert sums == {"29039": 8877, "29046": 6251, "29116": 59}
    bureaux = dict(
        clean.execute(
            "select code_commune, count(distinct bureau_id) from raw.reu_addresses group by 1"
        ).fetchall()
    )
    assert bureaux == {"29039": 17, "29046": 13, "29116": 1}
    # Exact duplicates are kept (decision documented in docs/electoral-roll.md): 23 in the file.
    duplicates = _one(
        clean,
        "select count(*) - count(distinct (id_brut_bv_reu, code_commune_ref, longitude, latitude, "
        "geo_type, geo_score, nb_adresses)) from raw.reu_addresses",
    )
    assert duplicates == 23
    assert (
        _one(
            clean,
            "select count(*) from raw.reu_addresses where geo_adresse is not null "
            "or address_key is not null or ban_id is not null",
        )
        == 0
    )
    row = _one(
        clean,
        "select id_brut_bv_reu, code_commune, code_bv, bureau_id, code_commune_results "
        "from raw.reu_addresses where source_line = 2",
    )
    assert row == ("29039_1", "29039", "0001", "29039_0001", "29039")


def test_same_file_twice_is_skipped(clean: psycopg.Connection) -> None:
    first = load_reu_file(clean, REAL)
    second = load_reu_file(clean, REAL)
    assert second.status == "skipped" and second.loaded_batch_id == first.batch_id
    assert _one(clean, "select count(*) from raw.reu_addresses") == 12335
    assert [r[3] for r in _ledger(clean)] == ["loaded", "skipped"]


# ---- column sets -------------------------------------------------------------------------------


def _full_layout_file(tmp_path: Path, columns: tuple[str, ...], name: str = "full.csv") -> Path:
    """The first 200 real rows in the full published layout, with invented address labels."""
    reader = csv.DictReader(io.StringIO("".join(_real_lines()[:201])))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for i, row in enumerate(reader):
        writer.writerow(
            {
                **{c: row.get(c, "") for c in columns},
                "reconstitution_code_commune": "1",
                "id": f"{row['code_commune_ref']}_0001_{i:05d}",
                "geo_adresse": f"{i} Rue de l'Église 29900 Concarneau",
                "api_line": str(i),
                "nb_bv_commune": "17",
            }
        )
    path = tmp_path / name
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_full_column_set_and_any_column_order(clean: psycopg.Connection, tmp_path: Path) -> None:
    official = _full_layout_file(tmp_path, ADDRESS_COLUMNS)
    report = load_reu_file(clean, official)
    assert report.columns_missing == () and report.rows_read == 200
    row = _one(
        clean,
        "select ban_id, geo_adresse, address_key, nb_bv_commune, reconstitution_code_commune, "
        "api_line from raw.reu_addresses where source_line = 5",
    )
    label = "3 Rue de l'Église 29900 Concarneau"
    assert row == ("29039_0001_00003", label, address_key(label), 17, "1", "3")
    # Keyed like a canvass app's address, so door knocks find their REU address (review finding).
    from ingestion.canvass.pseudonymise import address_sha256
    from ingestion.canvass.pseudonymise import normalise_address as canvass_normalise

    assert address_key(label) == address_sha256(
        canvass_normalise("3", "rue de l'eglise", "CONCARNEAU") or ""
    )
    assert address_key("lieu-dit sans code") == hashlib.sha256(b"LIEU DIT SANS CODE").hexdigest()
    # Columns are taken by name: reversed order, same rows.
    before = clean.execute(
        "select source_line, bureau_id, longitude, latitude, nb_adresses, address_key "
        "from raw.reu_addresses order by source_line"
    ).fetchall()
    reversed_file = _full_layout_file(tmp_path, tuple(reversed(ADDRESS_COLUMNS)), "rev.csv")
    load_reu_file(clean, reversed_file)
    after = clean.execute(
        "select source_line, bureau_id, longitude, latitude, nb_adresses, address_key "
        "from raw.reu_addresses order by source_line"
    ).fetchall()
    assert after == before


def test_semicolon_re_save_loads_like_the_original(
    clean: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "resaved.csv"
    path.write_text("".join(line.replace(",", ";") for line in _real_lines()), encoding="utf-8")
    assert load_reu_file(clean, path).rows_read == 12335
    assert _one(clean, "select sum(nb_adresses) from raw.reu_addresses") == 15187


# ---- the bureau table, keys, Paris/Lyon/Marseille -------------------------------------------


def _results_bureau_ids() -> set[str]:
    with TOUR1.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        return {f"{r[2]}_{int(r[4]):04d}" for r in reader}


def test_synthetic_bureau_table_gives_the_ministry_keys(clean: psycopg.Connection) -> None:
    assert detect_file_table(BV_SYNTH) == "bv"
    report = load_reu_file(clean, BV_SYNTH)
    assert (report.table, report.rows_read, len(report.communes)) == ("bv", 201, 35)
    ids = {r[0] for r in clean.execute("select bureau_id from raw.reu_bureaux").fetchall()}
    assert ids == _results_bureau_ids()
    assert _one(clean, "select count(*) from raw.reu_bureaux where id_brut_miom <> bureau_id") == 0


def test_paris_lyon_marseille_keep_both_commune_codes(
    clean: psycopg.Connection, tmp_path: Path
) -> None:
    assert [results_commune_code(c) for c in ("75101", "75120", "69381", "13216", "29019")] == [
        "75056",
        "75056",
        "69123",
        "13055",
        "29019",
    ]
    path = tmp_path / "plm.csv"
    path.write_text(
        BV_HEADER + "\n"
        "75101_1,75101_1,,75101,1,MAIRIE DU 1ER,4,PLACE DU LOUVRE,75001,PARIS 1ER,10,9\n"
        "69381_12,,,69381,12,ECOLE,1,RUE X,69001,LYON 1ER,,\n"
        "13216_3,,,13216,3,ECOLE,1,RUE Y,13016,MARSEILLE 16E,,\n",
        encoding="utf-8",
    )
    load_reu_file(clean, path)
    rows = clean.execute(
        "select code_commune, code_commune_results, bureau_id, nb_adresses_final "
        "from raw.reu_bureaux order by source_line"
    ).fetchall()
    assert rows == [
        ("75101", "75056", "75056_0001", 9),
        ("69381", "69123", "69123_0012", None),
        ("13216", "13055", "13055_0003", None),
    ]


def test_synthetic_addresses_match_the_registered_voters_and_polygons(
    clean: psycopg.Connection,
) -> None:
    from shapely.geometry import Point, shape

    load_reu_file(clean, ADDR_SYNTH)
    per_bureau = dict(
        clean.execute("select bureau_id, sum(nb_adresses) from raw.reu_addresses group by 1")
    )
    with TOUR1.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        expected = {f"{r[2]}_{int(r[4]):04d}": round(int(r[5]) / 1.6) for r in reader}
    assert per_bureau == expected
    polygons = {
        f"{f['properties']['DEPCO']}_{f['properties']['BVOTE']:04d}": shape(f["geometry"])
        for f in json.loads((SAMPLE / "geo" / "BureauxVoteBrest.geojson").read_text("utf-8"))[
            "features"
        ]
    }
    points = clean.execute(
        "select bureau_id, longitude, latitude from raw.reu_addresses "
        "where code_commune in ('29019', '29061') and source_line % 7 = 0"
    ).fetchall()
    assert len(points) > 1000
    # Coordinates are written with 6 decimals (~0.1 m): allow that much at the edges.
    assert all(polygons[b].buffer(1e-5).contains(Point(x, y)) for b, x, y in points)


def _load_script(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_generator_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed synthetic tables are exactly what the script writes."""
    module = _load_script("generate_sample_reu")
    monkeypatch.setattr(module, "OUT_DIR", tmp_path)
    monkeypatch.setattr(module, "BV_FILE", tmp_path / BV_SYNTH.name)
    monkeypatch.setattr(module, "ADDRESS_FILE", tmp_path / ADDR_SYNTH.name)
    module.main()
    assert (tmp_path / BV_SYNTH.name).read_bytes() == BV_SYNTH.read_bytes()
    assert (tmp_path / ADDR_SYNTH.name).read_bytes() == ADDR_SYNTH.read_bytes()


# ---- bad input ---------------------------------------------------------------------------------


def _refused(conn: psycopg.Connection, path: Path) -> SourceFormatError:
    with pytest.raises(SourceFormatError) as info:
        load_reu_file(conn, path)
    ledger = _ledger(conn)
    assert ledger[-1][3] == "failed" and ledger[-1][5] == str(info.value)
    assert _one(conn, "select count(*) from raw.reu_addresses") == 0
    return info.value


def test_missing_key_column_is_refused_at_line_1(clean: psycopg.Connection, tmp_path: Path) -> None:
    path = tmp_path / "nokey.csv"
    path.write_text(
        "".join(line.rsplit(",", 1)[0] + "\n" for line in _real_lines()[:50]), encoding="utf-8"
    )
    error = _refused(clean, path)
    assert (error.line, error.column) == (1, "nb_adresses")
    assert "key column missing" in str(error) and "nokey.csv" in str(error)


def test_non_numeric_longitude_names_line_and_column(
    clean: psycopg.Connection, tmp_path: Path
) -> None:
    lines = _real_lines()
    fields = lines[99].split(",")
    fields[2] = "-3.9O"  # a letter O typed for a zero
    lines[99] = ",".join(fields)
    path = tmp_path / "badlon.csv"
    path.write_text("".join(lines), encoding="utf-8")
    error = _refused(clean, path)
    assert (error.line, error.column) == (100, "longitude")
    assert "'-3.9O'" in str(error)


def test_wrong_encoding_names_line_and_column(clean: psycopg.Connection, tmp_path: Path) -> None:
    full = _full_layout_file(tmp_path, ADDRESS_COLUMNS)
    path = tmp_path / "latin1.csv"
    path.write_bytes(full.read_text(encoding="utf-8").encode("cp1252"))
    error = _refused(clean, path)
    assert (error.line, error.column) == (2, "geo_adresse")
    assert "not valid utf-8" in str(error) and "iconv" in str(error)


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        (b"", 1, "empty"),
        (",".join(ADDRESS_COLUMNS).encode() + b"\n", 2, "no data row"),
        (b"foo,bar\n1,2\n", 1, "not an REU table"),
    ],
)
def test_empty_header_only_and_unknown_files(
    clean: psycopg.Connection, tmp_path: Path, content: bytes, line: int, words: str
) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(content)
    error = _refused(clean, path)
    assert error.line == line and words in str(error)


def test_table_option_must_match_the_header(clean: psycopg.Connection) -> None:
    with pytest.raises(SourceFormatError, match="--table bv was asked"):
        load_reu_file(clean, REAL, "bv")


# ---- replacement by commune ------------------------------------------------------------------


def test_new_file_replaces_only_its_communes_then_supersedes(
    clean: psycopg.Connection, tmp_path: Path
) -> None:
    lines = _real_lines()
    header, body = lines[0], lines[1:]
    concarneau_douarnenez = [line for line in body if not line.startswith("29116_")]
    douarnenez_v2 = [
        line.replace(",1\n", ",2\n") for line in body if line.startswith("29046_")
    ]  # one door more on each point with one address
    lanneuffret = [line for line in body if line.startswith("29116_")]
    first = tmp_path / "a.csv"
    first.write_text(header + "".join(concarneau_douarnenez), encoding="utf-8")
    second = tmp_path / "b.csv"
    second.write_text(header + "".join(douarnenez_v2), encoding="utf-8")
    third = tmp_path / "c.csv"
    third.write_text(header + "".join(lanneuffret + concarneau_douarnenez[:5]), encoding="utf-8")

    a = load_reu_file(clean, first)
    b = load_reu_file(clean, second)
    assert b.rows_replaced == 5431 and b.superseded == ()
    sums = dict(
        clean.execute("select code_commune, sum(nb_adresses) from raw.reu_addresses group by 1")
    )
    ones = sum(1 for line in body if line.startswith("29046_") and line.endswith(",1\n"))
    assert sums == {"29039": 8877, "29046": 6251 + ones}
    assert {r[0]: r[3] for r in _ledger(clean)} == {a.batch_id: "loaded", b.batch_id: "loaded"}
    c = load_reu_file(clean, third)
    # c covers 29039 (5 rows) and 29116: a holds nothing any more -> superseded.
    assert c.superseded == (a.batch_id,)
    sums = dict(
        clean.execute("select code_commune, sum(nb_adresses) from raw.reu_addresses group by 1")
    )
    assert set(sums) == {"29039", "29046", "29116"} and sums["29116"] == 59
    assert _one(clean, "select count(*) from raw.reu_addresses where code_commune = '29039'") == 5


def test_a_refused_file_keeps_the_previous_rows(clean: psycopg.Connection, tmp_path: Path) -> None:
    load_reu_file(clean, REAL)
    lines = _real_lines()
    lines[500] = lines[500].replace("29039_", "29039-", 1)
    path = tmp_path / "broken.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(SourceFormatError) as info:
        load_reu_file(clean, path)
    assert (info.value.line, info.value.column) == (501, "id_brut_bv_reu")
    assert _one(clean, "select count(*) from raw.reu_addresses") == 12335


# ---- helpers, CLI, landing folder ------------------------------------------------------------


def test_address_normalisation_is_spelling_proof() -> None:
    assert (
        normalise_address("  12, rue de l'Église  29200 BREST ") == "12 RUE DE L EGLISE 29200 BREST"
    )
    assert address_key("12 Rue de l’Église 29200 Brest") == address_key(
        "12 RUE DE L EGLISE 29200 BREST"
    )
    assert address_key(" ,; ") is None


def test_cli_ingest_reu(clean: psycopg.Connection, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    assert main(["ingest", "reu", str(BV_SYNTH), "--table", "bv"]) == 0
    out = capsys.readouterr().out
    assert "REU table bv loaded" in out and "201 rows read" in out
    assert main(["ingest", "reu", str(BV_SYNTH)]) == 0
    assert "skipped" in capsys.readouterr().out


def test_landing_folder_lists_csv_and_gzip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("b.csv", "a.csv.gz", "notes.md", ".hidden.csv"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("SCRUTIN_REU_DIR", str(tmp_path))
    assert [p.name for p in reu_files()] == ["a.csv.gz", "b.csv"]
    monkeypatch.delenv("SCRUTIN_REU_DIR")
    assert {p.name for p in reu_files()} == {
        "addresses_sample.csv",
        BV_SYNTH.name,
        ADDR_SYNTH.name,
    }


def test_gzip_detected_by_content(clean: psycopg.Connection, tmp_path: Path) -> None:
    path = tmp_path / "compressed-without-suffix.csv"
    path.write_bytes(gzip.compress(REAL.read_bytes(), mtime=0))
    assert load_reu_file(clean, path).rows_read == 12335


# ---- quality suites ----------------------------------------------------------------------------


@pytest.mark.slow
def test_reu_suites_pass_on_the_samples_and_catch_bad_points(
    clean: psycopg.Connection, warehouse_url: str
) -> None:
    from expectations.checkpoint import run_suites
    from expectations.suites_roll import REU_SUITES

    for path in (REAL, BV_SYNTH, ADDR_SYNTH):
        load_reu_file(clean, path)
    outcome = run_suites(warehouse_url, REU_SUITES, "test_reu_ok")
    assert outcome.success, outcome.failed_checks
    assert outcome.warnings == []
    batch = _one(clean, "select max(batch_id) from raw.reu_addresses")
    line = _one(clean, "select min(source_line) from raw.reu_addresses where batch_id = %s", batch)
    # Swapped coordinates, no address, an unknown geocoder precision, and the line number of a
    # row already in the batch.
    clean.execute(
        "insert into raw.reu_addresses (batch_id, source_line, code_commune_ref, id_brut_bv_reu, "
        "code_commune, code_commune_results, code_bv, bureau_id, longitude, latitude, nb_adresses, "
        "geo_type) "
        "values (%s, %s, '29019', '29019_1', '29019', '29019', '0001', '29019_0001', "
        "48.39, -4.48, 0, 'rooftop')",
        (batch, line),
    )
    outcome = run_suites(warehouse_url, REU_SUITES, "test_reu_bad")
    assert not outcome.success
    failed = "\n".join(outcome.failed_checks)
    assert "expect_column_values_to_be_between(nb_adresses)" in failed
    assert "one row per (batch_id, source_line)" in failed
    assert any("metropolitan France" in w for w in outcome.warnings)
    assert any("geo_type" in w for w in outcome.warnings), outcome.warnings


# ---- the address table in column batches (the loader's fast path) -----------------------------


def _loaded_addresses(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select source_line, code_commune_ref, id_brut_bv_reu, code_commune, bureau_id, "
        "geo_adresse, geo_score, longitude, latitude, nb_bv_commune, nb_adresses, address_key "
        "from raw.reu_addresses order by source_line"
    ).fetchall()


def test_a_clean_address_file_loads_in_batches_as_line_by_line(
    clean: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingestion.loaders.reu as loader

    monkeypatch.setattr(loader, "BATCHED_ADDRESSES", False)
    by_line = load_reu_file(clean, ADDR_SYNTH)
    expected = _loaded_addresses(clean)
    clean.execute("delete from raw.reu_addresses")
    clean.execute("delete from raw.batch_ledger where source = 'reu'")

    def no_line_reader(*args: object, **kwargs: object) -> object:
        raise AssertionError("a clean file must not need the line reader")

    monkeypatch.setattr(loader, "BATCHED_ADDRESSES", True)
    monkeypatch.setattr(loader, "ADDRESS_BLOCK_BYTES", 1 << 16)  # many batches
    monkeypatch.setattr(loader, "BATCHED_MIN_BYTES", 0)
    monkeypatch.setattr(loader, "iter_reu_rows", no_line_reader)
    batched = load_reu_file(clean, ADDR_SYNTH)
    assert (batched.rows_read, batched.communes) == (by_line.rows_read, by_line.communes)
    assert _loaded_addresses(clean) == expected
    assert _ledger(clean)[-1][3:5] == ("loaded", by_line.rows_read)


def test_a_file_the_batches_hand_back_late_loads_once_line_by_line(
    clean: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches already COPYed are rolled back (savepoint) before the line reader starts."""
    import ingestion.loaders.reu as loader

    lines = _real_lines()
    fields = lines[-1].rstrip("\n").split(",")
    fields[4] = '"house""boat"'  # an escaped quote: only the strict line reader decides it
    lines[-1] = ",".join(fields) + "\n"
    path = tmp_path / "late.csv"
    path.write_text("".join(lines), encoding="utf-8")
    monkeypatch.setattr(loader, "ADDRESS_BLOCK_BYTES", 1 << 14)
    monkeypatch.setattr(loader, "BATCHED_MIN_BYTES", 0)
    report = load_reu_file(clean, path)
    assert report.rows_read == len(lines) - 1
    assert _one(clean, "select count(*) from raw.reu_addresses") == len(lines) - 1
    assert (
        _one(clean, "select count(distinct source_line) from raw.reu_addresses") == len(lines) - 1
    )
    assert (
        _one(clean, "select geo_type from raw.reu_addresses order by source_line desc limit 1")
        == 'house"boat'
    )


def test_a_bad_value_late_in_the_file_names_its_line_and_loads_nothing(
    clean: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingestion.loaders.reu as loader

    lines = _real_lines()
    fields = lines[12000].rstrip("\n").split(",")
    fields[6] = "2;5"  # nb_adresses with a stray separator
    lines[12000] = ",".join(fields) + "\n"
    path = tmp_path / "late_bad.csv"
    path.write_text("".join(lines), encoding="utf-8")
    monkeypatch.setattr(loader, "ADDRESS_BLOCK_BYTES", 1 << 14)
    monkeypatch.setattr(loader, "BATCHED_MIN_BYTES", 0)
    error = _refused(clean, path)
    assert (error.line, error.column) == (12001, "nb_adresses")
    assert "'2;5'" in str(error)
