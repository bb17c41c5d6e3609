"""Score components of DESIGN.md "Scores", one pure vectorised function each.

Every function accepts scalars or numpy arrays (broadcast together) and returns a float or an
array: the targeting mart will call them on whole columns. Notation, for bureau b: V voters,
X valid votes, S votes of the campaign's bloc, at the high-salience (h) and low-salience (l)
reference elections; C conversations; q the bloc share among mobilisable voters (the bureau's
share at h), q_rival the rival's.

None of these numbers is a measurement: they are model outputs whose priors (tau, pi,
volatility, open rate) come from US field experiments or guesses. docs/scores.md says where each
comes from and what it does not tell.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    roll change) is information the analyst should see. Since issue 11 INT and RES describe
    the pool only: the value of a mobilised voter uses the bloc shares at h (RES / INT mixed
    vote swing with mobilisation and moved with every candidate mapping).
    """
    return _out(_arr(voters_high) - _arr(voters_low))


def reservoir(bloc_votes_high: ArrayLike, bloc_votes_low: ArrayLike) -> Any:
    """RES = max(0, S_h − S_l): bloc voters at the high-salience election who did not show up
    (or voted otherwise) at the low-salience one: the bloc's own intermittent voters."""
    return _out(np.maximum(0.0, _arr(bloc_votes_high) - _arr(bloc_votes_low)))


def net_value_per_mobilised_voter(q_bloc: ArrayLike, q_rival: ArrayLike) -> Any:
    """q_bloc − q_rival: net votes (bloc minus rival) one more mobilised voter brings.

    Rival-aware: in a fragmented first round the old 2q − 1 (the bloc against EVERYONE else)
    meant "mobilise only where the bloc holds an absolute majority"; what a campaign loses by
    bringing out a voter is the rival's vote, not the vote of a minor list. With the rival set to
    "everyone else" (q_rival = 1 − q) this is 2q − 1 again. <= 0: do not mobilise.
    """
    return _out(_arr(q_bloc) - _arr(q_rival))


def net_per_conversation(margin: ArrayLike, tau: float) -> Any:
    """tau × margin: net votes won by one conversation of an untargeted door mobilisation.

    Each conversation turns out tau extra voters, each worth `margin` = q_bloc − q_rival net
    votes (`net_value_per_mobilised_voter`). With the `fr` profile tau = 0 (Pons 2018: no turnout
    effect in France) and the value of a conversation is persuasion only.
    """
    return _out(tau * _arr(margin))


def net_mobilisation(conversations: ArrayLike, margin: ArrayLike, tau: float) -> Any:
    """NET = C × tau × margin: expected net votes of C conversations (negative when the bloc
    trails its rival among the mobilisable voters)."""
    return _out(_arr(conversations) * tau * _arr(margin))


def pedersen_index(shares_a: ArrayLike, shares_b: ArrayLike) -> Any:
    """½ × Σ_blocs |share_a − share_b|: the share of voters who would have to change bloc to turn
    one election's result into the other's (Pedersen's volatility index).

    The last axis is the blocs (one column per bloc, same order in both). Used as the bureau's
    persuadable share: where the bureau's vote moved between the two reference elections, more
    of its voters are open to a change. A net figure, so a lower bound of individual switching;
    it also counts differences in who turned out, which is why the canvass's undecided answers
    update it.
    """
    a = _arr(shares_a)
    b = _arr(shares_b)
    return _out(0.5 * np.sum(np.abs(a - b), axis=-1))


def persuasion(valid_votes: ArrayLike, persuadable_share: ArrayLike, pi: float) -> Any:
    """PERS = X × persuadable share × pi: votes a full persuasion canvass of the bureau could win
    (X valid votes, a share of them persuadable, a conversation persuades with probability pi)."""
    return _out(_arr(valid_votes) * _arr(persuadable_share) * pi)


def persuasion_per_conversation(persuadable_share: ArrayLike, pi: float) -> Any:
    """persuadable share × pi: expected votes won by persuasion in one conversation (PERS / X).

    Per bureau: with tau = 0 this is what ranks the bureaux (a bureau whose vote moves between
    elections is worth more hours than one whose vote never moves)."""
    return _out(_arr(persuadable_share) * pi)


def strongest_other(shares: Mapping[str, float | None], bloc: str, order: tuple[str, ...]) -> str:
    """The rival `strongest_other`: the bloc other than `bloc` with the largest share; ties go to
    the bloc listed first in `order` (dbt vars.blocs, as the SQL breaks them). A missing share
    counts as 0."""
    others = [b for b in order if b != bloc]
    return max(others, key=lambda b: (shares.get(b) or 0.0, -order.index(b)))


def runoff_opponent(votes: Mapping[str, float | None], bloc: str, order: tuple[str, ...]) -> str:
    """The rival `runoff_opponent`: of the two blocs with the most votes over the territory, the
    one that is not `bloc`; when `bloc` is not in the top two, the strongest (the one the
    campaign would have to overtake to reach the run-off). Ties as in `strongest_other`."""
    ranked = sorted(order, key=lambda b: (-(votes.get(b) or 0.0), order.index(b)))
    top_two = ranked[:2]
    if bloc in top_two:
        return next(b for b in top_two if b != bloc)
    return ranked[0]


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

    The plan never sends anyone to a do_not_mobilise bureau (the bloc does not lead its rival
    there), whatever persuasion would win: a door campaign there also brings out the rival's
    voters, and persuasion is better done with a targeted list.
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
    rival: str,
    high_label: str,
    q: float,
    q_rival: float,
    margin: float,
    persuadable: float,
    persuasion_per_conv: float,
    net_per_conv: float,
    profile: str,
    coverage: float,
    suppressed: bool = False,
    registration: float | None = None,
) -> str:
    """A one-line English explanation of a bureau's rank, built only from its components.

    English because the mart's column names and the docs are English; the numbers are those of
    the score, so the sentence can be checked against the row. It names the rival, says in words
    when the bureau is do_not_mobilise (the bloc does not lead its rival there), where the
    persuadable share comes from and which prior profile priced the conversation. Example:
    "left 0.41 vs far_right 0.22 (its rival) among the voters of 2024_legi_t1; a mobilised voter
    nets 0.19 votes; persuadable share 0.15 (volatility), so a conversation wins 0.030 votes by
    persuasion and 0.000 by mobilisation (prior profile fr); 35% of doors already covered."
    """
    parts = [
        f"{bloc} {_half_up(q, 2)} vs {rival} {_half_up(q_rival, 2)} (its rival) among the "
        f"voters of {high_label}"
    ]
    if margin > 0:
        parts.append(f"a mobilised voter nets {_half_up(margin, 2)} votes")
    else:
        parts.append(
            f"do not mobilise: {bloc} does not lead {rival} here, so turning voters out helps "
            "the rival"
        )
    source = "volatility" if suppressed else "volatility and canvass undecided"
    persuasion_text = (
        f"persuadable share {_half_up(persuadable, 2)} ({source}), so a conversation wins "
        f"{_half_up(persuasion_per_conv, 3)} votes by persuasion"
    )
    if margin > 0:
        persuasion_text += f" and {_half_up(net_per_conv, 3)} by mobilisation"
    parts.append(persuasion_text + f" (prior profile {profile})")
    parts.append(f"{_half_up(coverage * 100, 0)}% of doors already covered")
    if registration is not None and registration >= 1:
        parts.append(f"about {_half_up(registration, 0)} adult French residents not registered")
    if suppressed:
        parts.append("canvass feedback hidden (fewer than k_min answers)")
    return "; ".join(parts) + "."
