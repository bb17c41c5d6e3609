"""Score components of DESIGN.md "Scores", one pure vectorised function each.

Every function accepts scalars or numpy arrays (broadcast together) and returns a float or an
array: the targeting mart will call them on whole columns. Notation, for bureau b: V voters,
X valid votes, S votes of the campaign's bloc, at the high-salience (h) and low-salience (l)
reference elections; C conversations; q the bloc share among mobilisable voters.

None of these numbers is a measurement: they are model outputs whose priors (tau, pi,
volatility, open rate) come from US field experiments or guesses. docs/scores.md says where each
comes from and what it does not tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def _arr(value: ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def _out(value: FloatArray) -> Any:
    """Return a Python float for 0-d results so scalar callers get scalars back."""
    return float(value) if value.ndim == 0 else value


def intermittent_voters(voters_high: ArrayLike, voters_low: ArrayLike) -> Any:
    """INT = V_h − V_l: people who vote when the election matters but skip low-salience ones.

    Not clipped: a negative INT (more voters at the low-salience election, e.g. a boundary or
    roll change) is information the analyst should see, and `mobilisable_bloc_share` treats any
    INT <= 0 as "no intermittent pool".
    """
    return _out(_arr(voters_high) - _arr(voters_low))


def reservoir(bloc_votes_high: ArrayLike, bloc_votes_low: ArrayLike) -> Any:
    """RES = max(0, S_h − S_l): bloc voters at the high-salience election who did not show up
    (or voted otherwise) at the low-salience one: the bloc's own intermittent voters."""
    return _out(np.maximum(0.0, _arr(bloc_votes_high) - _arr(bloc_votes_low)))


def mobilisable_bloc_share(
    reservoir_votes: ArrayLike, intermittent: ArrayLike, bloc_share_high: ArrayLike
) -> Any:
    """q = clip(RES / INT, 0, 1) when INT > 0, else the bloc share at h.

    q estimates how many of the voters a door-to-door mobilisation would bring out are the bloc's.
    When the bureau has no intermittent pool (INT <= 0) RES / INT means nothing, so we fall back
    on the bloc share of valid votes at the high-salience election: the mobilised voters are then
    assumed to look like the bureau's voters at h.
    """
    res = _arr(reservoir_votes)
    int_ = _arr(intermittent)
    fallback = _arr(bloc_share_high)
    positive = int_ > 0
    ratio = np.divide(res, int_, out=np.zeros(np.broadcast(res, int_).shape), where=positive)
    q = np.where(positive, np.clip(ratio, 0.0, 1.0), fallback)
    # An unknown INT (NaN: a reference election missing) gives an unknown q, as in SQL (NULL),
    # not the fallback; clip keeps a NaN reservoir NaN.
    return _out(np.where(np.isnan(int_), np.nan, q))


def net_per_conversation(q: ArrayLike, tau: float) -> Any:
    """tau × (2q − 1): net votes won by one conversation of an untargeted door mobilisation.

    Each conversation turns out tau extra voters; a share q of them vote for the bloc and 1 − q
    against it. At q = 0.5 the campaign gains nothing, below it each conversation LOSES votes.
    """
    return _out(tau * (2.0 * _arr(q) - 1.0))


def net_mobilisation(conversations: ArrayLike, q: ArrayLike, tau: float) -> Any:
    """NET = C × tau × (2q − 1): expected net votes of C conversations (negative when q < 0.5)."""
    return _out(_arr(conversations) * tau * (2.0 * _arr(q) - 1.0))


def persuasion(valid_votes: ArrayLike, volatility: float, pi: float) -> Any:
    """PERS = X × volatility × pi: votes a full persuasion canvass of the bureau could win
    (X valid votes, a share `volatility` of them could switch, a conversation persuades with
    probability pi)."""
    return _out(_arr(valid_votes) * volatility * pi)


def persuasion_per_conversation(volatility: float, pi: float) -> float:
    """volatility × pi: expected votes won by persuasion in one conversation (PERS / X)."""
    return float(volatility * pi)


def coverage_share(doors_knocked: ArrayLike, doors_total: ArrayLike) -> Any:
    """doors knocked / doors in the bureau, clipped to [0, 1] (0 when the bureau has no doors)."""
    knocked = _arr(doors_knocked)
    total = _arr(doors_total)
    shape = np.broadcast(knocked, total).shape
    share = np.divide(knocked, total, out=np.zeros(shape), where=total > 0)
    return _out(np.clip(share, 0.0, 1.0))


def coverage_discount(coverage: ArrayLike, gamma: float) -> Any:
    """(1 − coverage)^gamma, and 0 at full coverage whatever gamma (no door is left to knock).

    gamma = 0 switches the discount off below full coverage; larger gamma makes the value of a
    bureau fall faster as its doors get knocked (the easy, open doors are found first).
    """
    cov = np.clip(_arr(coverage), 0.0, 1.0)
    return _out(np.where(cov >= 1.0, 0.0, np.power(1.0 - cov, gamma)))


def value_per_canvasser_hour(
    doors_per_hour: float,
    open_rate: ArrayLike,
    net_per_conv: ArrayLike,
    persuasion_per_conv: ArrayLike,
    *,
    coverage: ArrayLike,
    gamma: float,
) -> Any:
    """Ranking key: doors_per_hour × open_rate × (net_per_conversation
    + persuasion_per_conversation) × (1 − coverage)^gamma, the expected net votes one
    canvasser-hour wins in the bureau now.

    Negative when mobilisation loses more than persuasion wins: such bureaux rank last and the
    plan never sends anyone there.
    """
    per_conversation = _arr(net_per_conv) + _arr(persuasion_per_conv)
    discount = _arr(coverage_discount(coverage, gamma))
    return _out(doors_per_hour * _arr(open_rate) * per_conversation * discount)


