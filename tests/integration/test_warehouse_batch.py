"""The batch-load template against a real PostgreSQL, through a toy source: a CSV of
`commune,value` lines COPYed into a scratch table. What every real source inherits is tested
here once: skip identical, replace by dataset or by commune, all or nothing, the failure record,
serialisation, and the clear refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from scrutin.warehouse.batch import (
    Batch,
    BatchLoad,
    BatchReport,
    Landed,
    ReplaceCommunes,
    ReplaceDataset,
    Scope,
    load_batch,
    skip_if_loaded,
)
from tests.conftest import TEST_DB, drop_warehouse, fresh_warehouse
from tests.integration.test_warehouse_migrate import run_twice_at_once

pytestmark = pytest.mark.db

BATCH_DB = f"{TEST_DB}_batch"
TOY = "public.toy_rows"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    url = fresh_warehouse(BATCH_DB)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"create table {TOY} (batch_id bigint not null, dataset text not null, "
            "code_commune text not null, value integer not null)"
        )
    yield url
    drop_warehouse(BATCH_DB)


@pytest.fixture
def conn(url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"truncate {TOY}")
        c.execute("truncate raw.batch_ledger cascade")
        yield c


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


class _Toy:
    """The toy source: its parser (fails on a non-numeric value) and its COPY."""

    def __init__(
        self, path: Path, dataset: str, *, fail_at: int | None = None, pause: float = 0.0
    ) -> None:
        self.path, self.dataset, self.fail_at, self.pause = path, dataset, fail_at, pause
        self.communes: set[str] = set()

    def land(self, conn: psycopg.Connection, batch: Batch) -> Landed:
        batch_id = batch.begin(conn)
        conn.execute("select pg_sleep(%s)", (self.pause,))  # a long load, for the lock test
        lines = self.path.read_text(encoding="utf-8").splitlines()
        with conn.cursor() as cur, cur.copy(f"copy {TOY} from stdin") as copy:
            for number, line in enumerate(lines, start=1):
                if number == self.fail_at:
                    raise ValueError(f"{self.path.name}, line {number}: not a toy row")
                commune, value = line.split(",")
                copy.write_row((batch_id, self.dataset, commune, int(value)))
                self.communes.add(commune)
                batch.run.count()
        return Landed(len(lines), len(lines), communes=self.communes)


def _load(
    url_or_conn: str | psycopg.Connection,
    path: Path,
    *,
    dataset: str = "d1",
    scope: Scope | None = None,
    fail_at: int | None = None,
    force: bool = False,
    pause: float = 0.0,
) -> BatchReport:
    toy = _Toy(path, dataset, fail_at=fail_at, pause=pause)
    load = BatchLoad(
        source="toy",
        path=path,
        dataset_key=dataset,
        label=f"{path.name} as {dataset}",
        scope=scope or ReplaceDataset((TOY,), "dataset = %s", (dataset,)),
        force=force,
    )
    return load_batch(url_or_conn, load, toy.land, caller="toy_load")


def _ledger(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "select dataset_key, status, rows_read, rows_loaded, rows_rejected, error "
        "from raw.batch_ledger where source = 'toy' order by batch_id"
    ).fetchall()


def _rows(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        f"select dataset, code_commune, value from {TOY} order by 1, 2, 3"
    ).fetchall()


def test_load_then_identical_file_is_skipped_without_touching_the_rows(
    conn: psycopg.Connection, url: str, tmp_path: Path
) -> None:
    path = _write(tmp_path / "a.csv", "29019,1", "29020,2")
    first = _load(url, path)
    assert (first.status, first.loaded_batch_id) == ("loaded", first.batch_id)
    again = _load(url, path)
    assert (again.status, again.loaded_batch_id, again.sha256) == (
        "skipped",
        first.batch_id,
        first.sha256,
    )
    assert again.batch_id > first.batch_id
    assert _ledger(conn) == [
        ("d1", "loaded", 2, 2, 0, None),
        ("d1", "skipped", 0, 0, 0, None),
    ]
    assert _rows(conn) == [("d1", "29019", 1), ("d1", "29020", 2)]
    forced = _load(url, path, force=True)
    assert forced.status == "loaded" and forced.superseded == (first.batch_id,)


def test_a_new_version_replaces_its_dataset_only(
    conn: psycopg.Connection, url: str, tmp_path: Path
) -> None:
    first = _load(url, _write(tmp_path / "a.csv", "29019,1"), dataset="d1")
    other = _load(url, _write(tmp_path / "b.csv", "29019,5"), dataset="d2")
    second = _load(url, _write(tmp_path / "c.csv", "29020,3"), dataset="d1")
    assert second.superseded == (first.batch_id,)
    assert _rows(conn) == [("d1", "29020", 3), ("d2", "29019", 5)]
    statuses = conn.execute(
        "select batch_id, status from raw.batch_ledger where source = 'toy' order by batch_id"
    ).fetchall()
    assert statuses == [
        (first.batch_id, "superseded"),
        (other.batch_id, "loaded"),
        (second.batch_id, "loaded"),
    ]


def test_replace_by_commune_keeps_other_communes_and_supersedes_emptied_batches(
    conn: psycopg.Connection, url: str, tmp_path: Path
) -> None:
    by_commune = ReplaceCommunes((TOY,))
    two = _load(url, _write(tmp_path / "a.csv", "29019,1", "29020,2"), scope=by_commune)
    one = _load(url, _write(tmp_path / "b.csv", "29020,9"), scope=by_commune)
    assert (one.rows_replaced, one.superseded) == (1, ())  # batch `two` still holds 29019
    assert _rows(conn) == [("d1", "29019", 1), ("d1", "29020", 9)]
    last = _load(url, _write(tmp_path / "c.csv", "29019,7"), scope=by_commune)
    assert (last.rows_replaced, last.superseded) == (1, (two.batch_id,))
    assert _rows(conn) == [("d1", "29019", 7), ("d1", "29020", 9)]


def test_a_failure_rolls_back_keeps_the_previous_version_and_is_recorded(
    conn: psycopg.Connection, url: str, tmp_path: Path
) -> None:
    _load(url, _write(tmp_path / "a.csv", "29019,1"))
    broken = _write(tmp_path / "b.csv", "29019,2", "29020,3", "29021,4")
    with pytest.raises(ValueError, match="line 3: not a toy row"):
        _load(url, broken, fail_at=3)
    assert _rows(conn) == [("d1", "29019", 1)]
    error = "ValueError: b.csv, line 3: not a toy row"
    assert _ledger(conn)[-1] == ("d1", "failed", 2, 0, 2, error)
    assert [s for _, s, *_ in _ledger(conn)] == ["loaded", "failed"]


def test_a_callers_connection_must_be_idle_and_is_committed_to(
    conn: psycopg.Connection, url: str, tmp_path: Path
) -> None:
    path = _write(tmp_path / "a.csv", "29019,1")
    with psycopg.connect(url) as mine:
        mine.execute("select 1")  # opens a transaction
        with pytest.raises(ValueError, match="toy_load commits its own transactions"):
            _load(mine, path)
        mine.rollback()
        assert _load(mine, path).status == "loaded"
    assert _rows(conn) == [("d1", "29019", 1)]


def test_nothing_to_load_writes_no_ledger_row(conn: psycopg.Connection, url: str) -> None:
    load = BatchLoad(source="toy", path="computed", dataset_key="d1", label="toy", sha256="f" * 64)
    report = load_batch(url, load, lambda c, b: Landed(0, 0), caller="toy_load")
    assert (report.status, report.batch_id, report.loaded_batch_id) == ("empty", 0, None)
    assert _ledger(conn) == []


def test_skip_if_loaded_records_a_skip_only_for_known_content(
    conn: psycopg.Connection, url: str, tmp_path: Path
) -> None:
    path = _write(tmp_path / "a.csv", "29019,1")
    first = _load(url, path)
    known = BatchLoad(source="toy", path="a.csv", dataset_key="d1", label="a", sha256=first.sha256)
    unknown = BatchLoad(source="toy", path="a.csv", dataset_key="d1", label="a", sha256="e" * 64)
    assert skip_if_loaded(url, unknown, caller="toy") is None
    skipped = skip_if_loaded(url, known, caller="toy")
    assert skipped is not None and skipped.loaded_batch_id == first.batch_id
    assert [s for _, s, *_ in _ledger(conn)] == ["loaded", "skipped"]


def test_two_concurrent_loads_of_one_dataset_are_serialised(
    conn: psycopg.Connection, url: str, tmp_path: Path
) -> None:
    """The lock makes the second load wait, then see the first's batch and skip."""
    path = _write(tmp_path / "a.csv", *(f"{29000 + i},{i}" for i in range(20)))
    outcomes = run_twice_at_once(lambda: _load(url, path, pause=0.5).status)
    assert sorted(map(str, outcomes)) == ["loaded", "skipped"]
    assert conn.execute(f"select count(*) from {TOY}").fetchone() == (20,)


