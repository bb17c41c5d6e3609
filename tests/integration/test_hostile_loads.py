"""Hostile files through the real loaders: the refusal names the file and line, the ledger
records the attempt, nothing is half-loaded; and a load killed mid-way leaves a record.

The readers' refusals are tested one by one in tests/unit/test_hostile_formats.py; here each
goes through its loader and the warehouse (issue 14, Build items 5 and 9).
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.census.loader import load_census_file
from ingestion.census.registry import spec_from_dict
from ingestion.errors import SourceFormatError
from ingestion.loaders.elections import load_results_file
from ingestion.loaders.reu import load_reu_file
from scrutin.config import PROJECT_ROOT, SAMPLE_DATA_DIR
from scrutin.warehouse import ledger
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import fetch

pytestmark = pytest.mark.db

RESULTS = SAMPLE_DATA_DIR / "elections" / "circos23-tour1.csv"
REU_ADDRESSES = SAMPLE_DATA_DIR / "reu" / "table-adresses-reu-synthetic.csv.gz"
CENSUS_ZIP = SAMPLE_DATA_DIR / "census" / "base-ic-evol-struct-pop-2021_csv.zip"
CENSUS_SPEC = spec_from_dict({"theme": "population", "vintage": 2021, "geo_year": 2023})


@pytest.fixture(scope="module")
def url() -> str:
    return support.fresh_warehouse("hostile_loads")


@pytest.fixture(autouse=True)
def _clean(url: str) -> Iterator[None]:
    support.reset_canvass(url)
    yield


def _last_ledger(url: str, file_name: str) -> tuple[object, ...]:
    (row,) = fetch(
        url,
        "select status, error, rows_loaded from raw.batch_ledger where file_name = %s "
        "order by batch_id desc limit 1",
        (file_name,),
    )
    return row


def test_a_nul_byte_in_a_results_file_is_refused_on_its_line(url: str, tmp_path: Path) -> None:
    """Before: PostgreSQL refused the COPY (`DataError: ... NUL (0x00) bytes`): no file, no line."""
    lines = RESULTS.read_bytes().splitlines(keepends=True)
    lines[4] = lines[4][:3] + b"\x00" + lines[4][3:]
    path = tmp_path / "circos23-nul.csv"
    path.write_bytes(b"".join(lines))
    before = fetch(url, "select count(*) from raw.election_results_bureau")
    with pytest.raises(SourceFormatError, match=r"circos23-nul.csv, line 5, column '.+': NUL"):
        load_results_file(url, path, "2024_legi_t1")
    status, error, loaded = _last_ledger(url, path.name)
    assert (status, loaded) == ("failed", 0)
    assert "line 5" in str(error) and "NUL byte" in str(error)
    assert fetch(url, "select count(*) from raw.election_results_bureau") == before


def test_a_long_line_is_refused_through_the_loader(url: str, tmp_path: Path) -> None:
    head = RESULTS.read_bytes().splitlines(keepends=True)
    path = tmp_path / "circos23-long.csv"
    with path.open("wb") as fh:
        fh.write(b"".join(head[:3]))
        for _ in range(3):
            fh.write(b"x" * (1 << 20))
        fh.write(b"\n" + b"".join(head[3:]))
    with pytest.raises(SourceFormatError, match="line 4: line longer than"):
        load_results_file(url, path, "2024_legi_t1")
    status, error, _ = _last_ledger(url, path.name)
    assert status == "failed" and "circos23-long.csv, line 4" in str(error)


def test_a_truncated_gzip_is_refused_as_truncated(url: str, tmp_path: Path) -> None:
    """Before: `EOFError: Compressed file ended before the end-of-stream marker` in the ledger."""
    data = REU_ADDRESSES.read_bytes()
    path = tmp_path / "table-adresses-cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match="truncated or corrupt compressed file"):
        load_reu_file(url, path)
    status, error, _ = _last_ledger(url, path.name)
    assert status == "failed"
    assert str(error).startswith("table-adresses-cut.csv.gz, line ")
    assert "truncated or corrupt" in str(error)

    census = tmp_path / "base-ic-evol-struct-pop-2021.csv.gz"
    with zipfile.ZipFile(CENSUS_ZIP) as archive:
        (member,) = [n for n in archive.namelist() if not n.startswith("meta_")]
        packed = gzip.compress(archive.read(member))
    census.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(SourceFormatError, match="truncated or corrupt compressed file"):
        load_census_file(url, census, CENSUS_SPEC)
    assert _last_ledger(url, census.name)[0] == "failed"


def test_an_empty_census_zip_is_named(url: str, tmp_path: Path) -> None:
    path = tmp_path / "base-ic-evol-struct-pop-2021_csv.zip"
    zipfile.ZipFile(path, "w").close()
    with pytest.raises(SourceFormatError, match="holds no file"):
        load_census_file(url, path, CENSUS_SPEC)
    status, error, _ = _last_ledger(url, path.name)
    assert status == "failed" and str(error).startswith(path.name + ": the zip holds no file")


def test_a_year_0001_timestamp_quarantines_its_row_and_loads_the_rest(
    url: str, tmp_path: Path
) -> None:
    """Before: `OverflowError: date value out of range` refused the whole export."""
    from ingestion.canvass.loader import load_canvass_file

    lines = support.QOMON.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    assert lines[2].startswith("Q2;2026-11-02 18:00:00;")
    lines[2] = lines[2].replace("2026-11-02 18:00:00", "0001-01-01 00:00:00")
    lines[5] = lines[5].replace(lines[5].split(";")[1], "1970-01-01 00:00:00", 1)
    path = tmp_path / "qomon_year1.csv"
    path.write_text("".join(lines), encoding="utf-8")
    reference = load_canvass_file(
        url, support.QOMON, campaign=support.CAMPAIGN, secret=support.SECRET, now=support.NOW
    )
    support.reset_canvass(url)
    report = load_canvass_file(
        url, path, campaign=support.CAMPAIGN, secret=support.SECRET, now=support.NOW
    )
    assert report.status == "loaded"
    assert report.rows_loaded == reference.rows_loaded - 2
    assert report.rows_rejected == reference.rows_rejected + 2
    quarantined = fetch(
        url,
        "select line_no, column_name, reason from quarantine.canvass_rows "
        "where reason like 'implausible timestamp%%' order by line_no",
    )
    assert [(q[0], q[1]) for q in quarantined] == [(3, "Date"), (6, "Date")]
    # The reason says why, never what else the row held.
    assert all("Q2" not in str(q[2]) and "Siam" not in str(q[2]) for q in quarantined)
    assert _last_ledger(url, path.name)[0] == "loaded"


# ---- killed loads --------------------------------------------------------------------------

_KILLED_LOAD = textwrap.dedent(
    """
    import sys, time
    from ingestion.loaders import elections

    copy = elections._copy_file

    def slow_copy(conn, job, run, batch_id):
        copy(conn, job, run, batch_id)  # the rows are written, the transaction still open
        print("copied", batch_id, flush=True)
        time.sleep(120)

    elections._copy_file = slow_copy
    elections.load_results_file(sys.argv[1], sys.argv[2], "2024_legi_t1")
    """
)


def _new_version(tmp_path: Path) -> Path:
    """The tour-1 file with other bytes (a trailing blank line): a new version to load."""
    path = tmp_path / RESULTS.name
    path.write_bytes(RESULTS.read_bytes() + b"\n")
    return path


def test_a_load_killed_mid_way_leaves_a_record_marked_abandoned(url: str, tmp_path: Path) -> None:
    """Before: the ledger row was written in the load transaction, so `kill -9` left no trace."""
    with_data = fetch(url, "select count(*), max(batch_id) from raw.election_results_bureau")
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_LOAD, url, str(_new_version(tmp_path))],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # blocks until the COPY is done, mid-transaction
        assert line.startswith("copied"), line
        batch_id = int(line.split()[1])
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    # The server may take a moment to notice the dead session and release its lock.
    deadline = time.monotonic() + 20
    while fetch(
        url,
        "select count(*) from pg_locks where locktype = 'advisory' and objid = %s and classid = %s",
        (batch_id, ledger.ATTEMPT_LOCK_CLASS),
    )[0][0]:
        assert time.monotonic() < deadline, "the killed load's lock was never released"
        time.sleep(0.2)

    (row,) = fetch(
        url, "select status, file_name from raw.batch_ledger where batch_id = %s", (batch_id,)
    )
    assert row == ("loading", RESULTS.name)  # the attempt is on record, its data is not
    assert fetch(url, "select count(*), max(batch_id) from raw.election_results_bureau") == (
        with_data
    )

    # `scrutin status` marks it; so does the next load (tested through the sweep they share).
    from pipeline.cli import main

    env = {"SCRUTIN_DATABASE_URL": url}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        assert main(["status", "--json"]) == 0
    status, error = fetch(
        url, "select status, error from raw.batch_ledger where batch_id = %s", (batch_id,)
    )[0]
    assert status == "abandoned"
    assert "load the file again" in str(error)


def test_a_live_load_is_never_marked_abandoned(url: str, tmp_path: Path) -> None:
    from scrutin.db import connect

    with connect(url) as owner, connect(url) as other:
        attempt = ledger.open_attempt(owner, "test", "live.csv", "0" * 64, None)
        assert ledger.mark_abandoned(other) == []
        assert fetch(
            url, "select status from raw.batch_ledger where batch_id = %s", (attempt,)
        ) == [("loading",)]
        ledger.close_attempt(owner, attempt)
        assert ledger.mark_abandoned(other) == [attempt]


def test_every_outcome_is_one_ledger_row_per_attempt(url: str, tmp_path: Path) -> None:
    """The `loading` row becomes the outcome: no extra row for a load, a skip or a failure."""
    before = fetch(url, "select coalesce(max(batch_id), 0) from raw.batch_ledger")[0][0]
    first = load_results_file(url, _new_version(tmp_path), "2024_legi_t1")
    again = load_results_file(url, _new_version(tmp_path), "2024_legi_t1")
    rows = fetch(
        url,
        "select batch_id, status from raw.batch_ledger where batch_id > %s order by batch_id",
        (before,),
    )
    assert [r[1] for r in rows] == ["loaded", "skipped"]
    assert [r[0] for r in rows] == [first.batch_id, again.batch_id]
    assert fetch(url, "select count(*) from raw.batch_ledger where status = 'loading'") == [(0,)]


# ---- examples copied into ops ----------------------------------------------------------------


def test_failed_canvass_check_examples_reach_ops_keyed_never_verbatim(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: a raw value a check found (here an e-mail typed as a canvasser id) was copied
    verbatim into ops.quality_results and, through the check's description, into
    ops.gate_runs.failed_checks, ops.publication_log and the alerts."""
    from expectations.checkpoint import run_suites
    from expectations.suites_canvass import RAW_SUITES
    from ingestion.canvass.loader import load_canvass_file
    from scrutin.config import data_docs_dir
    from scrutin.db import connect

    monkeypatch.setenv("SCRUTIN_CANVASS_SECRET", support.SECRET)
    load_canvass_file(
        url, support.QOMON, campaign=support.CAMPAIGN, secret=support.SECRET, now=support.NOW
    )
    email = "maelle.kerbrat@example.org"
    with connect(url, autocommit=True) as conn:
        conn.execute(
            "update raw.canvass_knocks set canvasser_key = %s where knock_id = %s",
            (email, support.kid("qomon", "Q1")),
        )
    outcome = run_suites(url, RAW_SUITES, "hostile_examples")
    failed = "\n".join(outcome.failed_checks)
    assert "expect_column_values_to_match_regex(canvasser_key)" in failed
    assert email not in failed
    stored = fetch(
        url, "select observed::text from ops.quality_results where run_id = 'hostile_examples'"
    )
    assert stored and not any(email in str(row[0]) for row in stored)
    # Nor in the Data Docs GX writes beside them.
    pages = list((data_docs_dir() / "validations" / "raw_canvass_knocks").rglob("*.html"))
    assert pages and not any(email in p.read_text(encoding="utf-8") for p in pages)
