"""The drop zone: each delivery processed once, then moved to processed/ or failed/."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.canvass.dropzone import DropZone, process_drop_zone, seed_demo_deliveries
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET, fetch

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def url() -> str:
    return support.fresh_warehouse("canvass_drop")


@pytest.fixture(autouse=True)
def _clean(url: str) -> Iterator[None]:
    support.reset_canvass(url)
    yield


def run(url: str, root: str | Path) -> list:
    return process_drop_zone(url, root, campaign=CAMPAIGN, secret=SECRET, now=NOW)


def test_deliveries_are_loaded_once_and_moved(url: str, tmp_path: Path) -> None:
    shutil.copy(support.QOMON, tmp_path / "qomon_small.csv")
    shutil.copy(support.PAP, tmp_path / "pap_small.csv")
    (tmp_path / "osdi_upload.jsonl.part").write_text("{}")  # still being written: ignored
    results = run(url, tmp_path)
    assert [(r.name, r.outcome) for r in results] == [
        ("pap_small.csv", "loaded"),
        ("qomon_small.csv", "loaded"),
    ]
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == [
        "pap_small.csv",
        "qomon_small.csv",
    ]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["osdi_upload.jsonl.part"]
    # Delivering the same file again (another name) is recorded and changes nothing.
    shutil.copy(support.QOMON, tmp_path / "qomon_again.csv")
    again = run(url, tmp_path)
    assert [(r.name, r.outcome) for r in again] == [("qomon_again.csv", "skipped")]
    assert (tmp_path / "processed" / "qomon_again.csv").exists()
    assert fetch(url, "select count(*) from raw.canvass_knocks") == [(10,)]


def test_refused_file_goes_to_failed_with_a_reason(url: str, tmp_path: Path) -> None:
    text = support.QOMON.read_text(encoding="utf-8-sig")
    (tmp_path / "qomon_excel.csv").write_text(text.replace(";", ","), encoding="utf-8")
    shutil.copy(support.ECANVASSER, tmp_path / "ecanvasser_small.csv")
    results = run(url, tmp_path)
    outcomes = {r.name: r.outcome for r in results}
    assert outcomes == {"ecanvasser_small.csv": "loaded", "qomon_excel.csv": "failed"}
    reason = (tmp_path / "failed" / "qomon_excel.csv.reason.txt").read_text()
    assert "line 1" in reason and "wrong delimiter" in reason
    assert (tmp_path / "failed" / "qomon_excel.csv").exists()
    assert fetch(
        url, "select file_name, status from raw.batch_ledger where source = 'canvass' order by 1"
    ) == [("ecanvasser_small.csv", "loaded"), ("qomon_excel.csv", "failed")]


def test_crash_between_commit_and_move_is_harmless(url: str, tmp_path: Path) -> None:
    """A file committed but not moved (worker killed) is skipped and moved by the next run."""
    from ingestion.canvass.loader import load_canvass_file

    shutil.copy(support.PAP, tmp_path / "pap_small.csv")
    load_canvass_file(url, tmp_path / "pap_small.csv", campaign=CAMPAIGN, secret=SECRET, now=NOW)
    results = run(url, tmp_path)
    assert [(r.name, r.outcome) for r in results] == [("pap_small.csv", "skipped")]
    assert fetch(url, "select count(*) from raw.canvass_knocks") == [(3,)]


def test_deliveries_load_before_any_bureau_reference(tmp_path: Path) -> None:
    """Bureaux are dbt's business (at the next build): a delivery does not wait for election
    results or REU addresses to be loaded."""
    empty = support.fresh_warehouse("canvass_drop_noref", with_results=False)
    shutil.copy(support.PAP, tmp_path / "pap_small.csv")
    assert [(r.name, r.outcome) for r in run(empty, tmp_path)] == [("pap_small.csv", "loaded")]
    assert (tmp_path / "processed" / "pap_small.csv").exists()


def test_fsspec_url_drop_zone(url: str) -> None:
    import fsspec

    root = f"memory://canvass-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{root}/osdi_small.jsonl", support.OSDI.read_bytes())
    results = run(url, root)
    assert [(r.name, r.outcome) for r in results] == [("osdi_small.jsonl", "loaded")]
    assert fs.exists(f"{root}/processed/osdi_small.jsonl")
    assert not fs.exists(f"{root}/osdi_small.jsonl")
    assert DropZone(root).deliveries() == []


def test_demo_seeding_copies_the_sample_once(tmp_path: Path) -> None:
    copied = seed_demo_deliveries(tmp_path)
    assert sorted(copied) == sorted(p.name for p in support.SAMPLE.iterdir() if p.suffix != ".md")
    assert seed_demo_deliveries(tmp_path) == []
