"""Ecological regression behind the gap score: bloc share of a bureau vs its census profile.

`GAP = predicted − actual`: a bureau whose bloc share is below what bureaux with the same census
profile give the bloc (positive gap) may have under-mobilised sympathisers. This is an
ecological inference: it describes bureaux, never individuals (the "ecological fallacy" of
docs/scores.md), and the census shares of a bureau are themselves an allocation.

Ridge regression in closed form on standardised features: the penalty treats every feature
alike whatever its unit, the intercept is not penalised, and `numpy.linalg.solve` on a small
symmetric system gives the same answer on every run (no random start, no iterative solver).
Constant features carry no information and would divide by zero once standardised: they are
dropped, with a note in the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

MIN_BUREAUX = 5
# A feature whose (weighted) standard deviation is below this is treated as constant.
CONSTANT_TOLERANCE = 1e-12


class EcologicalError(ValueError):
    """The regression cannot be fitted on these inputs (too few bureaux, bad shapes...)."""


@dataclass(frozen=True)
class EcologicalFit:
    """A fitted ridge model, coefficients in the features' original units.

    feature_names: every column given to `fit`, in order (what `predict` expects);
    kept: the columns used (constant ones dropped); coefficients: one per kept column;
    r2 / rmse: (weighted) in-sample fit; n: bureaux; lam: ridge penalty; notes: what was dropped.
    """

    feature_names: tuple[str, ...]
    kept: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    r2: float
    rmse: float
    n: int
    lam: float
    notes: tuple[str, ...] = ()

    def coefficient(self, name: str) -> float:
        """Coefficient of a feature (0.0 for a dropped constant feature)."""
        if name not in self.feature_names:
            raise KeyError(name)
        return self.coefficients[self.kept.index(name)] if name in self.kept else 0.0


def fit(
    X: ArrayLike,  # noqa: N803 -- the design matrix, by statistical convention
    y: ArrayLike,
    feature_names: Sequence[str],
    lam: float,
    weights: ArrayLike | None = None,
) -> EcologicalFit:
    """Fit y ≈ intercept + X @ beta minimising Σ w (y − ŷ)² + lam × Σ (beta_j × sd_j)².

    Weights (e.g. valid votes) are normalised to mean 1, so lam has the same meaning with or
    without them: it is worth lam bureaux of evidence per standardised coefficient.
    """
    x = np.asarray(X, dtype=np.float64)
    target = np.asarray(y, dtype=np.float64)
    names = tuple(feature_names)
    if x.ndim != 2:
        raise EcologicalError(f"X must be 2-dimensional (bureaux × features), got {x.ndim}")
    n, p = x.shape
    if target.shape != (n,):
        raise EcologicalError(f"y must have one value per bureau ({n}), got shape {target.shape}")
    if len(names) != p:
        raise EcologicalError(f"{len(names)} feature names for {p} columns")
    if n < MIN_BUREAUX:
        raise EcologicalError(
            f"{n} bureaux: the ecological regression needs at least {MIN_BUREAUX}"
        )
    if not (np.isfinite(x).all() and np.isfinite(target).all()):
        raise EcologicalError("X and y must be finite (no NaN: drop or impute bureaux first)")
    if lam < 0 or not np.isfinite(lam):
        raise EcologicalError(f"lam must be a finite number >= 0, got {lam}")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise EcologicalError("weights must be one finite value >= 0 per bureau, not all zero")
    w = w * (n / w.sum())

    mean = w @ x / n
    sd = np.sqrt(w @ (x - mean) ** 2 / n)
    keep = sd > CONSTANT_TOLERANCE
    notes = tuple(
        f"feature {name!r} is constant across the bureaux: dropped"
        for name, kept in zip(names, keep, strict=True)
        if not kept
    )
    y_mean = float(w @ target / n)
    z = (x[:, keep] - mean[keep]) / sd[keep]
    yc = target - y_mean
    k = z.shape[1]
    if k:
        gram = z.T @ (z * w[:, None]) + lam * np.eye(k)
        try:
            beta_std = np.linalg.solve(gram, z.T @ (w * yc))
        except np.linalg.LinAlgError as exc:
            raise EcologicalError(
                "collinear features with lam = 0: use lam > 0 or drop a feature"
            ) from exc
    else:
        beta_std = np.zeros(0)
    coefficients = beta_std / sd[keep]
    intercept = y_mean - float(coefficients @ mean[keep])
    fitted = intercept + x[:, keep] @ coefficients
    ss_res = float(w @ (target - fitted) ** 2)
    ss_tot = float(w @ yc**2)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    return EcologicalFit(
        feature_names=names,
        kept=tuple(name for name, kept in zip(names, keep, strict=True) if kept),
        coefficients=tuple(float(c) for c in coefficients),
        intercept=intercept,
        r2=r2,
        rmse=float(np.sqrt(ss_res / n)),
        n=n,
        lam=float(lam),
        notes=notes,
    )


def predict(model: EcologicalFit, X: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """Predicted bloc share for each row of X (all of `model.feature_names`, in order)."""
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(model.feature_names):
        raise EcologicalError(
            f"X must have {len(model.feature_names)} columns ({', '.join(model.feature_names)})"
        )
    idx = [model.feature_names.index(name) for name in model.kept]
    return model.intercept + x[:, idx] @ np.asarray(model.coefficients, dtype=np.float64)


def gap(model: EcologicalFit, X: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """GAP = predicted − actual bloc share: positive where the bloc under-performs its profile."""
    return predict(model, X) - np.asarray(y, dtype=np.float64)
