"""Loading results files into `raw`: counts, idempotence, replacement, all-or-nothing failures.

Every test uses its own throw-away election id (`2099_t<random>_t1`) and deletes its rows and
ledger entries afterwards: the session database is shared with other modules that load the
sample files as `2024_legi_t1` / `2024_legi_t2`, which these tests never touch.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingestion.errors import SourceFormatError
from ingestion.loaders import elections as loader
from ingestion.loaders.elections import LoadReport, load_results_file
from tests.conftest import TOUR1, TOUR2
from tests.integration.conftest import purge_elections

pytestmark = pytest.mark.db

NewId = Callable[[], str]


@pytest.fixture
def new_election_id(conn: psycopg.Connection) -> Iterator[NewId]:
    """Hands out unique test election ids and removes everything loaded under them."""
    issued: list[str] = []

    def make() -> str:
        election_id = f"2099_t{uuid.uuid4().hex[:10]}_t1"
        issued.append(election_id)
        return election_id

    yield make
    purge_elections(conn, issued)


def _one(conn: psycopg.Connection, sql: str, *params: Any) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def _bureau_stats(conn: psycopg.Connection, election_id: str) -> tuple[int, ...]:
    return _one(
        conn,
        "select count(*), coalesce(sum(inscrits), 0), coalesce(sum(votants), 0), "
        "coalesce(sum(abstentions), 0), coalesce(sum(exprimes), 0), coalesce(sum(blancs), 0), "
        "coalesce(sum(nuls), 0) from raw.election_results_bureau where election_id = %s",
        election_id,
    )


def _candidate_count(conn: psycopg.Connection, election_id: str) -> int:
    return _one(
        conn,
        "select count(*) from raw.election_results_candidate where election_id = %s",
        election_id,
    )


def _ledger(conn: psycopg.Connection, election_id: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select batch_id, status, rows_read, rows_loaded, error, finished_at "
        "from raw.batch_ledger where dataset_key = %s order by batch_id",
        (election_id,),
    ).fetchall()


def _corrupt_copy(tmp_path: Path, line: int = 150, value: str = "abc") -> Path:
    """tour1 with `Votants` of one data line replaced (tour1 has no quotes: split is exact)."""
    lines = TOUR1.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = lines[line - 1].rstrip("\n").split(";")
    fields[6] = value
    lines[line - 1] = ";".join(fields) + "\n"
    path = tmp_path / "circos23-tour1.csv"
    path.write_text("".join(lines), encoding="utf-8")
    return path


TOUR1_STATS = (201, 172019, 123580, 48439, 120586, 2580, 414)
TOUR2_STATS = (201, 172053, 123363, 48690, 118213, 4625, 525)


def test_load_tour1_lands_every_bureau_and_candidate(
    warehouse_url: str, conn: psycopg.Connection, new_election_id: NewId
) -> None:
    eid = new_election_id()
    report = load_results_file(warehouse_url, TOUR1, eid)

    assert report.status == "loaded"
    assert (report.rows_read, report.bureau_rows, report.candidate_rows) == (201, 201, 1798)
    assert report.rows_rejected == 0
    assert report.loaded_batch_id == report.batch_id
    assert _bureau_stats(conn, eid) == TOUR1_STATS
    assert _candidate_count(conn, eid) == 1798
    assert (
        _one(
            conn,
            "select sum(voix) from raw.election_results_candidate "
            "where election_id = %s and nom = 'CADALEN'",
            eid,
        )
        == 18850
    )
    assert (
        _one(
            conn,
            "select count(distinct batch_id) || ':' || min(batch_id) "
            "from raw.election_results_bureau where election_id = %s",
            eid,
        )
        == f"1:{report.batch_id}"
    )
    assert _one(
        conn,
        "select code_bv || '|' || source_line from raw.election_results_bureau "
        "where election_id = %s and bureau_id = '29019_0104'",
        eid,
    ).startswith("0104|")
    (batch,) = _ledger(conn, eid)
    assert batch[:5] == (report.batch_id, "loaded", 201, 201, None)
    assert (
        _one(
            conn,
            "select source || ' ' || file_name || ' ' || file_sha256 from raw.batch_ledger "
            "where batch_id = %s",
            report.batch_id,
        )
        == f"elections circos23-tour1.csv {report.sha256}"
    )


def test_loading_the_same_file_again_changes_nothing(
    warehouse_url: str, conn: psycopg.Connection, new_election_id: NewId
) -> None:
    eid = new_election_id()
    first = load_results_file(warehouse_url, TOUR1, eid)
    before = _ledger(conn, eid)

    again = load_results_file(warehouse_url, TOUR1, eid)

    assert again.status == "skipped"
    assert again.loaded_batch_id == first.batch_id
    assert again.rows_read == again.bureau_rows == again.candidate_rows == 0
    assert _bureau_stats(conn, eid) == TOUR1_STATS
    assert _candidate_count(conn, eid) == 1798
    assert (
        _one(
            conn,
            "select count(*) from raw.election_results_bureau "
            "where election_id = %s and batch_id <> %s",
            eid,
            first.batch_id,
        )
        == 0
    )
    after = _ledger(conn, eid)
    assert after[0] == before[0]  # the loaded batch is untouched (status, counts, finished_at)
    assert [(b[0], b[1]) for b in after[1:]] == [(again.batch_id, "skipped")]


def test_second_round_loads_beside_the_first(
    warehouse_url: str, conn: psycopg.Connection, new_election_id: NewId
) -> None:
    eid1, eid2 = new_election_id(), new_election_id()
    load_results_file(warehouse_url, TOUR1, eid1)
    report = load_results_file(warehouse_url, TOUR2, eid2)

    assert (report.status, report.candidate_rows) == ("loaded", 497)
    assert _bureau_stats(conn, eid2) == TOUR2_STATS
    assert _bureau_stats(conn, eid1) == TOUR1_STATS
    assert (
        _one(
            conn,
            "select count(*) filter (where elu) from raw.election_results_candidate "
            "where election_id = %s",
            eid2,
        )
        == 201
    )
    same_bureaux = _one(
        conn,
        "select count(*) from raw.election_results_bureau a "
        "join raw.election_results_bureau b using (bureau_id) "
        "where a.election_id = %s and b.election_id = %s",
        eid1,
        eid2,
    )
    assert same_bureaux == 201


def test_same_file_under_another_election_id_is_loaded(
    warehouse_url: str, new_election_id: NewId
) -> None:
    """Idempotence is per (file, election): the sha alone does not skip."""
    assert load_results_file(warehouse_url, TOUR1, new_election_id()).status == "loaded"
    assert load_results_file(warehouse_url, TOUR1, new_election_id()).status == "loaded"


def test_corrupted_file_loads_nothing_and_records_the_failure(
    warehouse_url: str, conn: psycopg.Connection, new_election_id: NewId, tmp_path: Path
) -> None:
    eid = new_election_id()
    bad = _corrupt_copy(tmp_path, line=150)

    # chunk_rows=50: lines 2..101 are already COPYed when line 150 is refused.
    with pytest.raises(SourceFormatError) as info:
        load_results_file(warehouse_url, bad, eid, chunk_rows=50)

    assert (info.value.line, info.value.column) == (150, "Votants")
    assert _bureau_stats(conn, eid) == (0, 0, 0, 0, 0, 0, 0)
    assert _candidate_count(conn, eid) == 0
    ((_, status, rows_read, rows_loaded, error, finished_at),) = _ledger(conn, eid)
    assert (status, rows_read, rows_loaded) == ("failed", 148, 0)
    assert "line 150, column 'Votants'" in error
    assert "got 'abc'" in error
    assert finished_at is not None


def test_failed_new_version_keeps_the_previous_one(
    warehouse_url: str, conn: psycopg.Connection, new_election_id: NewId, tmp_path: Path
) -> None:
    eid = new_election_id()
    good = load_results_file(warehouse_url, TOUR1, eid)

    with pytest.raises(SourceFormatError):
        load_results_file(warehouse_url, _corrupt_copy(tmp_path, value="-1"), eid, chunk_rows=50)

    assert _bureau_stats(conn, eid) == TOUR1_STATS
    assert _candidate_count(conn, eid) == 1798
    ledger = _ledger(conn, eid)
    assert [b[1] for b in ledger] == ["loaded", "failed"]
    assert ledger[0][0] == good.batch_id


def test_new_version_replaces_the_old_rows(
    warehouse_url: str, conn: psycopg.Connection, new_election_id: NewId, tmp_path: Path
) -> None:
    eid = new_election_id()
    first = load_results_file(warehouse_url, TOUR1, eid)
    lines = TOUR1.read_text(encoding="utf-8").splitlines(keepends=True)
    revised = tmp_path / "circos23-tour1-revised.csv"
    revised.write_text("".join(lines[:-1]), encoding="utf-8")  # one bureau fewer

    second = load_results_file(warehouse_url, revised, eid)

    assert second.status == "loaded"
    assert second.superseded == (first.batch_id,)
    assert (
        _one(
            conn,
            "select count(*) from raw.election_results_bureau where election_id = %s",
            eid,
        )
        == 200
    )
    assert (
        _one(
            conn,
            "select count(*) from raw.election_results_bureau "
            "where election_id = %s and batch_id <> %s",
            eid,
            second.batch_id,
        )
        == 0
    )
    assert [(b[0], b[1]) for b in _ledger(conn, eid)] == [
        (first.batch_id, "superseded"),
        (second.batch_id, "loaded"),
    ]

    # Going back to the original file is a new load, not a skip: its batch was superseded.
    third = load_results_file(warehouse_url, TOUR1, eid)
    assert (third.status, third.superseded) == ("loaded", (second.batch_id,))
    assert _bureau_stats(conn, eid) == TOUR1_STATS


def test_database_error_rolls_back_and_is_recorded(
    warehouse_url: str,
    conn: psycopg.Connection,
    new_election_id: NewId,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bureau COPY succeeds, the candidate COPY fails: nothing of the file may remain."""
    eid = new_election_id()
    monkeypatch.setattr(
        loader, "_CANDIDATE_COPY", loader._CANDIDATE_COPY.replace("elu)", "no_such_column)")
    )

    with pytest.raises(psycopg.errors.UndefinedColumn):
        load_results_file(warehouse_url, TOUR1, eid)

    assert _bureau_stats(conn, eid)[0] == 0
    ((_, status, _, _, error, _),) = _ledger(conn, eid)
    assert status == "failed"
    assert error.startswith("UndefinedColumn: ")