def registration_potential(adult_french_population: ArrayLike, registered: ArrayLike) -> Any:
    """max(0, adult French population − registered): residents who could still register.

    Both figures are estimates at different dates (census allocation vs roll), so small values
    are noise; the bureau-level census figure is itself an allocation (docs/demographics.md).
    """
    return _out(np.maximum(0.0, _arr(adult_french_population) - _arr(registered)))


@dataclass(frozen=True)
class BetaEstimate:
    """Posterior mean of a rate and whether the per-bureau figure is hidden (below k_min)."""

    mean: Any
    suppressed: Any


def beta_update(
    prior_mean: ArrayLike, kappa: float, successes: ArrayLike, trials: ArrayLike, k_min: int
) -> BetaEstimate:
    """Posterior mean of a Beta(kappa × m, kappa × (1 − m)) prior after `successes` of `trials`:
    (kappa × m + successes) / (kappa + trials).

    kappa is the prior's weight in pseudo-conversations: with kappa = 20, twenty real
    conversations weigh as much as the prior. Privacy rule: when trials < k_min the canvass is
    not used at all (mean = prior, suppressed = True), so the published estimate never moves on
    fewer than k_min conversations and cannot reveal them.
    """
    if kappa <= 0:
        raise ValueError(f"kappa must be > 0, got {kappa}")
    prior = _arr(prior_mean)
    succ = _arr(successes)
    n = _arr(trials)
    suppressed = n < k_min
    posterior = (kappa * prior + succ) / (kappa + n)
    mean = np.where(suppressed, np.broadcast_to(prior, posterior.shape), posterior)
    return BetaEstimate(
        mean=_out(mean), suppressed=bool(suppressed) if suppressed.ndim == 0 else suppressed
    )


def relative_rate_update(
    prior_mean: ArrayLike,
    kappa: float,
    bureau_successes: ArrayLike,
    bureau_trials: ArrayLike,
    *,
    city_successes: float,
    city_trials: float,
    k_min: int,
) -> BetaEstimate:
    """Update a model prior with the bureau's canvass rate RELATIVE to the city-wide rate.

    Canvass readings are biased in level (canvassers' optimism, who opens the door), but a bureau
    twice as warm as the city is informative. The evidence is the prior scaled by the ratio
    r = (bureau successes / bureau trials) / (city successes / city trials):
    target = clip(m × r, 0, 1), counted as `trials` pseudo-observations:
    (kappa × m + trials × target) / (kappa + trials). A city rate of 0 (or no city data) carries
    no information and leaves the prior; trials < k_min leaves the prior and flags suppression.
    """
    if kappa <= 0:
        raise ValueError(f"kappa must be > 0, got {kappa}")
    prior = _arr(prior_mean)
    n = _arr(bureau_trials)
    succ = _arr(bureau_successes)
    bureau_rate = np.divide(succ, n, out=np.zeros(np.broadcast(succ, n).shape), where=n > 0)
    city_rate = city_successes / city_trials if city_trials > 0 else 0.0
    if city_rate <= 0:
        target = np.broadcast_to(prior, bureau_rate.shape)
    else:
        target = np.clip(prior * (bureau_rate / city_rate), 0.0, 1.0)
    return beta_update(prior, kappa, n * target, n, k_min)


def _half_up(value: float, places: int) -> Decimal:
    """Round like PostgreSQL's `round(cast(value as numeric), places)`, which the mart's `why`
    uses: the double first becomes a 15-significant-digit decimal, then halves round away from
    zero (Python's own rounding is half-even on the binary value: 0.125 -> "0.12", not "0.13")."""
    return Decimal(f"{value:.15g}").quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def why_sentence(
    *,
    bloc: str,
    high_label: str,
    low_label: str,
    reservoir_votes: float,
    q: float,
    net_per_conv: float,
    coverage: float,
    suppressed: bool = False,
    registration: float | None = None,
) -> str:
    """A one-line English explanation of a bureau's rank, built only from its components.

    English because the mart's column names and the docs are English; the numbers are those of
    the score, so the sentence can be checked against the row. Example: "Reservoir of 420 voters
    who voted left in 2022_pres_t1 but not in 2021_reg_t1; q = 0.61, so each conversation wins
    0.016 net votes; 35% of doors already covered."
    """
    parts = [
        f"Reservoir of {_half_up(reservoir_votes, 0)} voters who voted {bloc} in {high_label} "
        f"but not in {low_label}"
    ]
    if net_per_conv > 0:
        effect = f"each conversation wins {_half_up(net_per_conv, 3)} net votes"
    elif net_per_conv < 0:
        effect = f"each conversation LOSES {_half_up(-net_per_conv, 3)} net votes (do not mobilise)"
    else:
        effect = "mobilisation is neutral"
    parts.append(f"q = {_half_up(q, 2)}, so {effect}")
    parts.append(f"{_half_up(coverage * 100, 0)}% of doors already covered")
    if registration is not None and registration >= 1:
        parts.append(f"about {_half_up(registration, 0)} adult French residents not registered")
    if suppressed:
        parts.append("canvass feedback hidden (fewer than k_min conversations)")
    return "; ".join(parts) + "."
