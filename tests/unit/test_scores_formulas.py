"""Score formulas: hand-computed values and the boundaries that change a decision."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scrutin.scores import formulas as f

TAU = 1 / 14


def test_intermittent_and_reservoir_by_hand() -> None:
    # Bureau: 900 voters at h, 600 at l; bloc 400 at h, 250 at l.
    assert f.intermittent_voters(900, 600) == 300
    assert f.reservoir(400, 250) == 150
    # The bloc did better at the low-salience election: no reservoir (not negative).
    assert f.reservoir(200, 260) == 0
    np.testing.assert_array_equal(f.intermittent_voters([900, 500], [600, 550]), [300, -50])


def test_net_value_is_bloc_minus_rival_and_generalises_2q_minus_1() -> None:
    # Left 0.35, its rival 0.20 among the mobilisable voters: +0.15 a mobilised voter.
    assert f.net_value_per_mobilised_voter(0.35, 0.20) == pytest.approx(0.15)
    # Against "everyone else" (rival = 1 - q) it is the former 2q - 1.
    assert f.net_value_per_mobilised_voter(0.6, 0.4) == pytest.approx(2 * 0.6 - 1)
    # A bloc that leads a fragmented field with 0.30 is worth mobilising (2q - 1 said no).
    assert f.net_value_per_mobilised_voter(0.30, 0.25) > 0
    np.testing.assert_allclose(
        f.net_value_per_mobilised_voter([0.3, 0.2, 0.25], [0.25, 0.3, 0.25]), [0.05, -0.1, 0.0]
    )


def test_net_per_conversation_is_tau_times_the_margin() -> None:
    assert f.net_per_conversation(0.0, TAU) == 0.0
    assert f.net_per_conversation(0.5, TAU) == pytest.approx(0.5 / 14)
    assert f.net_per_conversation(-0.5, TAU) == pytest.approx(-0.5 / 14)
    # With the fr profile (tau = 0) mobilisation is worth nothing either way.
    assert f.net_per_conversation(0.4, 0.0) == 0.0
    # 140 conversations at a margin of 0.2: 140 × (1/14) × 0.2 = 2 net votes; at -0.2, -2.
    assert f.net_mobilisation(140, 0.2, TAU) == pytest.approx(2.0)
    assert f.net_mobilisation(140, -0.2, TAU) == pytest.approx(-2.0)


def test_pedersen_index_by_hand() -> None:
    # Shares (left, centre, far right, other): 0.40/0.30/0.20/0.10 -> 0.30/0.35/0.25/0.10:
    # ½ × (0.10 + 0.05 + 0.05 + 0) = 0.10 of the voters changed bloc (net).
    assert f.pedersen_index([0.4, 0.3, 0.2, 0.1], [0.3, 0.35, 0.25, 0.1]) == pytest.approx(0.1)
    assert f.pedersen_index([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert f.pedersen_index([1.0, 0.0], [0.0, 1.0]) == pytest.approx(1.0)
    # One row per bureau, blocs on the last axis; an unknown share gives an unknown index.
    got = f.pedersen_index([[0.4, 0.6], [0.5, float("nan")]], [[0.5, 0.5], [0.5, 0.5]])
    assert got[0] == pytest.approx(0.1) and math.isnan(got[1])


def test_persuasion_by_hand_per_bureau() -> None:
    # 1000 valid votes, persuadable share 0.15, pi 0.2 (fr profile): 30 votes; 0.03 a
    # conversation, the Pons calibration of docs/scores.md.
    assert f.persuasion(1000, 0.15, 0.2) == pytest.approx(30.0)
    assert f.persuasion_per_conversation(0.15, 0.2) == pytest.approx(0.03)
    # Per bureau: a bureau whose vote moved more is worth more per conversation.
    np.testing.assert_allclose(f.persuasion_per_conversation([0.05, 0.25], 0.2), [0.01, 0.05])


def test_rival_rules_by_hand() -> None:
    order = ("extreme_left", "left", "centre", "right", "far_right", "other")
    shares = {"left": 0.3, "centre": 0.25, "far_right": 0.25, "right": 0.1}
    # The strongest other bloc; a tie goes to the bloc listed first (centre before far_right).
    assert f.strongest_other(shares, "left", order) == "centre"
    assert f.strongest_other(shares, "centre", order) == "left"
    assert f.strongest_other({"left": None, "right": 0.0}, "left", order) == "extreme_left"
    votes = {"left": 300, "centre": 250, "far_right": 260, "right": 50}
    # In the top two: the other one. Outside: the strongest (the bloc to overtake).
    assert f.runoff_opponent(votes, "left", order) == "far_right"
    assert f.runoff_opponent(votes, "far_right", order) == "left"
    assert f.runoff_opponent(votes, "right", order) == "left"


def test_value_per_canvasser_hour_by_hand_and_coverage() -> None:
    net = f.net_per_conversation(0.2, TAU)  # a margin of 0.2: 0.2/14
    value = f.value_per_canvasser_hour(12, 0.35, net, 0.0045, coverage=0.2, gamma=1.0)
    assert value == pytest.approx(12 * 0.35 * (0.2 / 14 + 0.0045) * 0.8)
    assert f.value_per_canvasser_hour(12, 0.35, net, 0.0045, coverage=1.0, gamma=1.0) == 0.0
    # Full coverage is worth nothing even with the discount switched off (gamma = 0) ...
    assert f.value_per_canvasser_hour(12, 0.35, net, 0.0, coverage=1.0, gamma=0.0) == 0.0
    # ... which otherwise ignores coverage.
    assert f.value_per_canvasser_hour(12, 0.5, 0.01, 0.0, coverage=0.9, gamma=0.0) == (
        pytest.approx(0.06)
    )
    # gamma = 2 discounts faster: (1 - 0.5)^2.
    assert f.coverage_discount(0.5, 2.0) == pytest.approx(0.25)
    # Losing mobilisation makes the key negative.
    assert f.value_per_canvasser_hour(12, 0.35, -0.02, 0.0045, coverage=0, gamma=1) < 0


def test_coverage_share_and_registration_potential() -> None:
    np.testing.assert_allclose(f.coverage_share([30, 50, 5], [100, 40, 0]), [0.3, 1.0, 0.0])
    np.testing.assert_array_equal(f.registration_potential([1200, 800], [1000, 900]), [200, 0])


def test_beta_update_by_hand() -> None:
    # Prior 0.35 weighted 20 pseudo-conversations, 6 successes in 12: (7 + 6) / 32.
    estimate = f.beta_update(0.35, 20, 6, 12, k_min=11)
    assert estimate.mean == pytest.approx(13 / 32)
    assert estimate.suppressed is False


def test_beta_update_k_min_boundary() -> None:
    below = f.beta_update(0.35, 20, 10, 10, k_min=11)
    at = f.beta_update(0.35, 20, 11, 11, k_min=11)
    assert (below.mean, below.suppressed) == (0.35, True)
    assert at.mean == pytest.approx((7 + 11) / 31)
    assert at.suppressed is False
    vector = f.beta_update([0.35, 0.35], 20, [10, 11], [10, 11], k_min=11)
    np.testing.assert_allclose(vector.mean, [0.35, 18 / 31])
    np.testing.assert_array_equal(vector.suppressed, [True, False])
    with pytest.raises(ValueError, match="kappa"):
        f.beta_update(0.35, 0, 1, 20, k_min=11)


def test_relative_rate_update_by_hand() -> None:
    # City rate 30/100 = 0.3, bureau 9/20 = 0.45: ratio 1.5, target 0.4 × 1.5 = 0.6.
    estimate = f.relative_rate_update(0.4, 20, 9, 20, city_successes=30, city_trials=100, k_min=11)
    assert estimate.mean == pytest.approx((20 * 0.4 + 20 * 0.6) / 40)
    # A bureau at the city rate keeps its prior.
    same = f.relative_rate_update(0.4, 20, 6, 20, city_successes=30, city_trials=100, k_min=11)
    assert same.mean == pytest.approx(0.4)
    # Target clipped to 1; below k_min the prior, suppressed; no city data, the prior.
    high = f.relative_rate_update(0.8, 20, 20, 20, city_successes=30, city_trials=100, k_min=11)
    assert high.mean == pytest.approx((16 + 20) / 40)
    few = f.relative_rate_update(0.4, 20, 9, 10, city_successes=30, city_trials=100, k_min=11)
    assert (few.mean, few.suppressed) == (0.4, True)
    none = f.relative_rate_update(0.4, 20, 9, 20, city_successes=0, city_trials=0, k_min=11)
    assert none.mean == pytest.approx(0.4)


def test_why_sentence_reads_the_components() -> None:
    sentence = f.why_sentence(
        bloc="left",
        rival="far_right",
        high_label="2024_legi_t1",
        q=0.41,
        q_rival=0.22,
        margin=0.19,
        persuadable=0.15,
        persuasion_per_conv=0.03,
        net_per_conv=0.0,
        profile="fr",
        coverage=0.35,
    )
    assert sentence == (
        "left 0.41 vs far_right 0.22 (its rival) among the voters of 2024_legi_t1; a mobilised "
        "voter nets 0.19 votes; persuadable share 0.15 (volatility and canvass undecided), so a "
        "conversation wins 0.030 votes by persuasion and 0.000 by mobilisation (prior profile "
        "fr); 35% of doors already covered."
    )
    losing = f.why_sentence(
        bloc="right",
        rival="centre",
        high_label="h",
        q=0.1,
        q_rival=0.3,
        margin=-0.2,
        persuadable=0.2,
        persuasion_per_conv=0.04,
        net_per_conv=-0.2 * TAU,
        profile="us",
        coverage=0,
        suppressed=True,
        registration=1234,
    )
    assert "do not mobilise: right does not lead centre here" in losing
    assert "by mobilisation" not in losing
    assert "persuadable share 0.20 (volatility)" in losing
    assert "about 1234 adult French residents not registered" in losing
    assert losing.endswith("canvass feedback hidden (fewer than k_min answers).")
    # A tie is not a lead: do not mobilise.
    tie = f.why_sentence(
        bloc="left",
        rival="centre",
        high_label="h",
        q=0.3,
        q_rival=0.3,
        margin=0.0,
        persuadable=0.1,
        persuasion_per_conv=0.02,
        net_per_conv=0.0,
        profile="fr",
        coverage=0,
    )
    assert "do not mobilise" in tie


@pytest.mark.parametrize(
    ("q", "coverage", "shown_q", "shown_coverage"),
    [
        # Halves round away from zero, as PostgreSQL's round(numeric) in the mart's `why`.
        (0.125, 0.125, "left 0.13 vs", "13% of doors"),
        (123 / 200, 0.005, "left 0.62 vs", "1% of doors"),
        (0.875, 0.0625, "left 0.88 vs", "6% of doors"),
    ],
)
def test_why_sentence_rounds_halves_like_postgresql(
    q: float, coverage: float, shown_q: str, shown_coverage: str
) -> None:
    sentence = f.why_sentence(
        bloc="left",
        rival="centre",
        high_label="h",
        q=q,
        q_rival=0.0,
        margin=q,
        persuadable=0.125,
        persuasion_per_conv=0.0625,
        net_per_conv=0.0625,
        profile="us",
        coverage=coverage,
        registration=2.5,
    )
    assert shown_q in sentence and shown_coverage in sentence
    assert "persuadable share 0.13" in sentence
    assert "wins 0.063 votes by persuasion and 0.063 by mobilisation" in sentence
    assert "about 3 adult French residents" in sentence
