"""Volunteer plan: where the next canvasser-hours win the most net votes.

Greedy marginal allocation: hours are handed out in steps of `step`; each step goes to the bureau
whose next step wins the most expected net votes. A step covers doors_per_hour × step doors, so
the bureau's coverage rises and its next step is worth less (discount (1 − coverage)^gamma). The
gain of successive steps in a bureau never increases, so the greedy choice is optimal for the
separable problem (up to the step granularity). Bureaux where door mobilisation loses votes
(NET < 0) never get hours. Ties go to the smallest bureau_id: the same inputs give the same plan.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass

from scrutin.scores.formulas import coverage_discount


@dataclass(frozen=True)
class BureauInput:
    """One candidate bureau.

    value_per_hour: expected net votes of one canvasser-hour at ZERO coverage
        (`value_per_canvasser_hour(..., coverage=0, ...)`): the plan applies the discount itself.
    doors: doors (households) of the bureau; coverage: share already knocked, in [0, 1];
    net_positive: False when NET < 0 (q < 0.5): the bureau is excluded whatever its value.
    """

    bureau_id: str
    value_per_hour: float
    doors: float
    coverage: float
    net_positive: bool


@dataclass(frozen=True)
class PlanRow:
    """Hours given to a bureau, the expected net votes they win and the coverage reached."""

    bureau_id: str
    hours: float
    expected_net_votes: float
    coverage_after: float


def allocate_hours(
    bureaux: Iterable[BureauInput | tuple[str, float, float, float, bool]],
    total_hours: float,
    step: float = 0.5,
    *,
    doors_per_hour: float,
    gamma: float,
) -> list[PlanRow]:
    """Allocate floor(total_hours / step) steps greedily; rows for bureaux that got hours,
    sorted by expected net votes (descending) then bureau_id.

    A step in a bureau at coverage c wins value_per_hour × step × (1 − c)^gamma and moves the
    coverage to min(1, c + doors_per_hour × step / doors). Hours stop early when no bureau has a
    positive gain left (all covered, or none eligible): unallocated hours are not forced anywhere.
    """
    if step <= 0 or doors_per_hour <= 0 or gamma < 0 or total_hours < 0:
        raise ValueError("step and doors_per_hour must be > 0, gamma and total_hours >= 0")
    items = [b if isinstance(b, BureauInput) else BureauInput(*b) for b in bureaux]
    ids = [b.bureau_id for b in items]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate bureau_id in the plan input")
    steps_left = math.floor(total_hours / step + 1e-9)

    start = {b.bureau_id: min(1.0, max(0.0, b.coverage)) for b in items}
    coverage = dict(start)
    steps_given = dict.fromkeys(ids, 0)
    votes = dict.fromkeys(ids, 0.0)
    by_id = {b.bureau_id: b for b in items}

    def gain(bureau: BureauInput) -> float:
        return bureau.value_per_hour * step * coverage_discount(coverage[bureau.bureau_id], gamma)

    def coverage_after(bureau: BureauInput, steps: int) -> float:
        # Closed form (start + k x increment), not a running sum: the SQL plan of
        # mart.canvass_plan computes it the same way, so both give the same floats.
        return min(1.0, start[bureau.bureau_id] + steps * (doors_per_hour * step / bureau.doors))

    heap: list[tuple[float, str]] = []
    for bureau in items:
        if bureau.net_positive and bureau.value_per_hour > 0 and bureau.doors > 0:
            first = gain(bureau)
            if first > 0:
                heap.append((-first, bureau.bureau_id))
    heapq.heapify(heap)

    while steps_left > 0 and heap:
        negative_gain, bureau_id = heapq.heappop(heap)
        bureau = by_id[bureau_id]
        votes[bureau_id] += -negative_gain
        steps_given[bureau_id] += 1
        coverage[bureau_id] = coverage_after(bureau, steps_given[bureau_id])
        steps_left -= 1
        following = gain(bureau)
        if following > 0:
            heapq.heappush(heap, (-following, bureau_id))

    rows = [
        PlanRow(
            bureau_id=bureau_id,
            hours=steps_given[bureau_id] * step,
            expected_net_votes=votes[bureau_id],
            coverage_after=coverage[bureau_id],
        )
        for bureau_id in ids
        if steps_given[bureau_id]
    ]
    return sorted(rows, key=lambda row: (-row.expected_net_votes, row.bureau_id))
