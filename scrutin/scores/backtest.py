"""Backtest: do the targeting components, computed from reference elections only, predict a later
election? Pure computation (no database): `pipeline/commands/backtest.py` reads the bureau
histories and publishes what `run_backtest` returns (docs/backtest.md).

Why: the scores are "explained scores you can argue with"; arguing needs evidence. A component
that does not beat a naive baseline on real elections should not steer volunteers.

For each bureau with results at every reference AND at the target, five quantities:

- `turnout`: voters / registered;
- `bloc_share`: the campaign bloc's share of valid votes;
- `margin`: the bloc's share minus its rival's (the rival by the campaign file's rule, found at
  the reference the prediction comes from, and at the target for the actual value);
- `volatility`: the Pedersen index of the bloc shares; predicted between the two references the
  model uses (h and l), actual between the most recent reference and the target;
- `plan_value`: the model's value of one conversation, tau x max(margin, 0)-side sign rule +
  pi x volatility as published (`formulas.py`), with the actual value recomputed with hindsight
  (the target as h, the most recent reference as l): the ranking of the plan.

Predictors (`PREDICTORS`):

- `model`: what the targeting mart assumes: values at h (the reference with the highest
  territory turnout, the high-salience one) and the Pedersen index between h and l (the
  reference with the lowest territory turnout). With one reference, h = l: no volatility;
- `carry_forward`: the most recent reference's value;
- `uniform_swing`: carry_forward + (territory value at the target - at the most recent
  reference), territory values weighted as the quantity is (turnout by registered, shares by
  valid votes). It uses the target's territory-wide figure, so it is an upper bound of what a
  poll could give: a bureau-level model should at least match its ranking;
- `territory_mean`: every bureau gets the most recent reference's territory value (no ranking).

Metrics per (quantity, predictor): n, MAE, R^2 = 1 - SS_res / SS_tot (about the actual mean),
Spearman's rank correlation (average ranks for ties; None when either side is constant), and for
the ranking quantities the top-k overlap: the share of the k best bureaux by prediction that are
among the k best by the actual value (k = `top_k`, default a fifth of the bureaux, at least 1).
Plain Python on purpose: the metrics are recomputable by hand from the published rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from scrutin.scores import formulas

QUANTITIES: tuple[str, ...] = ("turnout", "bloc_share", "margin", "volatility", "plan_value")
PREDICTORS: tuple[str, ...] = ("model", "carry_forward", "uniform_swing", "territory_mean")
RANKED_QUANTITIES = frozenset({"margin", "plan_value"})


class BacktestError(ValueError):
    """The backtest cannot run: the message names the election ids or what is missing."""


@dataclass(frozen=True)
class BureauResult:
    """One bureau at one election: counts only (shares are computed here)."""

    registered: int
    voters: int
    valid_votes: int
    bloc_votes: Mapping[str, int]


@dataclass(frozen=True)
class Election:
    election_id: str
    election_date: date
    bureaux: Mapping[str, BureauResult]


@dataclass(frozen=True)
class Metric:
    quantity: str
    predictor: str
    n: int
    mae: float | None
    r2: float | None
    spearman: float | None
    top_k_overlap: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "quantity": self.quantity,
            "predictor": self.predictor,
            "n": self.n,
            "mae": self.mae,
            "r2": self.r2,
            "spearman": self.spearman,
            "top_k_overlap": self.top_k_overlap,
        }


@dataclass(frozen=True)
class BureauPrediction:
    bureau_id: str
    quantity: str
    predictor: str
    predicted: float | None
    actual: float | None


@dataclass(frozen=True)
class BacktestResult:
    references: tuple[str, ...]
    target: str
    bloc: str
    rival: str
    high: str
    low: str
    top_k: int
    tau: float
    pi: float
    bureaux: tuple[str, ...]
    metrics: tuple[Metric, ...]
    predictions: tuple[BureauPrediction, ...] = field(repr=False)


# ---- metrics ----------------------------------------------------------------------------------


def mean_absolute_error(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    if not actual:
        return None
    return sum(abs(p - a) for p, a in zip(predicted, actual, strict=True)) / len(actual)


def r_squared(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    """1 - SS_res / SS_tot; None when the actual values are constant (SS_tot = 0) or absent.
    Negative when the prediction is worse than the actual mean itself."""
    if not actual:
        return None
    mean = sum(actual) / len(actual)
    ss_tot = sum((a - mean) ** 2 for a in actual)
    if ss_tot == 0:
        return None
    ss_res = sum((a - p) ** 2 for p, a in zip(predicted, actual, strict=True))
    return 1.0 - ss_res / ss_tot


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n, ties sharing the average of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    """Pearson correlation of the average ranks; None with fewer than 2 values or a constant
    side (a constant prediction ranks nothing)."""
    if len(actual) < 2:
        return None
    rp = average_ranks(predicted)
    ra = average_ranks(actual)
    mp = sum(rp) / len(rp)
    ma = sum(ra) / len(ra)
    cov = sum((x - mp) * (y - ma) for x, y in zip(rp, ra, strict=True))
    vp = sum((x - mp) ** 2 for x in rp)
    va = sum((y - ma) ** 2 for y in ra)
    if vp == 0 or va == 0:
        return None
    return cov / math.sqrt(vp * va)


def top_k_overlap(
    keys: Sequence[str], predicted: Sequence[float], actual: Sequence[float], k: int
) -> float | None:
    """Share of the k best keys by prediction that are among the k best by actual value (ties
    by key, so the result never depends on input order). None for a constant prediction."""
    if not keys or k <= 0 or len(set(predicted)) <= 1:
        return None
    k = min(k, len(keys))
    best_p = {key for _, key in sorted(zip((-p for p in predicted), keys, strict=True))[:k]}
    best_a = {key for _, key in sorted(zip((-a for a in actual), keys, strict=True))[:k]}
    return len(best_p & best_a) / k


# ---- quantities -------------------------------------------------------------------------------


def _turnout(b: BureauResult) -> float | None:
    return b.voters / b.registered if b.registered > 0 else None


def _share(b: BureauResult, bloc: str) -> float | None:
    return b.bloc_votes.get(bloc, 0) / b.valid_votes if b.valid_votes > 0 else None


def _shares(b: BureauResult, blocs: Sequence[str]) -> dict[str, float | None]:
    return {x: _share(b, x) for x in blocs}


def _pedersen(a: BureauResult, b: BureauResult, blocs: Sequence[str]) -> float | None:
    sa = _shares(a, blocs)
    sb = _shares(b, blocs)
    left = [v for v in (sa[x] for x in blocs) if v is not None]
    right = [v for v in (sb[x] for x in blocs) if v is not None]
    if len(left) != len(blocs) or len(right) != len(blocs):
        return None  # a bureau without valid votes has no shares
    return float(formulas.pedersen_index(left, right))


def _territory(election: Election, keep: Sequence[str], quantity: str, bloc: str) -> float | None:
    rows = [election.bureaux[b] for b in keep]
    if quantity == "turnout":
        registered = sum(r.registered for r in rows)
        return sum(r.voters for r in rows) / registered if registered else None
    valid = sum(r.valid_votes for r in rows)
    if quantity == "bloc_share":
        return sum(r.bloc_votes.get(bloc, 0) for r in rows) / valid if valid else None
    return None


def _value(margin: float | None, volatility: float | None, tau: float, pi: float) -> float | None:
    """Value of one conversation as the mart prices it: tau x margin + pi x persuadable share,
    and nothing where the bloc does not lead its rival (do_not_mobilise: the plan skips it)."""
    if margin is None:
        return None
    if margin <= 0:
        return 0.0
    return tau * margin + pi * (volatility or 0.0)


# ---- the backtest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """One backtest's fixed choices: the bloc, the rival rule, the common bureaux, which
    reference is h, l and the latest, and the priors pricing a conversation."""

    bloc: str
    rule: str
    blocs: tuple[str, ...]
    keep: tuple[str, ...]
    high: Election
    low: Election
    latest: Election
    target: Election
    tau: float
    pi: float
    # Territory-wide figures, computed once per (election, quantity): a per-bureau recount
    # would make a national backtest quadratic in the number of bureaux.
    cache: dict[tuple[str, str], object] = field(default_factory=dict, compare=False)

    def _cached(self, election: Election, key: str, compute: Callable[[], object]) -> object:
        slot = (election.election_id, key)
        if slot not in self.cache:
            self.cache[slot] = compute()
        return self.cache[slot]

    def rival(self, election: Election, bureau: str) -> str:
        if self.rule == "strongest_other":
            shares = _shares(election.bureaux[bureau], self.blocs)
            return formulas.strongest_other(shares, self.bloc, self.blocs)
        if self.rule == "runoff_opponent":

            def runoff() -> str:
                totals = {
                    x: float(sum(election.bureaux[b].bloc_votes.get(x, 0) for b in self.keep))
                    for x in self.blocs
                }
                return formulas.runoff_opponent(totals, self.bloc, self.blocs)

            return str(self._cached(election, "runoff_opponent", runoff))
        return self.rule

    def margin(self, election: Election, bureau: str) -> float | None:
        b = election.bureaux[bureau]
        share = _share(b, self.bloc)
        rival = _share(b, self.rival(election, bureau))
        return None if share is None or rival is None else share - rival

    def at(self, election: Election, quantity: str, bureau: str) -> float | None:
        """turnout, bloc_share or margin of a bureau at an election."""
        b = election.bureaux[bureau]
        if quantity == "turnout":
            return _turnout(b)
        if quantity == "bloc_share":
            return _share(b, self.bloc)
        return self.margin(election, bureau)

    def model_volatility(self, bureau: str) -> float | None:
        if self.high is self.low:
            return None
        return _pedersen(self.high.bureaux[bureau], self.low.bureaux[bureau], self.blocs)

    def actual(self, quantity: str, bureau: str) -> float | None:
        if quantity in ("turnout", "bloc_share", "margin"):
            return self.at(self.target, quantity, bureau)
        volatility = _pedersen(self.target.bureaux[bureau], self.latest.bureaux[bureau], self.blocs)
        if quantity == "volatility":
            return volatility
        return _value(self.margin(self.target, bureau), volatility, self.tau, self.pi)

    def level(self, election: Election, quantity: str) -> float | None:
        """The territory's value (margins: their mean over the common bureaux)."""

        def compute() -> float | None:
            if quantity != "margin":
                return _territory(election, self.keep, quantity, self.bloc)
            known = [m for m in (self.margin(election, b) for b in self.keep) if m is not None]
            return sum(known) / len(known) if known else None

        value = self._cached(election, f"level:{quantity}", compute)
        return None if value is None else float(value)  # type: ignore[arg-type]

    def predicted(self, quantity: str, predictor: str, bureau: str) -> float | None:
        if quantity == "volatility":
            # The Pedersen index between h and l; carry_forward keeps it (the latest known).
            return (
                self.model_volatility(bureau) if predictor in ("model", "carry_forward") else None
            )
        if quantity == "plan_value":
            if predictor != "model":
                return None
            margin = self.margin(self.high, bureau)
            return _value(margin, self.model_volatility(bureau), self.tau, self.pi)
        by_predictor = {
            "model": lambda: self.at(self.high, quantity, bureau),
            "carry_forward": lambda: self.at(self.latest, quantity, bureau),
            "territory_mean": lambda: self.level(self.latest, quantity),
            "uniform_swing": lambda: self.uniform_swing(quantity, bureau),
        }
        return by_predictor[predictor]()

    def uniform_swing(self, quantity: str, bureau: str) -> float | None:
        base = self.at(self.latest, quantity, bureau)
        before = self.level(self.latest, quantity)
        after = self.level(self.target, quantity)
        if base is None or before is None or after is None:
            return None
        return base + (after - before)


