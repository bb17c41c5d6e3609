"""The hostile corpus (tests/hostile/corpus.py) through each source's loader, on a real warehouse.

For every crafted file the loader must answer as a data engineer needs it to:
- refused: the error names the file, and the line and column where they apply; not one row of
  any `raw` or `quarantine` table changed (no partial load); a `failed` ledger row records the
  attempt with the same error;
- quarantined: the file loads, and the bad row sits in quarantine under its line and column;
- loaded: a correct file (the CRS member after `features`) is not refused.
Roll errors and quarantine reasons must never quote a value of the roll (personal data).

The module runs on a warehouse of its own (`<test db>_hostile`), holding only a bureau reference
(the roll checks its codes against it); each case removes what it loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import TEST_DB, drop_warehouse, fresh_warehouse
from tests.hostile.corpus import CASES, Case
from tests.hostile.loaders import load_case

pytestmark = pytest.mark.db

WAREHOUSE = f"{TEST_DB}_hostile"
# Words of the fake roll lines that an error or a quarantine reason must never carry.
ROLL_VALUES = ("FICTIF", "DUPONTEL", "Salicorne", "IMPASSE")


def _params() -> list[object]:
    return [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [],
        )
        for case in CASES
    ]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    from tests.fixtures.roll.warehouse import reference_ids

    url = fresh_warehouse(WAREHOUSE)
    reference = reference_ids()
    _seed(url, reference)
    yield url
    drop_warehouse(WAREHOUSE)


def _seed(url: str, reference: set[str] | None = None) -> None:
    """The bureau reference of the roll extracts (REU rows under a batch id no loader uses)."""
    from tests.fixtures.roll.warehouse import REFERENCE_BATCH, reference_ids, seed_reference

    with psycopg.connect(url, autocommit=True) as conn:
        held = conn.execute(
            "select count(*) from raw.reu_bureaux where batch_id = %s", (REFERENCE_BATCH,)
        ).fetchone()
        if held == (0,):
            seed_reference(conn, reference or reference_ids())


def _tables(conn: psycopg.Connection) -> list[tuple[str, bool]]:
    """Every `raw` and `quarantine` table but the ledger, and whether it has a batch_id."""
    rows = conn.execute(
        "select t.table_schema || '.' || t.table_name, bool_or(c.column_name = 'batch_id') "
        "from information_schema.tables t join information_schema.columns c "
        "using (table_schema, table_name) "
        "where t.table_schema in ('raw', 'quarantine') and t.table_type = 'BASE TABLE' "
        "and t.table_name <> 'batch_ledger' group by 1 order by 1"
    ).fetchall()
    return [(str(r[0]), bool(r[1])) for r in rows]


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    out: dict[str, int] = {}
    for table, _ in _tables(conn):
        row = conn.execute(f"select count(*) from {table}").fetchone()
        assert row is not None
        out[table] = int(row[0])
    return out


@pytest.fixture
def warehouse(url: str) -> Iterator[psycopg.Connection]:
    """The module's warehouse for one case; afterwards every row the case loaded is removed
    (ledger rows stay: they are the audit trail) and the bureau reference is back."""
    with psycopg.connect(url, autocommit=True) as conn:
        top = conn.execute("select coalesce(max(batch_id), 0) from raw.batch_ledger").fetchone()
        assert top is not None
        yield conn
        for table, has_batch in _tables(conn):
            if has_batch:
                conn.execute(f"delete from {table} where batch_id > %s", (top[0],))
        conn.execute("delete from raw.canvass_suppression")
    _seed(url)


def _ledger_since(conn: psycopg.Connection, top: int) -> list[tuple[str, str, str | None]]:
    return [
        (str(r[0]), str(r[1]), r[2])
        for r in conn.execute(
            "select file_name, status, error from raw.batch_ledger where batch_id > %s "
            "order by batch_id",
            (top,),
        ).fetchall()
    ]


def _quarantine_since(
    conn: psycopg.Connection, top: int
) -> list[tuple[int | None, str | None, str]]:
    return [
        (r[0], r[1], str(r[2]))
        for r in conn.execute(
            "select line_no, column_name, reason from quarantine.rejected_rows "
            "where batch_id > %(top)s union all "
            "select line_no, column_name, reason from quarantine.canvass_rows "
            "where batch_id > %(top)s",
            {"top": top},
        ).fetchall()
    ]


def _assert_names_location(text: str, case: Case, path: Path) -> None:
    assert path.name in text, f"the error does not name the file: {text}"
    if case.line is not None:
        assert f"line {case.line}" in text, f"the error does not name line {case.line}: {text}"
    if case.column is not None:
        assert case.column in text, f"the error does not name column {case.column!r}: {text}"
    assert case.error in text, f"expected {case.error!r} in: {text}"


def _assert_private(case: Case, *texts: str | None) -> None:
    if case.source != "roll":
        return
    for text in texts:
        for value in ROLL_VALUES:
            assert value not in (text or ""), f"a roll value reached an error: {text}"


@pytest.mark.parametrize("case", _params())
def test_hostile_file(case: Case, url: str, warehouse: psycopg.Connection, tmp_path: Path) -> None:
    conn = warehouse
    path = case.make(tmp_path)
    top_row = conn.execute("select coalesce(max(batch_id), 0) from raw.batch_ledger").fetchone()
    assert top_row is not None
    top = int(top_row[0])
    before = _counts(conn)

    if case.outcome == "refused":
        with pytest.raises(Exception) as refused:
            load_case(url, case, path)
        message = str(refused.value)
        _assert_names_location(message, case, path)
        from ingestion.errors import SourceFormatError

        assert isinstance(refused.value, SourceFormatError), (
            f"refused by a {type(refused.value).__name__}, not a data error naming its place"
        )
        if case.line is not None:
            assert refused.value.line == case.line
        assert _counts(conn) == before, "a refused file changed raw or quarantine rows"
        ledger = _ledger_since(conn, top)
        assert ledger, "the refused attempt left no ledger row"
        assert {status for _, status, _ in ledger} == {"failed"}, ledger
        name, _, error = ledger[-1]
        assert name == path.name
        _assert_names_location(error or "", case, path)
        _assert_private(case, message, error)
        return

    report = load_case(url, case, path)
    assert report.status == "loaded", report
    ledger = _ledger_since(conn, top)
    assert [(name, status) for name, status, _ in ledger][-1] == (path.name, "loaded")
    quarantined = _quarantine_since(conn, top)
    if case.outcome == "loaded":
        return
    rejected = conn.execute(
        "select rows_rejected from raw.batch_ledger where batch_id > %s and status = 'loaded'",
        (top,),
    ).fetchone()
    assert rejected is not None and rejected[0] >= 1, "the ledger does not count the rejected row"
    matches = [
        reason
        for line, column, reason in quarantined
        if line == case.line and column == case.column and case.error in reason
    ]
    assert matches, f"line {case.line} ({case.column}) not quarantined as expected: {quarantined}"
    _assert_private(case, *(reason for _, _, reason in quarantined))


def test_the_corpus_covers_every_source_with_sixty_files() -> None:
    """Issue 14, build item 9: at least 60 crafted files across the five sources."""
    by_source: dict[str, int] = {}
    for case in CASES:
        by_source[case.source] = by_source.get(case.source, 0) + 1
    assert len(CASES) >= 60
    # results; census; REU and the roll; contours; canvass
    assert all(by_source.get(s, 0) >= 5 for s in ("results", "census", "geo", "canvass")), by_source
    assert by_source.get("reu", 0) + by_source.get("roll", 0) >= 5, by_source
    assert len({c.id for c in CASES}) == len(CASES)
