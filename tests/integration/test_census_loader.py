"""Census loads into the real warehouse: sample themes, idempotence, replacement, failures,
the real Filosofi 2015 file, and the PCS crosswalk against the loaded indicators."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ingestion.census.loader import load_census_file
from ingestion.census.pipeline import load_entry, load_path, registry_entries
from ingestion.census.registry import spec_from_dict
from ingestion.errors import SourceFormatError
from tests.unit.test_census_parser import (
    FILOSOFI_2015,
    FIXTURES,
    ROOT,
    SAMPLE,
    edited_sample,
    sample_line,
)

pytestmark = pytest.mark.db

CROSSWALK = ROOT / "dbt" / "seeds" / "pcs_crosswalk.csv"
EXPECTED_INDICATORS = {
    "population": 72,
    "couples_familles_menages": 58,
    "diplomes_formation": 38,
    "logement": 46,
    "activite_residents": 88,
    "filosofi": 28,
}


def _wipe_census(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from raw.census_iris_values")
        conn.execute("delete from raw.census_iris")
        conn.execute("delete from raw.batch_ledger where source = 'census'")


@pytest.fixture(scope="module")
def clean(warehouse_url: str) -> Iterator[str]:
    """No census rows nor census ledger rows: this module starts from nothing.

    Afterwards the test warehouse holds exactly the bundled sample again, so modules that run
    later (dbt models on census data) see the sample, not this module's edited files.
    """
    _wipe_census(warehouse_url)
    yield warehouse_url
    _wipe_census(warehouse_url)
    for spec in registry_entries(SAMPLE / "manifest.yml"):
        load_entry(warehouse_url, spec)


def _ledger(conn: psycopg.Connection) -> list[tuple[str, str]]:
    return conn.execute(
        "select dataset_key, status from raw.batch_ledger where source = 'census' order by batch_id"
    ).fetchall()


def _counts(conn: psycopg.Connection, theme: str, vintage: int) -> tuple[int, int, int]:
    row = conn.execute(
        "select (select count(*) from raw.census_iris where theme = %(t)s and vintage = %(v)s), "
        "count(*), count(*) filter (where masked) "
        "from raw.census_iris_values where theme = %(t)s and vintage = %(v)s",
        {"t": theme, "v": vintage},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_sample_loads_every_theme_then_skips(clean: str, conn: psycopg.Connection) -> None:
    specs = registry_entries(SAMPLE / "manifest.yml")
    reports = [load_entry(clean, spec) for spec in specs]
    assert [r.status for r in reports] == ["loaded"] * 6
    for report in reports:
        iris = 63 if report.theme == "filosofi" else 96
        expected = (iris, iris * EXPECTED_INDICATORS[report.theme])
        assert _counts(conn, report.theme, report.vintage)[:2] == expected
        assert report.indicators == EXPECTED_INDICATORS[report.theme]
    assert _counts(conn, "filosofi", 2015)[2] == 23
    geo = conn.execute(
        "select theme, min(geo_year), max(geo_year) from raw.census_iris group by theme "
        "order by theme"
    ).fetchall()
    assert {t: (lo, hi) for t, lo, hi in geo}["filosofi"] == (2016, 2016)
    assert {lo for theme, lo, _hi in geo if theme != "filosofi"} == {2023}
    # The same files again: nothing fetched, nothing written but 'skipped' ledger rows.
    again = [load_entry(clean, spec) for spec in specs]
    assert [r.status for r in again] == ["skipped"] * 6
    assert [r.loaded_batch_id for r in again] == [r.batch_id for r in reports]
    assert _counts(conn, "population", 2021)[:2] == (96, 96 * 72)
    statuses = [status for _, status in _ledger(conn)]
    assert statuses.count("loaded") == 6 and statuses.count("skipped") == 6


def test_iris_rows_keep_the_published_attributes(clean: str, conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "select typ_iris, lab_iris, count(*), count(libiris) from raw.census_iris "
        "where theme = 'population' group by typ_iris, lab_iris order by typ_iris"
    ).fetchall()
    # base-ic 2021 files carry no label: libiris stays NULL there, never invented.
    assert rows == [("H", "1", 63, 0), ("Z", "5", 33, 0)]
    brest = conn.execute(
        "select code_iris, libiris, libcom from raw.census_iris "
        "where theme = 'filosofi' and code_iris = '290190128'"
    ).fetchone()
    assert brest == ("290190128", "Kerhallet", "Brest")


def test_masked_cells_are_null_never_zero(clean: str, conn: psycopg.Connection) -> None:
    masked = conn.execute(
        "select code_iris, indicator, value, mask_code from raw.census_iris_values "
        "where masked order by code_iris, indicator"
    ).fetchall()
    assert len(masked) == 23
    assert {(value, code) for _, _, value, code in masked} == {(None, "")}
    kerhallet = [indicator for iris, indicator, _, _ in masked if iris == "290190128"]
    assert len(kerhallet) == 3
    assert conn.execute(
        "select count(*) from raw.census_iris_values where not masked and value is null"
    ).fetchone() == (0,)


def test_new_file_for_a_vintage_replaces_it(
    clean: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    before = conn.execute(
        "select batch_id from raw.census_iris where theme = 'population' limit 1"
    ).fetchone()
    assert before is not None
    fields = sample_line(2)
    fields[4] = "1234.5"
    path = edited_sample(tmp_path, {2: ";".join(fields)})
    report = load_path(clean, path)
    assert report.status == "loaded"
    assert report.superseded == (before[0],)
    assert _counts(conn, "population", 2021)[:2] == (96, 96 * 72)
    value = conn.execute(
        "select value from raw.census_iris_values where theme = 'population' "
        "and vintage = 2021 and code_iris = %s and indicator = 'POP'",
        (fields[0],),
    ).fetchone()
    assert value == (1234.5,)
    status = conn.execute(
        "select status from raw.batch_ledger where batch_id = %s", (before[0],)
    ).fetchone()
    assert status == ("superseded",)


def test_bad_file_keeps_the_previous_rows_and_records_the_failure(
    clean: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    before = conn.execute(
        "select count(*), sum(value) from raw.census_iris_values where theme = 'population'"
    ).fetchone()
    path = edited_sample(tmp_path, {60: ";".join(sample_line(59))}, name="dup.zip")
    with pytest.raises(SourceFormatError, match="appears twice"):
        load_path(clean, path, theme="population", vintage=2021)
    after = conn.execute(
        "select count(*), sum(value) from raw.census_iris_values where theme = 'population'"
    ).fetchone()
    assert after == before
    failed = conn.execute(
        "select file_name, error from raw.batch_ledger where source = 'census' "
        "and status = 'failed' order by batch_id desc limit 1"
    ).fetchone()
    assert failed is not None and failed[0] == "dup.zip"
    assert "line 60" in failed[1] and "'IRIS'" in failed[1]


def test_declared_theme_must_match_the_columns(clean: str) -> None:
    spec = spec_from_dict(
        {"theme": "population", "vintage": 2015, "format": "filosofi-reexport", "decimal": ","}
    )
    with pytest.raises(SourceFormatError, match="declared theme 'population'"):
        load_census_file(clean, FILOSOFI_2015, spec)


def test_real_filosofi_2015_file_lands_exactly(clean: str, conn: psycopg.Connection) -> None:
    report = load_path(clean, FILOSOFI_2015)
    assert (report.theme, report.vintage, report.geo_year) == ("filosofi", 2015, 2016)
    assert report.status == "loaded" and len(report.superseded) == 1  # the 35-commune extract
    assert _counts(conn, "filosofi", 2015) == (12_227, 12_227 * 28, 4_324)
    stats = conn.execute(
        """
        select
            count(distinct code_commune),
            count(*) filter (where indicator = 'NOTE' and value = 2),
            count(*) filter (where indicator = 'TP60' and masked),
            count(*) filter (where indicator = 'PIMPOT' and value >= 0),
            count(*) filter (where masked and (value is not null or mask_code <> ''))
        from raw.census_iris_values
        where theme = 'filosofi' and vintage = 2015
        """
    ).fetchone()
    assert stats == (968, 15, 2_788, 0, 0)
    median = conn.execute(
        "select value from raw.census_iris_values where code_iris = '010040101' "
        "and indicator = 'MED' and theme = 'filosofi'"
    ).fetchone()
    assert median == (18_689.0,)


def test_crosswalk_maps_every_socio_professional_indicator(
    clean: str, conn: psycopg.Connection
) -> None:
    for name in ("base-ic-evol-struct-pop-2022_csv.zip", "base-ic-activite-residents-2022_csv.zip"):
        assert load_path(clean, FIXTURES / name).status in ("loaded", "skipped")
    with CROSSWALK.open(encoding="utf-8", newline="") as fh:
        seed = [
            (r["census_indicator_pattern"], r["pcs_version"], r["pcs_group"])
            for r in csv.DictReader(fh)
        ]
    conn.execute("create temp table crosswalk (pattern text, pcs_version text, pcs_group text)")
    with conn.cursor() as cur, cur.copy("copy crosswalk from stdin") as copy:
        for row in seed:
            copy.write_row(row)
    matches = conn.execute(
        """
        select v.vintage, v.indicator, count(c.pattern), min(c.pcs_version), max(c.pcs_version)
        from (
            select distinct vintage, indicator
            from raw.census_iris_values
            where indicator ~ '_(CS[0-9]|STAT_GSEC[0-9_]+)$'
        ) as v
        left join crosswalk as c on v.indicator ~ c.pattern
        group by v.vintage, v.indicator
        """
    ).fetchall()
    assert {vintage for vintage, *_ in matches} == {2021, 2022}
    assert len(matches) > 40
    for vintage, indicator, n, low, high in matches:
        assert n == 1, f"{indicator} ({vintage}) matches {n} crosswalk rows"
        assert low == high == ("pcs2003" if vintage <= 2021 else "pcs2020"), indicator
    groups = dict(
        conn.execute(
            """
            select c.pcs_group, sum(v.value)
            from raw.census_iris_values as v
            join crosswalk as c on v.indicator ~ c.pattern
            where v.vintage = 2022 and v.indicator like 'POP15P_%'
            group by c.pcs_group
            """
        ).fetchall()
    )
    assert len(groups) == 8
    total = conn.execute(
        "select sum(value) from raw.census_iris_values where vintage = 2022 "
        "and indicator = 'POP15P'"
    ).fetchone()
    # The 8 groups partition the 15+ population (up to the per-cell rounding of the integer
    # counts of non-irised communes: a few persons out of ~190,000).
    assert total is not None and sum(groups.values()) == pytest.approx(total[0], rel=1e-4)


def test_refusal_after_values_were_streamed_rolls_everything_back(
    clean: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """chunk_rows=10: the values of lines 2-51 are already COPYed when line 60 is
    refused; none of them may land, and the error still names the file, line and column."""
    load_path(clean, SAMPLE / "base-ic-evol-struct-pop-2021_csv.zip")
    before = _counts(conn, "population", 2021)
    path = edited_sample(tmp_path, {60: ";".join(sample_line(59))}, name="dup-chunked.zip")
    spec = spec_from_dict({"theme": "population", "vintage": 2021, "geo_year": 2023})
    with pytest.raises(SourceFormatError, match="appears twice") as refused:
        load_census_file(clean, path, spec, chunk_rows=10)
    assert "line 60" in str(refused.value) and "dup-chunked.zip" in str(refused.value)
    assert _counts(conn, "population", 2021) == before
    # The same file without the duplicate, in chunks of 7 lines: every value lands, as in one chunk.
    good = edited_sample(tmp_path, {}, name="good-chunked.zip")
    report = load_census_file(clean, good, spec, chunk_rows=7)
    assert report.status == "loaded"
    assert _counts(conn, "population", 2021) == before
    assert report.value_rows == before[1] and report.iris_rows == before[0]


def test_raw_key_refuses_a_second_value_for_the_same_cell(
    clean: str, conn: psycopg.Connection
) -> None:
    # stg_census__iris_values has no uniqueness test (61 s per national build): this index is
    # what makes (vintage, theme, code_iris, prefix, indicator) unique. A second value for a
    # loaded cell, from any batch, is refused.
    if not conn.execute("select 1 from raw.census_iris_values limit 1").fetchone():
        load_entry(clean, registry_entries(SAMPLE / "manifest.yml")[0])
    with (
        conn.transaction(force_rollback=True),
        pytest.raises(psycopg.errors.UniqueViolation, match="census_iris_values_key"),
    ):
        conn.execute(
            "insert into raw.census_iris_values (batch_id, vintage, geo_year, theme, "
            "code_iris, code_commune, prefix, indicator, value) "
            "select batch_id + 1000000, vintage, geo_year, theme, code_iris, code_commune, "
            "prefix, indicator, value + 1 from raw.census_iris_values limit 1"
        )
