"""Volunteer plan: greedy allocation with diminishing returns, hand-computed."""

from __future__ import annotations

import pytest

from scrutin.scores.plan import BureauInput, PlanRow, allocate_hours

# 12 doors per hour, 1-hour steps: each step covers 12 doors.
KW = {"step": 1.0, "doors_per_hour": 12.0, "gamma": 1.0}


def test_two_bureaux_by_hand() -> None:
    # A: 1.0 vote/hour, 24 doors; B: 0.6 vote/hour, 120 doors.
    # Step 1: A 1.0 (cov 0 -> 0.5). Step 2: A 0.5 vs B 0.6 -> B (cov 0 -> 0.1).
    # Step 3: A 0.5 vs B 0.54 -> B (cov 0.2). Step 4: A 0.5 vs B 0.48 -> A (cov 1).
    bureaux = [("A", 1.0, 24, 0.0, True), ("B", 0.6, 120, 0.0, True)]
    plan = allocate_hours(bureaux, 4, **KW)
    assert plan == [
        PlanRow("A", 2.0, pytest.approx(1.5), 1.0),
        PlanRow("B", 2.0, pytest.approx(1.14), pytest.approx(0.2)),
    ]


def test_full_coverage_stops_and_hours_are_not_forced() -> None:
    plan = allocate_hours([BureauInput("A", 1.0, 24, 0.0, True)], 10, **KW)
    assert plan == [PlanRow("A", 2.0, pytest.approx(1.5), 1.0)]


def test_existing_coverage_discounts_and_ties_go_to_smallest_id() -> None:
    # Same value, C already half covered: its step is worth 0.5, the others 1.0 (tie: A first).
    bureaux = [("C", 1.0, 1200, 0.5, True), ("B", 1.0, 1200, 0.0, True), ("A", 1.0, 1200, 0, True)]
    plan = allocate_hours(bureaux, 1, **KW)
    assert [row.bureau_id for row in plan] == ["A"]
    plan = allocate_hours(bureaux, 2, **KW)
    assert [row.bureau_id for row in plan] == ["A", "B"]


def test_never_to_negative_bureaux() -> None:
    bureaux = [("A", 5.0, 1000, 0.0, False), ("B", 0.2, 1000, 0.0, True), ("C", -1, 50, 0, True)]
    plan = allocate_hours(bureaux, 6, **KW)
    assert [row.bureau_id for row in plan] == ["B"]
    assert plan[0].hours == 6.0
    assert allocate_hours([("A", 5.0, 1000, 0.0, False)], 6, **KW) == []


def test_total_hours_respected_and_step_granularity() -> None:
    bureaux = [(f"B{i:02d}", 1.0 + i / 10, 500, 0.0, True) for i in range(5)]
    plan = allocate_hours(bureaux, 7.3, step=0.5, doors_per_hour=12.0, gamma=1.0)
    assert sum(row.hours for row in plan) == 7.0
    assert all(row.hours % 0.5 == 0 for row in plan)


def test_monotone_in_hours_and_deterministic() -> None:
    bureaux = [
        (f"B{i:02d}", 0.3 + (i % 4) / 10, 100 + 30 * i, (i % 3) / 10, True) for i in range(9)
    ]
    previous_votes = 0.0
    previous_hours: dict[str, float] = {}
    for total in range(0, 40, 3):
        plan = allocate_hours(bureaux, total, **KW)
        votes = sum(row.expected_net_votes for row in plan)
        hours = {row.bureau_id: row.hours for row in plan}
        assert votes >= previous_votes
        assert all(hours.get(b, 0) >= h for b, h in previous_hours.items())
        previous_votes, previous_hours = votes, hours
        assert plan == allocate_hours(list(reversed(bureaux)), total, **KW)


def test_bad_inputs_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        allocate_hours([("A", 1, 10, 0, True), ("A", 1, 10, 0, True)], 2, **KW)
    with pytest.raises(ValueError, match="step"):
        allocate_hours([], 2, step=0, doors_per_hour=12, gamma=1)
