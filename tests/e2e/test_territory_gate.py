"""Issue 16's promise, through the whole gate: a campaign file with a territory of one
constituency, run on a large multi-département results file loaded whole, publishes marts with
only that constituency's bureaux, and fits the ecological regression on them only.

One gate build (CI time is a budget) on 12,000 generated bureaux over every département,
overseas and abroad included, in the 2017-2022 législatives layout (each bureau carries its
constituency). The true national size (69,000 bureaux) is `benchmarks/bench_territory.py`, which
this test shares its run and its checks with; figures in benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from benchmarks.bench_territory import BUREAU_TABLES, TerritoryRun, run_territory_gate
from benchmarks.generate import generate_results
from tests.conftest import TEST_DB, drop_warehouse, fresh_warehouse

pytestmark = [pytest.mark.db, pytest.mark.slow]

BUREAUX = 12_000
CONSTITUENCY = "29-02"


@pytest.fixture(scope="module")
def territory_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TerritoryRun]]:
    name = f"{TEST_DB}_territory_gate"
    url = fresh_warehouse(name)
    workdir = tmp_path_factory.mktemp("territory-gate")
    results = workdir / "legi.csv"
    generate_results(results, "minint_2017_legi", bureaux=BUREAUX, candidates=8)
    run = run_territory_gate(url, results, "2024_legi_t1", CONSTITUENCY, workdir)
    yield url, run
    drop_warehouse(name)


def test_published_marts_hold_only_the_constituency(
    territory_run: tuple[str, TerritoryRun],
) -> None:
    url, run = territory_run
    assert run.bureaux_loaded == BUREAUX
    assert 0 < run.bureaux_expected < BUREAUX / 100
    for table in BUREAU_TABLES:
        assert run.outside[table] == 0, table
        assert run.missing[table] == 0, table
        assert run.published[table] == run.bureaux_expected, table
    with psycopg.connect(url) as conn:
        # The raw file stays whole: every bureau is in raw, only the marts are restricted.
        assert conn.execute("select count(*) from raw.election_results_bureau").fetchone() == (
            BUREAUX,
        )
        # The publication says which campaign and territory it is.
        summary = conn.execute(
            "select check_summary from ops.publication_log order by published_at desc limit 1"
        ).fetchone()
        assert summary is not None
        assert summary[0]["territory"] == f"constituency {CONSTITUENCY}"
        # Every published table keyed by commune or bureau: nothing outside département 29.
        for table in ("commune_summary", "canvass_plan"):
            outside = conn.execute(
                f"select count(*) from mart.{table} where left(code_commune, 2) <> '29'"
            ).fetchone()
            assert outside == (0,), table


def test_the_fit_reads_only_the_territory(territory_run: tuple[str, TerritoryRun]) -> None:
    _, run = territory_run
    # No census here, so the fit is skipped, but it read exactly the territory's bureaux.
    assert run.fit_rows == run.bureaux_expected


def test_abroad_and_overseas_bureaux_pass_the_gate(territory_run: tuple[str, TerritoryRun]) -> None:
    """Issue 15: a national file holds bureaux of French people abroad (ZZ) and overseas; they
    load, the raw suites and every dbt model and test accept them, and the gate publishes."""
    url, _ = territory_run
    with psycopg.connect(url) as conn:
        loaded = dict(
            conn.execute(
                "select left(code_departement, 2), count(*) from raw.election_results_bureau "
                "where code_departement in ('ZZ', '971', '974', '977', '978', '986', '988', '2A') "
                "group by 1"
            ).fetchall()
        )
        assert loaded.get("ZZ", 0) > 0 and loaded.get("97", 0) > 0 and loaded.get("98", 0) > 0
        assert loaded.get("2A", 0) > 0
        # The raw suite checked them (it ran on this batch and passed), staging and the
        # territory model carry them with their constituency, outside the campaign's territory.
        zz = conn.execute(
            "select count(*), bool_or(in_territory), min(constituency) "
            "from intermediate.int_territory__bureaux where bureau_id like 'ZZ%'"
        ).fetchone()
        assert zz is not None and zz[0] == loaded["ZZ"] and zz[1] is False
        assert zz[2].startswith("ZZ-")
        suite = conn.execute(
            "select bool_and(success), count(*) from ops.quality_results "
            "where suite like 'raw_election_%'"
        ).fetchone()
        assert suite is not None and suite[1] > 0 and suite[0] is True
