"""How the roll DAG spreads a national roll (~35,000 commune extracts) over its load tasks."""

from __future__ import annotations

import pytest


def test_roll_file_groups_cut_the_extracts_in_order_without_empty_groups() -> None:
    from ingestion.loaders.roll import roll_file_groups

    paths = [f"/landing/com{i:05d}.csv" for i in range(70)]
    groups = roll_file_groups(paths, groups=32)
    assert len(groups) == 32
    assert [p for g in groups for p in g] == paths  # every file once, in name order
    assert {len(g) for g in groups} == {2, 3}  # sizes differ by one at most
    assert roll_file_groups(paths[:5], groups=32) == [[p] for p in paths[:5]]
    assert roll_file_groups([], groups=32) == []
    with pytest.raises(ValueError, match="at least 1"):
        roll_file_groups(paths, groups=0)
