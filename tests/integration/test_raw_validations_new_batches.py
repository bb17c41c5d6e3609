"""The door knocks' raw suite validates the deliveries landed since its last validation, not every
knock again (issue 15; expectations/validations.py, "New batches only").

On a warehouse of its own, through the real loader and Great Expectations: a second delivery is
validated by its own rows (GX counts them), its whole-table checks still read every row, a bad
row inserted by hand is caught, and a row changed in place makes the next run whole again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from expectations.validations import ValidationOutcome, run_suites_once
from ingestion.canvass.loader import load_canvass_file
from tests.conftest import drop_warehouse
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET

pytestmark = [pytest.mark.db, pytest.mark.slow]

SUITE = "raw_canvass_knocks"
NOT_NULL_SOURCE = ("expect_column_values_to_not_be_null", "source")
OUTCOME_IN_SET = ("expect_column_values_to_be_in_set", "outcome")
IN_LOADED_BATCH = ("unexpected_rows_expectation", "batch_id")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    url = support.fresh_warehouse("gx_new_batches")
    yield url
    drop_warehouse(support.database_name("gx_new_batches"))


def _load(url: str, path: Any) -> int:
    report = load_canvass_file(url, path, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert report.loaded_batch_id is not None
    return int(report.loaded_batch_id)


def _validate(url: str, run_id: str) -> ValidationOutcome:
    return run_suites_once(url, [SUITE], run_id)


def _observed(url: str, run_id: str, check: tuple[str, str]) -> dict[str, Any]:
    (row,) = support.fetch(
        url,
        "select observed from ops.quality_results where run_id = %s and suite = %s "
        "and expectation = %s and column_name = %s",
        (run_id, SUITE, *check),
    )
    observed = row[0]
    assert isinstance(observed, dict)
    return observed


def _knocks(url: str, where: str = "true", params: tuple[object, ...] = ()) -> int:
    (row,) = support.fetch(url, f"select count(*) from raw.canvass_knocks where {where}", params)
    return int(row[0])  # type: ignore[call-overload]


def test_a_delivery_is_validated_by_its_own_rows(url: str) -> None:
    first = _load(url, support.QOMON)
    whole = _validate(url, "nb-first")
    assert whole.success and whole.new_batches == {}, whole.outcome.failed_checks
    assert _observed(url, "nb-first", NOT_NULL_SOURCE)["element_count"] == _knocks(url)
    assert "rows_read" not in _observed(url, "nb-first", NOT_NULL_SOURCE)  # every row
    covered = support.fetch(
        url, "select batch_ids from ops.raw_validations where run_id = 'nb-first'"
    )
    assert covered == [([first],)]

    second = _load(url, support.ECANVASSER)
    delta = _validate(url, "nb-second")
    assert delta.success, delta.outcome.failed_checks
    assert delta.new_batches == {SUITE: 1}
    assert delta.summary()["new_batches_only"] == {SUITE: 1}
    # GX read the second delivery's rows only...
    new_rows = _knocks(url, "batch_id = %s", (second,))
    assert 0 < new_rows < _knocks(url)
    assert _observed(url, "nb-second", NOT_NULL_SOURCE)["element_count"] == new_rows
    # ...and each result says so, for the engineer reading ops.quality_results.
    assert _observed(url, "nb-second", NOT_NULL_SOURCE)["rows_read"] == (
        f"the 1 batch landed since the last validation: {second}"
    )
    assert _observed(url, "nb-second", IN_LOADED_BATCH)["rows_read"] == "every row"
    # ...and every check of the suite was recorded, once.
    (recorded,) = support.fetch(
        url,
        "select count(*), count(distinct (expectation, column_name, observed->>'query_label')) "
        "from ops.quality_results where run_id = 'nb-second'",
    )
    assert recorded[0] == recorded[1] > 10
    assert support.fetch(
        url, "select batch_ids from ops.raw_validations where run_id = 'nb-second'"
    ) == [([first, second],)]
    # Nothing landed since: reused, not rerun.
    assert _validate(url, "nb-same").summary()["reused"] == {SUITE: "nb-second"}


def test_whole_table_checks_still_read_every_row(url: str) -> None:
    """A batch the ledger no longer holds as loaded (its status moves in the ledger, not in the
    knocks table) is warned about by the whole-table check, though only new rows are read."""
    (old,) = support.fetch(url, "select min(batch_id) from raw.canvass_knocks")
    old_rows = _knocks(url, "batch_id = %s", old)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update raw.batch_ledger set status = 'superseded' where batch_id = %s", old)
    try:
        _load(url, support.NATIONBUILDER)
        delta = _validate(url, "nb-ledger")
        assert delta.new_batches == {SUITE: 1}
        assert delta.success  # a warning, not a refusal
        assert _observed(url, "nb-ledger", IN_LOADED_BATCH)["unexpected_count"] == old_rows
        assert any("loaded batch" in w for w in delta.outcome.warnings)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("update raw.batch_ledger set status = 'loaded' where batch_id = %s", old)


def test_a_bad_row_inserted_by_hand_is_caught(url: str) -> None:
    """A row outside any delivery (a batch_id unknown to the ledger) is a new batch too."""
    assert _validate(url, "nb-clean").success
    with psycopg.connect(url, autocommit=True) as conn:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'raw' and table_name = 'canvass_knocks' "
                "order by ordinal_position"
            ).fetchall()
        ]
        changed = {"batch_id": "999998", "line_no": "1", "outcome": "'maybe'"}
        # One INSERT, no rewrite: the next run reads the new batch's rows only, and refuses.
        conn.execute(
            f"insert into raw.canvass_knocks ({', '.join(columns)}) "
            f"select {', '.join(changed.get(c, c) for c in columns)} "
            "from raw.canvass_knocks limit 1"
        )
    try:
        caught = _validate(url, "nb-inserted")
        assert caught.new_batches == {SUITE: 1}
        assert not caught.success
        assert any("(outcome)" in f for f in caught.outcome.failed_checks)
        assert _observed(url, "nb-inserted", OUTCOME_IN_SET)["unexpected_count"] == 1
        # Outside the ledger: the whole-table check says so too (a warning).
        assert _observed(url, "nb-inserted", IN_LOADED_BATCH)["unexpected_count"] == 1
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from raw.canvass_knocks where batch_id = 999998")
    # Deleted since the refusal: the refused run is not reused, the next one passes.
    assert _validate(url, "nb-after").success


def test_a_row_changed_in_place_makes_the_run_whole(url: str) -> None:
    assert _validate(url, "nb-before-update").success
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select batch_id, line_no, outcome from raw.canvass_knocks "
            "order by batch_id, line_no limit 1"
        ).fetchone()
        assert row is not None
        conn.execute(
            "update raw.canvass_knocks set outcome = 'maybe' where batch_id = %s and line_no = %s",
            row[:2],
        )
    try:
        whole = _validate(url, "nb-updated")
        assert whole.new_batches == {}
        assert not whole.success
        assert _observed(url, "nb-updated", NOT_NULL_SOURCE)["element_count"] == _knocks(url)
        assert _observed(url, "nb-updated", OUTCOME_IN_SET)["unexpected_count"] == 1
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "update raw.canvass_knocks set outcome = %s where batch_id = %s and line_no = %s",
                (row[2], *row[:2]),
            )