def test_a_source_that_learns_its_dataset_from_the_file(
    conn: psycopg.Connection, url: str, tmp_path: Path
) -> None:
    """The canvass shape: the app (the dataset) is known once the file is opened, the same
    bytes are skipped whatever the app, and an upsert counts duplicates."""

    def find_by_content(c: psycopg.Connection, batch: Batch) -> int | None:
        row = c.execute(
            "select batch_id, dataset_key from raw.batch_ledger where source = 'toy' "
            "and file_sha256 = %s and status = 'loaded'",
            (batch.run.sha256,),
        ).fetchone()
        if row is None:
            return None
        batch.dataset_key = row[1]
        return int(row[0])

    def land(c: psycopg.Connection, batch: Batch) -> Landed:
        app, *rows = Path(batch.run.load.path).read_text(encoding="utf-8").splitlines()
        batch.dataset_key = app
        batch.begin(c)
        if "boom" in rows:
            raise ValueError("boom")
        return Landed(len(rows), len(set(rows)), rows_duplicate=len(rows) - len(set(rows)))

    def load(path: Path) -> BatchReport:
        spec = BatchLoad(
            source="toy", path=path, dataset_key=None, label=path.name, find_loaded=find_by_content
        )
        return load_batch(url, spec, land, caller="toy_upsert")

    first = load(_write(tmp_path / "a.csv", "qomon", "k1", "k2", "k1"))
    again = load(tmp_path / "a.csv")
    assert (first.status, again.status, again.loaded_batch_id) == (
        "loaded",
        "skipped",
        first.batch_id,
    )
    with pytest.raises(ValueError, match="boom"):
        load(_write(tmp_path / "b.csv", "pap", "k1", "boom"))
    ledger = conn.execute(
        "select dataset_key, status, rows_read, rows_loaded, rows_duplicate "
        "from raw.batch_ledger where source = 'toy' order by batch_id"
    ).fetchall()
    assert ledger == [
        ("qomon", "loaded", 3, 2, 1),
        ("qomon", "skipped", 0, 0, 0),
        ("pap", "failed", 0, 0, 0),
    ]
