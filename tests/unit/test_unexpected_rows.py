"""The one-query SQL check (expectations.unexpected_rows): its SQL and how its rows are read."""

from __future__ import annotations

from expectations.unexpected_rows import TOTAL_COLUMN, counted_sample_sql, split_counted_sample


def test_the_count_rides_on_every_sample_row_of_one_query() -> None:
    sql = counted_sample_sql("select b.bureau_id from t as b where b.x < 0", 200)
    # one statement: the check's query once, wrapped; the window count sees every row before
    # the limit keeps 200
    assert sql.count("select b.bureau_id from t as b where b.x < 0") == 1
    assert f"count(*) over () as {TOTAL_COLUMN}" in sql
    assert sql.rstrip().endswith("limit 200")


def test_no_row_means_zero_offending_rows() -> None:
    assert split_counted_sample([]) == (0, [])


def test_the_total_is_read_from_the_rows_and_dropped_from_the_examples() -> None:
    rows = [
        {"bureau_id": "29019_0001", "row_count": 2, TOTAL_COLUMN: 1234},
        {"bureau_id": "29019_0002", "row_count": 3, TOTAL_COLUMN: 1234},
    ]
    total, sample = split_counted_sample(rows)
    assert total == 1234
    assert sample == [
        {"bureau_id": "29019_0001", "row_count": 2},
        {"bureau_id": "29019_0002", "row_count": 3},
    ]
    assert TOTAL_COLUMN in rows[0]  # the caller's rows are not mutated
