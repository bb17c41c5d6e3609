"""The score audit recomputes each published column once per column (every row at once, numpy
arrays, null as NaN) and shows an offending row with the same functions on that row. The two
evaluations must agree value for value, nulls included: here on rows drawn at random, with
nulls, zeros, negatives and shares above 1 in every input."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from expectations.score_audit import (
    RECOMPUTED,
    _Columns,
    _differ,
    _differs,
    _f,
    _share_matrix,
    _unequal,
)
from scrutin.scores import formulas
from scrutin.scores.params import ScoreParams

INPUTS = (
    "voters_high",
    "voters_low",
    "bloc_votes_high",
    "bloc_votes_low",
    "bloc_share_high",
    "q_updated",
    "rival_share_updated",
    "persuadable_share",
    "doors",
    "open_rate_estimate",
    "valid_votes_target",
    "canvass_doors_knocked",
    "predicted_bloc_share",
    "bloc_share_target",
    "adult_french_population_approx",
    "registered_voters_roll",
    "registered",
    "rival_share_recomputed",
    "volatility_recomputed",
)


def _value(rng: random.Random) -> float | None:
    return rng.choice([None, 0.0, 1.0, -0.2, 1.3, rng.random(), rng.uniform(0, 2_000)])


def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [{name: _value(rng) for name in INPUTS} for _ in range(n)]


@pytest.mark.parametrize("column", sorted(RECOMPUTED))
def test_a_column_at_once_equals_each_row_alone(column: str) -> None:
    rows = _rows(400, seed=len(column))
    params = ScoreParams()
    _formula, recompute, _inputs = RECOMPUTED[column]
    at_once = np.broadcast_to(_f(recompute(_Columns(rows), params)), (len(rows),))
    one_by_one = [recompute(row, params) for row in rows]
    assert any(v is None for v in one_by_one) and any(v is not None for v in one_by_one)
    for i, (vector, scalar) in enumerate(zip(at_once.tolist(), one_by_one, strict=True)):
        if scalar is None:
            assert math.isnan(vector), (column, i, rows[i])
        else:
            assert vector == pytest.approx(scalar, rel=1e-12, abs=1e-12), (column, i, rows[i])


def test_differ_is_differs_on_columns() -> None:
    pairs = [(None, None), (None, 1.0), (1.0, None), (1.0, 1.0), (1.0, 1.0 + 1e-12), (1.0, 1.1)]
    published = np.array([math.nan if a is None else a for a, _ in pairs])
    recomputed = np.array([math.nan if b is None else b for _, b in pairs])
    expected = [_differs(a, b, 1e-9) for a, b in pairs]
    assert _differ(published, recomputed, 1e-9).tolist() == expected
    assert expected == [False, True, True, False, False, True]


def test_a_whole_column_compares_as_value_by_value() -> None:
    # the commune summary compares each column at once: numbers within the tolerance, null
    # only equal to null, and a column holding text value by value (None equal to None)
    published = [1.0, None, 2.0, 3.0, None, 5, True]
    recomputed = [1.0 + 1e-9, None, None, 3.1, 4.0, 5.0, 1.0]
    assert _unequal(published, recomputed) == [2, 3, 4]
    assert _unequal(published, recomputed) == [
        i
        for i, (theirs, mine) in enumerate(zip(published, recomputed, strict=True))
        if _differs(
            None if theirs is None else float(theirs), None if mine is None else float(mine), 1e-6
        )
    ]
    assert _unequal(["29019_0001", None, None, "29019_0003"], ["29019_0001", None, "x", None]) == [
        2,
        3,
    ]
    assert _unequal([], []) == []


def test_the_volatility_of_every_bureau_at_once_is_each_bureau_s() -> None:
    rng = random.Random(7)
    blocs = ("left", "right", "other")
    rows = [
        {f"share_{b}": (None if rng.random() < 0.2 else rng.random()) for b in blocs}
        for _ in range(50)
    ]
    lows = list(reversed(rows))
    at_once = formulas.pedersen_index(_share_matrix(rows, blocs), _share_matrix(lows, blocs))
    for i, (high, low) in enumerate(zip(rows, lows, strict=True)):
        one = formulas.pedersen_index(
            [_f(high[f"share_{b}"]) for b in blocs], [_f(low[f"share_{b}"]) for b in blocs]
        )
        assert (math.isnan(one) and math.isnan(at_once[i])) or one == at_once[i]
    assert _share_matrix([], blocs).shape == (0, 3)
