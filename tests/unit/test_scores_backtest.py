"""The backtest on a hand-computed fixture: every metric checked against an independent
computation (literal hand arithmetic, and scipy where it has the same definition)."""

from __future__ import annotations

from datetime import date

import pytest

from scrutin.scores.backtest import (
    BacktestError,
    BureauResult,
    Election,
    average_ranks,
    run_backtest,
    spearman,
    top_k_overlap,
)

BLOCS = ("left", "centre", "far_right")


def election(
    eid: str, day: date, voters: dict[str, int], votes: dict[str, tuple[int, ...]]
) -> Election:
    return Election(
        eid,
        day,
        {
            b: BureauResult(
                registered=200,
                voters=voters[b],
                valid_votes=100,
                bloc_votes=dict(zip(BLOCS, votes[b], strict=True)),
            )
            for b in votes
        },
    )


# Valid votes 100 everywhere, so votes are shares in percent. E1: low turnout (0.5), E2: high
# (0.75, so h = E2, l = E1, and E2 is also the latest), T: the target.
E1 = election(
    "2022_legi_t1",
    date(2022, 6, 12),
    dict.fromkeys("ABCD", 100),
    {"A": (40, 30, 30), "B": (30, 30, 40), "C": (20, 40, 40), "D": (10, 30, 60)},
)
E2 = election(
    "2023_legi_t1",
    date(2023, 6, 12),
    dict.fromkeys("ABCD", 150),
    {"A": (50, 20, 30), "B": (30, 40, 30), "C": (30, 30, 40), "D": (10, 30, 60)},
)
T = election(
    "2024_legi_t1",
    date(2024, 6, 30),
    {"A": 120, "B": 140, "C": 160, "D": 100},
    {"A": (45, 25, 30), "B": (35, 35, 30), "C": (20, 40, 40), "D": (15, 25, 60)},
)


def run(**kw: object):  # type: ignore[no-untyped-def]
    args = {"bloc": "left", "rival": "strongest_other", "blocs": BLOCS, "tau": 0.0, "pi": 0.2}
    return run_backtest([E1, E2], T, **(args | kw))  # type: ignore[arg-type]


def metric(result, quantity: str, predictor: str):  # type: ignore[no-untyped-def]
    return next(m for m in result.metrics if (m.quantity, m.predictor) == (quantity, predictor))


def test_references_are_placed_by_turnout_and_date() -> None:
    result = run()
    assert (result.high, result.low) == ("2023_legi_t1", "2022_legi_t1")
    assert result.bureaux == ("A", "B", "C", "D")
    assert result.top_k == 1  # a fifth of 4 bureaux, at least 1


def test_bloc_share_metrics_by_hand() -> None:
    m = metric(run(), "bloc_share", "model")
    # predicted (E2) .5 .3 .3 .1, actual .45 .35 .2 .15
    assert m.n == 4
    assert m.mae == pytest.approx((0.05 + 0.05 + 0.1 + 0.05) / 4)
    assert m.r2 == pytest.approx(1 - 0.0175 / 0.056875)
    # ranks (average for the tie) 4, 2.5, 2.5, 1 vs 4, 3, 2, 1: 4.5 / sqrt(4.5 x 5)
    assert m.spearman == pytest.approx(4.5 / (4.5 * 5) ** 0.5)
    scipy_stats = pytest.importorskip("scipy.stats")
    assert m.spearman == pytest.approx(
        scipy_stats.spearmanr([0.5, 0.3, 0.3, 0.1], [0.45, 0.35, 0.2, 0.15]).statistic
    )


def test_margin_against_the_strongest_other_bloc_by_hand() -> None:
    result = run()
    rows = {
        p.bureau_id: (p.predicted, p.actual)
        for p in result.predictions
        if (p.quantity, p.predictor) == ("margin", "model")
    }
    # A: .5 - .3 (far right); B: .3 - .4 (centre); T C: centre and far right tie at .4, centre
    # (listed first) is the rival; D: .1 - .6.
    assert rows["A"] == pytest.approx((0.2, 0.15))
    assert rows["B"] == pytest.approx((-0.1, 0.0))
    assert rows["C"] == pytest.approx((-0.1, -0.2))
    assert rows["D"] == pytest.approx((-0.5, -0.45))
    assert metric(result, "margin", "model").mae == pytest.approx(0.075)
    # top-1: A is the best by prediction and by actual value.
    assert metric(result, "margin", "model").top_k_overlap == 1.0


def test_volatility_is_pedersen_between_h_and_l_and_actual_latest_to_target() -> None:
    rows = {
        p.bureau_id: (p.predicted, p.actual)
        for p in run().predictions
        if (p.quantity, p.predictor) == ("volatility", "model")
    }
    assert rows["A"] == pytest.approx((0.1, 0.05))
    assert rows["B"] == pytest.approx((0.1, 0.05))
    assert rows["C"] == pytest.approx((0.1, 0.1))
    assert rows["D"] == pytest.approx((0.0, 0.05))


def test_uniform_swing_and_territory_mean_of_turnout() -> None:
    result = run()
    swing = metric(result, "turnout", "uniform_swing")
    # E2 turnout .75 everywhere; territory .75 -> .65: every bureau predicted .65.
    assert swing.mae == pytest.approx((0.05 + 0.05 + 0.15 + 0.15) / 4)
    assert swing.spearman is None  # a constant prediction ranks nothing
    flat = metric(result, "turnout", "territory_mean")
    assert flat.mae == pytest.approx((0.15 + 0.05 + 0.05 + 0.25) / 4)


def test_plan_value_needs_a_lead_over_the_rival() -> None:
    rows = {
        p.bureau_id: p.predicted
        for p in run(tau=0.0, pi=0.2).predictions
        if (p.quantity, p.predictor) == ("plan_value", "model")
    }
    # Only A leads its rival at h: 0.2 x its volatility 0.1; the others are do_not_mobilise (0).
    assert rows == pytest.approx({"A": 0.02, "B": 0.0, "C": 0.0, "D": 0.0})


def test_one_reference_means_no_volatility_and_model_equals_carry_forward() -> None:
    result = run_backtest(
        [E2], T, bloc="left", rival="strongest_other", blocs=BLOCS, tau=0.0, pi=0.2
    )
    assert result.high == result.low == "2023_legi_t1"
    assert not [m for m in result.metrics if m.quantity == "volatility"]
    model = metric(result, "bloc_share", "model")
    carry = metric(result, "bloc_share", "carry_forward")
    assert (model.mae, model.r2, model.spearman) == (carry.mae, carry.r2, carry.spearman)


def test_refusals_name_the_elections() -> None:
    with pytest.raises(BacktestError, match="cannot also be a reference"):
        run_backtest([E1, T], T, bloc="left", rival="centre", blocs=BLOCS, tau=0, pi=0)
    elsewhere = Election("2024_legi_t2", date(2024, 7, 7), {"Z": E1.bureaux["A"]})
    with pytest.raises(BacktestError, match="no bureau has results at every reference"):
        run_backtest([E1], elsewhere, bloc="left", rival="centre", blocs=BLOCS, tau=0, pi=0)


def test_rank_helpers() -> None:
    assert average_ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert top_k_overlap(["a", "b", "c", "d"], [4, 3, 2, 1], [1, 4, 3, 2], 2) == 0.5