def test_header_only_file_does_not_wipe_the_election(
    warehouse_url: str, conn: psycopg.Connection, new_election_id: NewId, tmp_path: Path
) -> None:
    eid = new_election_id()
    load_results_file(warehouse_url, TOUR1, eid)
    empty = tmp_path / "circos23-tour1.csv"
    empty.write_text(TOUR1.read_text(encoding="utf-8").splitlines(keepends=True)[0])

    with pytest.raises(SourceFormatError, match="no data row"):
        load_results_file(warehouse_url, empty, eid)

    assert _bureau_stats(conn, eid) == TOUR1_STATS


@pytest.mark.parametrize("bad_id", ["2024-legi-1", "2024_LEGI_t1", "2024_legi_t3", "legi_t1", ""])
def test_invalid_election_id_is_refused_before_anything_is_written(
    warehouse_url: str, conn: psycopg.Connection, bad_id: str
) -> None:
    with pytest.raises(ValueError, match="election_id"):
        load_results_file(warehouse_url, TOUR1, bad_id)
    assert _one(conn, "select count(*) from raw.batch_ledger where dataset_key = %s", bad_id) == 0


def test_caller_connection_is_accepted_when_idle(
    conn: psycopg.Connection, new_election_id: NewId
) -> None:
    eid = new_election_id()
    assert load_results_file(conn, TOUR2, eid).status == "loaded"
    assert _bureau_stats(conn, eid) == TOUR2_STATS


