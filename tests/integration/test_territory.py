"""The campaign's territory over one warehouse: the marts keep its bureaux, two campaign files give
two territories, a code that matches nothing refuses, a bureau of unknown constituency is named.

The warehouse holds the bundled sample's real 2024 législatives (no constituency column) and the
synthetic 2022 présidentielle (constituency per bureau: Brest is split between 29-02 and 29-03),
plus one 2024-layout bureau of Brest that no file locates. Expected sets are computed here from
the files themselves, not from the warehouse.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pipeline.dbt_runner import DbtOutcome, build
from tests.conftest import SAMPLE, TEST_DB, TOUR1, drop_warehouse, fresh_warehouse

PRES_2022 = SAMPLE / "elections" / "presidentielle-2022-t1-synthetic.csv"
UNLOCATED = "29019_9999"
# What the territory restricts, and the tests that must agree with it (indirect selection adds
# the territory's own tests, parents of every mart).
SELECTION = "+polling_station_results +polling_stations +election_results"
TERRITORY_TEST = "test.scrutin.assert_every_territory_code_matches_a_bureau"
UNLOCATED_TEST = "test.scrutin.assert_territory_bureaux_have_a_known_constituency"


def _constituencies_2022() -> dict[str, str]:
    """bureau_id -> `29-0N` from the 2022 file (cp1252, 2017 layout)."""
    with PRES_2022.open(encoding="cp1252", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))[1:]
    return {f"29{r[4]}_{r[6]}": f"29-{r[2]}" for r in rows}


def _bureaux_2024() -> set[str]:
    with TOUR1.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))[1:]
    return {f"{r[2]}_{int(r[4]):04d}" for r in rows}


def _campaign(tmp_path: Path, campaign_id: str, territory: str) -> Path:
    path = tmp_path / f"{campaign_id}.yml"
    path.write_text(
        f"campaign_id: {campaign_id}\nelection_date: 2027-04-11\ncampaign_start: 2026-09-01\n"
        + territory,
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from ingestion.loaders.elections import load_results_file

    name = f"{TEST_DB}_territory"
    url = fresh_warehouse(name)
    load_results_file(url, TOUR1, "2024_legi_t1")
    load_results_file(url, PRES_2022, "2022_pres_t1")
    # One more Brest bureau, in the 2024 layout (no constituency column): nothing locates it.
    lines = TOUR1.read_text(encoding="utf-8").splitlines()
    brest = next(line for line in lines if line.split(";")[2] == "29019")
    fields = brest.split(";")
    fields[4] = "9999"
    extra = tmp_path_factory.mktemp("territory") / "unlocated.csv"
    extra.write_text(lines[0] + "\n" + ";".join(fields) + "\n", encoding="utf-8")
    load_results_file(url, extra, "2099_legi_t1")
    yield url
    drop_warehouse(name)


def _build(url: str, monkeypatch: pytest.MonkeyPatch, campaign: Path, run: str) -> DbtOutcome:
    monkeypatch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(campaign))
    return build(url, f"territory-{run}", select=SELECTION)


def _mart_bureaux(url: str, table: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(f"select distinct bureau_id from mart_audit.{table}")}


def test_two_campaign_files_give_two_territories(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    located = _constituencies_2022()
    loaded = _bureaux_2024() | set(located) | {UNLOCATED}
    # 29-02: the bureaux the 2022 file puts there. Every 2024 bureau is in the 2022 file except
    # the unlocated one, which lies in Brest, a commune split between 29-02 and 29-03.
    assert {c for b, c in located.items() if b.startswith("29019_")} == {"29-02", "29-03"}
    expected_a = {b for b in loaded if located.get(b) == "29-02"}
    assert 0 < len(expected_a) < len(loaded)

    a = _campaign(tmp_path, "camp_a", "territory:\n  constituencies: ['29-2']\n")
    outcome = _build(url, monkeypatch, a, "a")
    assert outcome.success, outcome.failed
    for table in ("polling_station_results", "polling_stations", "election_results"):
        assert _mart_bureaux(url, table) == expected_a, table
    # The bureau no file locates is left out, and named by the warning test.
    status = {r.unique_id: r.status for r in outcome.results}
    assert status[UNLOCATED_TEST] == "warn"
    with psycopg.connect(url) as conn:
        unlocated = conn.execute(
            "select bureau_id from ops.assert_territory_bureaux_have_a_known_constituency"
        ).fetchall()
    assert unlocated == [(UNLOCATED,)]

    b = _campaign(tmp_path, "camp_b", "territory:\n  communes: ['29019']\n")
    outcome = _build(url, monkeypatch, b, "b")
    assert outcome.success, outcome.failed
    expected_b = {x for x in loaded if x.startswith("29019_")}
    assert _mart_bureaux(url, "polling_station_results") == expected_b
    assert UNLOCATED in expected_b  # a commune territory needs no constituency

    # Each campaign keeps its own rows: building b did not erase a's territory.
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select campaign_id, kind, code from ops.campaign_territory order by 1"
        ).fetchall()
    assert rows == [("camp_a", "constituency", "29-02"), ("camp_b", "commune", "29019")]


def test_without_a_territory_every_loaded_bureau_is_kept(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _campaign(tmp_path, "camp_a", "")
    outcome = _build(url, monkeypatch, whole, "whole")
    assert outcome.success, outcome.failed
    assert _mart_bureaux(url, "polling_station_results") == (
        _bureaux_2024() | set(_constituencies_2022()) | {UNLOCATED}
    )
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "select count(*) from ops.campaign_territory where campaign_id = 'camp_a'"
        ).fetchone() == (0,)


def test_a_code_that_matches_no_bureau_refuses_and_is_named(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.gate import _unmatched_territory

    bad = _campaign(tmp_path, "camp_c", "territory:\n  constituencies: ['29-02', '29-09']\n")
    outcome = _build(url, monkeypatch, bad, "c")
    assert not outcome.success
    assert TERRITORY_TEST in outcome.failed
    status = {r.unique_id: r.status for r in outcome.results}
    # Nothing downstream of the territory is built for a territory that is not what it says.
    assert status["model.scrutin.polling_station_results"] == "skipped"
    messages = _unmatched_territory(url)
    assert len(messages) == 1
    assert "constituency 29-09 matches no bureau" in messages[0]
    assert str(bad) in messages[0]
