"""The gate's plausibility checks written as dbt tests (docs/quality.md), on real files.

A warehouse of this module's own holds the real Brest 2024 results (round 1 as `2024_legi_t1`,
round 2 as `2024_legi_t2`). Three `dbt build`s of the checks and what they read:

A. the real files: every check passes; its `polling_station_results` is then published (copied
   into `mart`, as the gate's swap does);
B. the probe's failures: round 1 replaced by the same file cut at a line boundary (the loader
   replaces the election whole), a bureau of the unknown commune 29999 in round 2, the real
   three-commune REU address sample of Finistère (Concarneau, Douarnenez, Lanneuffret) and a door
   knock in one of its bureaux, which no results file knows;
C. the REU bureau table of the 35 communes loaded too, and the loss of round 1 accepted.

Each build's outcome is asserted check by check: one build shows several checks, each either
refusing or passing for its own reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from ingestion.canvass.loader import load_canvass_file
from ingestion.loaders.elections import load_results_file
from ingestion.loaders.reu import load_reu_file
from pipeline.dbt_runner import DbtOutcome, build
from pipeline.gate import VOLUME_TEST, _lost_bureaux
from tests.conftest import SAMPLE, TOUR1, TOUR2
from tests.crafted_results import add_bureau_of_unknown_commune
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET

pytestmark = [pytest.mark.db, pytest.mark.slow]

VOLUME = "assert_published_elections_keep_their_bureaux"
COMMUNES = "assert_bureau_communes_are_known_to_the_reference"
KNOCKS = "int_canvass__knocks_bureau_has_election_results"
SELECTION = f"+{VOLUME} +{COMMUNES} +int_canvass__knocks"
CUT_AFTER_BUREAUX = 100
REU_ONLY_BUREAU = "29039_0001"  # Concarneau, in the real REU address sample, in no results file


@dataclass
class Scenario:
    url: str
    baseline: DbtOutcome
    probe: DbtOutcome
    corrected: DbtOutcome
    # What build B stored of the volume check (build C replaces it): its rows, and the lines the
    # gate's refusal adds from them.
    lost_rows: list[tuple[object, ...]]
    lost_lines: list[str]


def _build(url: str, **extra: object) -> DbtOutcome:
    return build(
        url,
        f"test-plausibility-{uuid.uuid4().hex[:8]}",
        select=SELECTION,
        indirect_selection="cautious",
        extra_vars=dict(extra) or None,
    )


def _status(outcome: DbtOutcome, test_name: str) -> str:
    (status,) = {r.status for r in outcome.results if r.unique_id.split(".")[2] == test_name}
    return status


def _cut(source: Path, target: Path, bureaux: int) -> Path:
    """The results file cut at a line boundary after `bureaux` data lines, as a transfer
    stopped mid-way leaves it: the header and whole lines, nothing to tell it is short."""
    lines = source.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join(lines[: 1 + bureaux]))
    return target


def _knock_in(bureau_id: str, folder: Path) -> Path:
    """The Qomon fixture's first knock, with the app's bureau set to `bureau_id`."""
    header, first = support.QOMON.read_text(encoding="utf-8").splitlines()[:2]
    fields = first.split(";")
    fields[12] = bureau_id
    path = folder / "qomon_reu_only.csv"
    path.write_text(f"{header}\n{';'.join(fields)}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    folder = tmp_path_factory.mktemp("plausibility")
    url = support.fresh_warehouse("plausibility")  # round 1, 201 bureaux
    load_results_file(url, TOUR2, "2024_legi_t2")

    baseline = _build(url)
    with psycopg.connect(url, autocommit=True) as conn:
        # The publication, as far as this check reads it: the gate swaps mart_audit in as mart.
        conn.execute("create schema if not exists mart")
        conn.execute(
            "create table mart.polling_station_results as "
            "select * from mart_audit.polling_station_results"
        )

    cut_file = _cut(TOUR1, folder / "circos23-tour1.csv", CUT_AFTER_BUREAUX)
    assert load_results_file(url, cut_file, "2024_legi_t1").bureau_rows == CUT_AFTER_BUREAUX
    with psycopg.connect(url, autocommit=True) as conn:
        add_bureau_of_unknown_commune(conn, "2024_legi_t2", like_bureau="29019_0001")
    load_reu_file(url, SAMPLE / "reu" / "addresses_sample.csv", "adresses")
    load_canvass_file(
        url, _knock_in(REU_ONLY_BUREAU, folder), campaign=CAMPAIGN, secret=SECRET, now=NOW
    )
    probe = _build(url)
    with psycopg.connect(url) as conn:
        lost_rows = conn.execute(f"select * from ops.{VOLUME}").fetchall()
    lost_lines = _lost_bureaux(url)

    load_reu_file(url, SAMPLE / "reu" / "table-bv-reu-synthetic.csv", "bv")
    corrected = _build(url, accepted_bureau_losses=["2024_legi_t1"])
    yield Scenario(url, baseline, probe, corrected, lost_rows, lost_lines)


def test_the_real_files_pass_every_plausibility_check(scenario: Scenario) -> None:
    for test_name in (VOLUME, COMMUNES, KNOCKS):
        assert _status(scenario.baseline, test_name) == "pass", test_name


def test_a_results_file_cut_at_a_line_boundary_is_refused_by_volume(scenario: Scenario) -> None:
    """Issue 14: the cut file replaced the election, 201 -> 100 bureaux, and was published."""
    assert VOLUME_TEST == VOLUME
    assert _status(scenario.probe, VOLUME) == "fail"
    assert f"test.scrutin.{VOLUME}" in scenario.probe.failed
    # Round 1 lost 101 of its 201 published bureaux; round 2 (a bureau more) lost none.
    ((election, published, lost, first),) = scenario.lost_rows
    assert (election, published, lost) == ("2024_legi_t1", 201, 201 - CUT_AFTER_BUREAUX)
    assert len(str(first).split(", ")) == 5
    (line,) = scenario.lost_lines
    assert line.startswith("volume: election 2024_legi_t1 lost 101 of its 201 published bureaux")
    assert "scrutin build --accept-bureau-loss 2024_legi_t1" in line


def test_an_accepted_loss_passes_for_that_build(scenario: Scenario) -> None:
    assert _status(scenario.corrected, VOLUME) == "pass"


def test_an_unknown_commune_is_refused_once_the_reference_covers_its_departement(
    scenario: Scenario,
) -> None:
    """Issue 14: commune 29999 went through. With only the real three-commune REU sample (none
    of the results' communes) nothing judges département 29, and nothing real is refused; with
    the REU bureau table of the 35 communes, 29999 is the one unknown commune."""
    assert _status(scenario.probe, COMMUNES) == "pass"
    assert _status(scenario.corrected, COMMUNES) == "fail"
    with psycopg.connect(scenario.url) as conn:
        rows = conn.execute(
            "select code_departement, code_commune, elections, bureaux, coverage "
            f"from ops.{COMMUNES}"
        ).fetchall()
    assert rows == [
        (
            "29",
            "29999",
            "2024_legi_t2",
            1,
            "35 of 36 communes of the results known to the reference",
        )
    ]


def test_a_knock_in_a_bureau_without_results_is_refused(scenario: Scenario) -> None:
    """Issue 14: a knock in a bureau no results file knows (here an REU-only bureau) only
    warned, and the bureau was published in canvass_bureau_opinion."""
    assert _status(scenario.probe, KNOCKS) == "fail"
    with psycopg.connect(scenario.url) as conn:
        counted = conn.execute(
            "select count(*) from intermediate.int_canvass__knocks where bureau_id = %s",
            (REU_ONLY_BUREAU,),
        ).fetchone()
    assert counted == (1,)