def test_connection_inside_a_transaction_is_refused(
    warehouse_url: str, new_election_id: NewId
) -> None:
    """The load must commit, and its failure record must commit on its own."""
    with psycopg.connect(warehouse_url) as busy:
        busy.execute("select 1")
        with pytest.raises(ValueError, match="no transaction open"):
            load_results_file(busy, TOUR1, new_election_id())


def test_concurrent_loads_of_one_election_do_not_duplicate(
    warehouse_url: str, conn: psycopg.Connection, new_election_id: NewId
) -> None:
    eid = new_election_id()
    start = threading.Barrier(2)
    reports: list[LoadReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            reports.append(load_results_file(warehouse_url, TOUR1, eid))
        except BaseException as exc:  # surfaced below, in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert sorted(r.status for r in reports) == ["loaded", "skipped"]
    assert _bureau_stats(conn, eid) == TOUR1_STATS


def test_progress_and_summary_are_logged(
    warehouse_url: str, new_election_id: NewId, caplog: pytest.LogCaptureFixture
) -> None:
    eid = new_election_id()
    with caplog.at_level(logging.INFO, logger="scrutin.ingestion.elections"):
        load_results_file(warehouse_url, TOUR1, eid)
    messages = [r.getMessage() for r in caplog.records if r.name == "scrutin.ingestion.elections"]
    assert any(f"as {eid} loaded" in m and "201 bureaux" in m for m in messages)