def run_backtest(
    references: Sequence[Election],
    target: Election,
    *,
    bloc: str,
    rival: str,
    blocs: Sequence[str],
    tau: float,
    pi: float,
    top_k: int | None = None,
) -> BacktestResult:
    """Predict every quantity of the target from the references only and score it (see the
    module docstring). Refuses a target among the references and no common bureau."""
    ids = [e.election_id for e in references]
    if not references:
        raise BacktestError("at least one reference election is needed")
    if target.election_id in ids:
        raise BacktestError(f"the target {target.election_id} cannot also be a reference")
    if len(set(ids)) != len(ids):
        raise BacktestError(f"a reference is listed twice: {', '.join(ids)}")
    common = set(target.bureaux)
    for e in references:
        common &= set(e.bureaux)
    if not common:
        raise BacktestError(
            f"no bureau has results at every reference ({', '.join(ids)}) and at the target "
            f"{target.election_id}: nothing to compare (different territories?)"
        )
    keep = tuple(sorted(common))
    by_turnout = sorted(
        references,
        key=lambda e: (_territory(e, keep, "turnout", bloc) or 0.0, e.election_id),
    )
    ctx = _Context(
        bloc=bloc,
        rule=rival,
        blocs=tuple(blocs),
        keep=keep,
        high=by_turnout[-1],
        low=by_turnout[0],
        latest=max(references, key=lambda e: (e.election_date, e.election_id)),
        target=target,
        tau=tau,
        pi=pi,
    )
    k = top_k if top_k is not None else max(1, len(keep) // 5)
    predictions: list[BureauPrediction] = []
    metrics: list[Metric] = []
    for quantity in QUANTITIES:
        truth = {b: ctx.actual(quantity, b) for b in keep}
        for predictor in PREDICTORS:
            guesses = {b: ctx.predicted(quantity, predictor, b) for b in keep}
            if all(v is None for v in guesses.values()):
                continue  # this predictor does not predict this quantity (e.g. one reference)
            metrics.append(_score(quantity, predictor, guesses, truth, k))
            predictions.extend(
                BureauPrediction(b, quantity, predictor, guesses[b], truth[b]) for b in keep
            )
    return BacktestResult(
        references=tuple(ids),
        target=target.election_id,
        bloc=bloc,
        rival=rival,
        high=ctx.high.election_id,
        low=ctx.low.election_id,
        top_k=k,
        tau=tau,
        pi=pi,
        bureaux=keep,
        metrics=tuple(metrics),
        predictions=tuple(predictions),
    )


def _score(
    quantity: str,
    predictor: str,
    guesses: Mapping[str, float | None],
    truth: Mapping[str, float | None],
    k: int,
) -> Metric:
    """The metrics over the bureaux where both the prediction and the actual value exist."""
    keys: list[str] = []
    ps: list[float] = []
    as_: list[float] = []
    for b in sorted(truth):
        guess, real = guesses.get(b), truth[b]
        if guess is not None and real is not None:
            keys.append(b)
            ps.append(float(guess))
            as_.append(float(real))
    return Metric(
        quantity=quantity,
        predictor=predictor,
        n=len(keys),
        mae=mean_absolute_error(ps, as_),
        r2=r_squared(ps, as_),
        spearman=spearman(ps, as_),
        top_k_overlap=top_k_overlap(keys, ps, as_, k) if quantity in RANKED_QUANTITIES else None,
    )
