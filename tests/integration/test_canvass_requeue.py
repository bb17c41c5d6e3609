"""Canvass mappings as configuration, and `scrutin canvass requeue`, against the real warehouse.

- An export whose columns were renamed is refused, then loads after a YAML edit alone (a mapping
  folder of the test's own, through SCRUTIN_CANVASS_MAPPINGS).
- Quarantined rows are replayed once the mapping is fixed: landed once, never twice; rows that
  still fail stay quarantined with their reason; every batch still reconciles.
- A refused drop-zone file is loaded again with --force and leaves failed/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.canvass.dropzone import DropZone, process_drop_zone
from ingestion.canvass.loader import load_canvass_file
from ingestion.canvass.requeue import requeue
from ingestion.errors import SourceFormatError
from scrutin.config import CANVASS_MAPPINGS_VARIABLE, DEFAULT_CANVASS_MAPPINGS
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET, fetch

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def url() -> str:
    return support.fresh_warehouse("canvass_requeue", with_results=False)


@pytest.fixture
def mappings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> Iterator[Path]:
    """A copy of the bundled mappings the test may edit, and an empty canvass warehouse."""
    support.reset_canvass(url)
    folder = tmp_path / "mappings"
    shutil.copytree(DEFAULT_CANVASS_MAPPINGS, folder)
    monkeypatch.setenv(CANVASS_MAPPINGS_VARIABLE, str(folder))
    yield folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def renamed_export(tmp_path: Path) -> Path:
    """The Qomon fixture as a newer export writes it: `Statut` is now `Résultat`."""
    lines = support.QOMON.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines[0] = lines[0].replace(";Statut;", ";Résultat;")
    path = tmp_path / "qomon_2026-12.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def knocks(url: str) -> list[tuple[object, ...]]:
    return fetch(url, "select knock_id, line_no from raw.canvass_knocks order by line_no, batch_id")


def ledger_reconciles(url: str) -> None:
    broken = fetch(
        url,
        """
        select l.batch_id
        from raw.batch_ledger as l
        left join (
            select batch_id, count(*) as n from quarantine.canvass_rows group by batch_id
        ) as q on q.batch_id = l.batch_id
        where l.source = 'canvass' and l.status = 'loaded'
            and (l.rows_read <> l.rows_loaded + l.rows_rejected + l.rows_duplicate
                 or l.rows_rejected <> coalesce(q.n, 0))
        """,
    )
    assert broken == []


def test_renamed_columns_are_refused_then_load_after_a_yaml_edit(
    url: str, mappings: Path, tmp_path: Path
) -> None:
    export = renamed_export(tmp_path)
    with pytest.raises(SourceFormatError) as err:
        load_canvass_file(url, export, fmt="qomon", campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert err.value.line == 1 and err.value.column == "Statut"
    assert "map the new name in qomon.yml" in str(err.value)
    assert knocks(url) == []

    # The fix is configuration only: the new column name, in the mapping and its detection.
    edit(mappings / "qomon.yml", "  Statut:   ", "  Résultat: ")
    edit(mappings / "qomon.yml", "Niveau de soutien, Statut]", "Niveau de soutien, Résultat]")
    report = load_canvass_file(url, export, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert (report.status, report.source) == ("loaded", "qomon")  # detected by the new name
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (9, 7, 2)
    unknown = fetch(
        url, "select column_name from quarantine.canvass_rows where line_no = 4"
    )  # the unknown status is named by the export's own column
    assert unknown == [("Résultat",)]


def test_quarantined_rows_replay_once_after_the_fix(url: str, mappings: Path) -> None:
    # The mapping of the day does not know `Absent`: Q2, Q4, Q5 (and Q6) are quarantined.
    edit(mappings / "qomon.yml", "    not_reached: {verified: [Absent]}\n", "")
    first = load_canvass_file(url, support.QOMON, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert (first.rows_loaded, first.rows_rejected) == (4, 5)

    shutil.copy(DEFAULT_CANVASS_MAPPINGS / "qomon.yml", mappings / "qomon.yml")  # the fix
    report = requeue(url, [support.QOMON], campaign=CAMPAIGN, secret=SECRET)
    assert [r.status for r in report.replays] == ["loaded"]
    replay = report.replays[0]
    assert (replay.rows_replayed, replay.rows_loaded, replay.rows_quarantined) == (5, 3, 2)
    # Q3 (an unknown status) and Q6 (dated 2031) still fail, each with today's reason.
    assert sorted(replay.reasons.values()) == [1, 1]
    future, unknown = sorted(replay.reasons)
    assert future.startswith("Date: timestamp more than 1 h in the future")
    assert unknown.startswith("Statut: unknown qomon outcome label: expected one of: absent,")
    # The same knocks as a load under the right mapping: 7 rows, each once.
    landed = knocks(url)
    raw = support.record_ids("qomon", [f"Q{i}" for i in range(1, 12)])
    assert sorted(raw[str(k)] for k, _ in landed) == ["Q1", "Q1", "Q2", "Q4", "Q5", "Q7", "Q8"]
    assert len(set(landed)) == len(landed)
    assert fetch(
        url,
        "select count(*) filter (where replayed_batch_id is null), count(*) "
        "from quarantine.canvass_rows",
    ) == [(2, 7)]  # 5 replayed (original batch) + 2 quarantined again under the replay
    ledger_reconciles(url)

    # Twice: nothing lands twice, nothing is written, the two rows wait with their reason.
    ledger_rows = fetch(url, "select count(*) from raw.batch_ledger")
    again = requeue(url, [support.QOMON], campaign=CAMPAIGN, secret=SECRET)
    assert [(r.status, r.rows_replayed, r.rows_loaded) for r in again.replays] == [
        ("unchanged", 2, 0)
    ]
    assert again.replays[0].reasons == replay.reasons
    assert knocks(url) == landed
    assert fetch(url, "select count(*) from raw.batch_ledger") == ledger_rows
    ledger_reconciles(url)


def test_requeue_finds_the_file_in_the_drop_zone_or_says_it_is_missing(
    url: str, mappings: Path, tmp_path: Path
) -> None:
    edit(mappings / "qomon.yml", "    not_reached: {verified: [Absent]}\n", "")
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(support.QOMON, drop / support.QOMON.name)
    process_drop_zone(url, drop, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    shutil.copy(DEFAULT_CANVASS_MAPPINGS / "qomon.yml", mappings / "qomon.yml")

    elsewhere = tmp_path / "empty"
    missing = requeue(url, campaign=CAMPAIGN, secret=SECRET, zone=DropZone(elsewhere))
    assert [(r.status, r.rows_replayed) for r in missing.replays] == [("missing", 5)]
    assert missing.needs_attention

    found = requeue(url, campaign=CAMPAIGN, secret=SECRET, zone=DropZone(drop))
    assert [(r.status, r.rows_loaded) for r in found.replays] == [("loaded", 3)]


def test_force_loads_a_refused_file_once_the_mapping_is_fixed(
    url: str, mappings: Path, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(renamed_export(tmp_path), drop / "qomon_2026-12.csv")
    # Without --format the renamed header is not recognised: the delivery is refused.
    results = process_drop_zone(url, drop, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert [r.outcome for r in results] == ["failed"]
    reason = (drop / "failed" / "qomon_2026-12.csv.reason.txt").read_text()
    assert "requeue --force" in reason

    zone = DropZone(drop)
    untouched = requeue(url, campaign=CAMPAIGN, secret=SECRET, zone=zone)
    assert [(r.file_name, r.status) for r in untouched.refused_files] == [
        ("qomon_2026-12.csv", "not_forced")
    ]
    still = requeue(url, force=True, campaign=CAMPAIGN, secret=SECRET, zone=zone)
    assert [r.status for r in still.refused_files] == ["refused"]  # the cause is not fixed yet
    assert (drop / "failed" / "qomon_2026-12.csv").exists()

    edit(mappings / "qomon.yml", "  Statut:   ", "  Résultat: ")
    edit(mappings / "qomon.yml", "Niveau de soutien, Statut]", "Niveau de soutien, Résultat]")
    forced = requeue(url, force=True, campaign=CAMPAIGN, secret=SECRET, zone=zone)
    assert [(r.status, r.rows_loaded) for r in forced.refused_files] == [("loaded", 7)]
    assert not (drop / "failed" / "qomon_2026-12.csv").exists()
    assert not (drop / "failed" / "qomon_2026-12.csv.reason.txt").exists()
    assert (drop / "processed" / "qomon_2026-12.csv").exists()

    twice = requeue(url, force=True, campaign=CAMPAIGN, secret=SECRET, zone=zone)
    assert twice.refused_files == [] and twice.rows_loaded == 0
    assert len(knocks(url)) == 7
    ledger_reconciles(url)


def test_the_command_reports_in_json(url: str, mappings: Path, tmp_path: Path) -> None:
    edit(mappings / "qomon.yml", "    not_reached: {verified: [Absent]}\n", "")
    load_canvass_file(url, support.QOMON, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    shutil.copy(DEFAULT_CANVASS_MAPPINGS / "qomon.yml", mappings / "qomon.yml")
    config = tmp_path / "campaign.yml"
    config.write_text(
        f"campaign_id: {CAMPAIGN.campaign_id}\nelection_date: {CAMPAIGN.election_date}\n"
        "campaign_start: 2026-09-01\n"
    )
    env = {
        **os.environ,
        "SCRUTIN_DATABASE_URL": url,
        "SCRUTIN_CAMPAIGN_CONFIG": str(config),
        "SCRUTIN_CANVASS_SECRET": SECRET,
        "SCRUTIN_CANVASS_DROP": str(tmp_path / "drop"),
        CANVASS_MAPPINGS_VARIABLE: str(mappings),
    }
    command = [sys.executable, "-m", "pipeline.cli", "canvass", "requeue", "--json"]
    missing = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert missing.returncode == 3, missing.stderr  # BAD_INPUT: the file was not found
    assert json.loads(missing.stdout)["replays"][0]["status"] == "missing"
    done = subprocess.run(
        [*command, str(support.QOMON)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows_loaded"] == 3
    assert report["replays"][0]["status"] == "loaded"
