"""Which rows a raw suite validates (expectations/validations.py, "New batches only"): the
decision, the query of the new batches' rows, and the rules a suite with a delta_column obeys.
No database: the integration side is tests/integration/test_raw_validations_new_batches.py."""

from __future__ import annotations

import dataclasses

import pytest

from expectations.checkpoint import describe_new_batches, new_batches_query
from expectations.suites import BATCH_LEDGER_TABLE, Check, SuiteSpec, no_rows, not_null
from expectations.suites_canvass import CAMPAIGNS_TABLE, KNOCKS_TABLE, RAW_CANVASS_KNOCKS
from expectations.validations import (
    SUITE_DIGEST_KEY,
    LastValidation,
    batches_to_validate,
    suite_digest,
)

SUITE = RAW_CANVASS_KNOCKS
REWRITES = f"rewrites:{KNOCKS_TABLE}"


def _versions(knocks: int = 10, rewrites: int = 0, campaigns: int = 3) -> dict[str, int]:
    return {KNOCKS_TABLE: knocks, CAMPAIGNS_TABLE: campaigns, REWRITES: rewrites}


def _last(
    batch_ids: tuple[int, ...] | None = (1, 2),
    *,
    success: bool = True,
    digest: str | None = None,
    **versions: int,
) -> LastValidation:
    recorded: dict[str, object] = dict(_versions(**versions))
    recorded[SUITE_DIGEST_KEY] = digest or suite_digest(SUITE)
    return LastValidation("run-1", recorded, success, batch_ids)


def test_only_the_batches_the_last_validation_did_not_cover() -> None:
    # Batch 1 was purged since, 3 and 5 landed: their rows, nothing else.
    assert batches_to_validate(SUITE, _versions(knocks=13), _last(), (2, 3, 5)) == (3, 5)
    # Only deletions since: no row to validate (the whole-table checks still run).
    assert batches_to_validate(SUITE, _versions(knocks=11), _last(), (2,)) == ()


def test_a_campaign_upsert_does_not_make_the_run_whole() -> None:
    """Every delivery upserts its campaign: only the whole-table checks read that table."""
    moved = _versions(knocks=11, campaigns=4)
    assert batches_to_validate(SUITE, moved, _last(), (1, 2, 3)) == (3,)


@pytest.mark.parametrize(
    ("why", "versions", "last"),
    [
        ("a row changed in place", _versions(knocks=11, rewrites=1), _last()),
        ("never validated", _versions(), None),
        ("the last validation failed", _versions(), _last(success=False)),
        ("the checks changed since", _versions(), _last(digest="an older suite")),
        ("recorded before migration 0023", _versions(), _last(batch_ids=None)),
        ("the rewrites were not counted", {KNOCKS_TABLE: 10, CAMPAIGNS_TABLE: 3}, _last()),
        ("the table is not tracked", {CAMPAIGNS_TABLE: 3, REWRITES: 0}, _last()),
    ],
)
def test_the_whole_table_is_validated_again(
    why: str, versions: dict[str, int], last: LastValidation | None
) -> None:
    assert batches_to_validate(SUITE, versions, last, (1, 2, 3)) is None, why


def test_a_suite_without_delta_column_is_always_whole() -> None:
    plain = dataclasses.replace(
        SUITE, delta_column=None, checks=tuple(c for c in SUITE.checks if not c.whole_table)
    )
    assert batches_to_validate(plain, _versions(knocks=11), _last(), (1, 2, 3)) is None


def test_the_new_rows_query_reads_the_batches_by_the_indexed_column() -> None:
    query = new_batches_query(SUITE, (3, 5))
    assert query == (
        "select * from raw.canvass_knocks where batch_id = any(cast(array[3, 5] as bigint[]))"
    )
    # No batch: a valid query that selects nothing.
    assert "array[]" in new_batches_query(SUITE, ())
    with pytest.raises(ValueError, match="no delta_column"):
        new_batches_query(dataclasses.replace(SUITE, delta_column=None, checks=()), (1,))


def test_the_knocks_suite_keeps_rates_retention_and_ledger_on_every_row() -> None:
    whole = {c.label for c in SUITE.checks if c.whole_table}
    assert any(label and "retention" in label for label in whole)
    assert any(label and "flags at most" in label for label in whole)
    assert any(label and "loaded batch" in label for label in whole)
    # The vocabulary and privacy checks read one row at a time: new batches only.
    assert not any(c.whole_table for c in SUITE.checks if c.label and "vocabulary" in c.label)


def _query_check(query: str, whole_table: bool = False) -> Check:
    return no_rows("a check", query, columns=("x",), whole_table=whole_table)


def test_a_check_on_new_rows_may_not_read_another_input() -> None:
    reads_campaigns = (
        "select k.x from {batch} as k inner join ops.canvass_campaigns as c on c.id = k.id"
    )
    with pytest.raises(ValueError, match="make it whole_table"):
        SuiteSpec(
            name="raw_t",
            table="raw.t",
            checks=(_query_check(reads_campaigns),),
            requires=(CAMPAIGNS_TABLE,),
            delta_column="batch_id",
        )
    # Whole-table, or reading the ledger only: accepted.
    SuiteSpec(
        name="raw_t",
        table="raw.t",
        checks=(
            _query_check(reads_campaigns, True),
            _query_check(
                f"select k.x from {{batch}} as k inner join {BATCH_LEDGER_TABLE} as l "
                "on l.batch_id = k.batch_id"
            ),
        ),
        requires=(CAMPAIGNS_TABLE, BATCH_LEDGER_TABLE),
        delta_column="batch_id",
    )


def test_whole_table_needs_a_sql_check_and_a_delta_column() -> None:
    with pytest.raises(ValueError, match="only a SQL check"):
        dataclasses.replace(not_null("x"), whole_table=True)
    with pytest.raises(ValueError, match="need a delta_column"):
        SuiteSpec(
            name="raw_t",
            table="raw.t",
            checks=(_query_check("select k.x from {batch} as k join raw.u as u on true", True),),
        )


def test_a_result_says_which_batches_it_read() -> None:
    assert describe_new_batches((34,)) == "the 1 batch landed since the last validation: 34"
    many = describe_new_batches(tuple(range(1, 13)))
    assert many.startswith("the 12 batches landed since the last validation: 1, 2, 3")
    assert many.endswith("10 (+2)")
    assert describe_new_batches(()).endswith(": none")
