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


def test_mobilisable_share_ratio_clip_and_fallback() -> None:
    q = f.mobilisable_bloc_share([150, 500, 10, 40], [300, 200, 0, -20], [0.4, 0.4, 0.37, 0.52])
    # 150/300; 500/200 clipped to 1; INT = 0 and INT < 0 fall back on the share at h.
    np.testing.assert_allclose(q, [0.5, 1.0, 0.37, 0.52])
    assert f.mobilisable_bloc_share(90, 120, 0.3) == pytest.approx(0.75)


def test_net_per_conversation_sign_at_the_boundary() -> None:
    assert f.net_per_conversation(0.5, TAU) == 0.0
    assert f.net_per_conversation(0.75, TAU) == pytest.approx(0.5 / 14)
    assert f.net_per_conversation(0.25, TAU) == pytest.approx(-0.5 / 14)
    # 140 conversations at q = 0.6: 140 × (1/14) × 0.2 = 2 net votes; at q = 0.4, -2.
    assert f.net_mobilisation(140, 0.6, TAU) == pytest.approx(2.0)
    assert f.net_mobilisation(140, 0.4, TAU) == pytest.approx(-2.0)


def test_persuasion_by_hand() -> None:
    # 1000 valid votes, 15% volatile, 3% persuaded: 4.5 votes; 0.0045 per conversation.
    assert f.persuasion(1000, 0.15, 0.03) == pytest.approx(4.5)
    assert f.persuasion_per_conversation(0.15, 0.03) == pytest.approx(0.0045)


def test_value_per_canvasser_hour_by_hand_and_coverage() -> None:
    net = f.net_per_conversation(0.6, TAU)  # 0.2/14
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
        high_label="2022_pres_t1",
        low_label="2021_reg_t1",
        reservoir_votes=420,
        q=0.61,
        net_per_conv=f.net_per_conversation(0.61, TAU),
        coverage=0.35,
    )
    assert sentence == (
        "Reservoir of 420 voters who voted left in 2022_pres_t1 but not in 2021_reg_t1; "
        "q = 0.61, so each conversation wins 0.016 net votes; 35% of doors already covered."
    )
    losing = f.why_sentence(
        bloc="left",
        high_label="h",
        low_label="l",
        reservoir_votes=10,
        q=0.4,
        net_per_conv=f.net_per_conversation(0.4, TAU),
        coverage=0,
        suppressed=True,
        registration=1234,
    )
    assert "LOSES 0.014 net votes" in losing
    assert "about 1234 adult French residents not registered" in losing
    assert losing.endswith("canvass feedback hidden (fewer than k_min conversations).")


def test_q_is_unknown_when_a_reference_election_is_missing() -> None:
    # As the SQL of the targeting mart: an unknown INT (NULL there, NaN here) gives an unknown
    # q, never the fallback share; a known INT <= 0 does fall back on the share at h.
    q = f.mobilisable_bloc_share(
        [float("nan"), 10.0, -5.0], [float("nan"), float("nan"), -5.0], 0.4
    )
    assert math.isnan(q[0]) and math.isnan(q[1])
    assert q[2] == 0.4


@pytest.mark.parametrize(
    ("q", "coverage", "shown_q", "shown_coverage"),
    [
        # Halves round away from zero, as PostgreSQL's round(numeric) in the mart's `why`.
        (0.125, 0.125, "q = 0.13", "13% of doors"),
        (123 / 200, 0.005, "q = 0.62", "1% of doors"),
        (0.875, 0.0625, "q = 0.88", "6% of doors"),
    ],
)
def test_why_sentence_rounds_halves_like_postgresql(
    q: float, coverage: float, shown_q: str, shown_coverage: str
) -> None:
    sentence = f.why_sentence(
        bloc="left",
        high_label="h",
        low_label="l",
        reservoir_votes=2.5,
        q=q,
        net_per_conv=0.0625,
        coverage=coverage,
        registration=2.5,
    )
    assert shown_q in sentence and shown_coverage in sentence
    assert sentence.startswith("Reservoir of 3 voters")
    assert "wins 0.063 net votes" in sentence
    assert "about 3 adult French residents" in sentence
