"""Ecological ridge regression: exact recovery, shrinkage, determinism, weights, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from scrutin.scores.ecological import EcologicalError, fit, gap, predict

NAMES = ("share_age_18_24", "share_age_75_plus", "share_female")
TRUE_COEF = np.array([0.8, -0.5, 0.3])
TRUE_INTERCEPT = 0.1


def synthetic(n: int = 60, noise: float = 0.0, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.05, 0.4, size=(n, 3))
    y = TRUE_INTERCEPT + x @ TRUE_COEF + noise * rng.standard_normal(n)
    return x, y


def test_recovers_known_coefficients_without_penalty() -> None:
    x, y = synthetic()
    model = fit(x, y, NAMES, lam=0.0)
    np.testing.assert_allclose(model.coefficients, TRUE_COEF, atol=1e-8)
    assert model.intercept == pytest.approx(TRUE_INTERCEPT, abs=1e-8)
    assert model.r2 == pytest.approx(1.0)
    assert model.rmse < 1e-10
    assert (model.n, model.lam, model.kept) == (60, 0.0, NAMES)
    np.testing.assert_allclose(gap(model, x, y), 0.0, atol=1e-10)


def test_penalty_shrinks_coefficients_towards_zero() -> None:
    x, y = synthetic(noise=0.01)
    norms = [np.abs(fit(x, y, NAMES, lam=lam).coefficients).sum() for lam in (0, 10, 100, 1e4)]
    assert norms == sorted(norms, reverse=True)
    assert norms[-1] < 0.05 * norms[0]
    # The intercept is not penalised: a huge penalty leaves the (mean) level.
    flat = fit(x, y, NAMES, lam=1e12)
    np.testing.assert_allclose(predict(flat, x), y.mean(), atol=1e-6)


def test_deterministic_across_runs() -> None:
    x, y = synthetic(noise=0.02)
    assert fit(x, y, NAMES, lam=3.0) == fit(x.copy(), y.copy(), list(NAMES), lam=3.0)


def test_weights_are_honoured() -> None:
    x, y = synthetic(n=40)
    y_bad = y.copy()
    y_bad[:5] += 0.5  # five outlying bureaux...
    weights = np.ones(40)
    weights[:5] = 0.0  # ...with no weight: the fit is the exact one.
    model = fit(x, y_bad, NAMES, lam=0.0, weights=weights)
    np.testing.assert_allclose(model.coefficients, TRUE_COEF, atol=1e-8)
    # Integer weights act as duplicated bureaux.
    w = np.arange(1, 41) % 3 + 1
    dup_x = np.repeat(x, w, axis=0)
    dup_y = np.repeat(y_bad, w)
    weighted = fit(x, y_bad, NAMES, lam=0.0, weights=w)
    duplicated = fit(dup_x, dup_y, NAMES, lam=0.0)
    np.testing.assert_allclose(weighted.coefficients, duplicated.coefficients, atol=1e-10)
    assert weighted.intercept == pytest.approx(duplicated.intercept, abs=1e-10)


def test_constant_feature_dropped_with_a_note() -> None:
    x, y = synthetic()
    x_const = np.column_stack([x, np.full(len(y), 0.5)])
    model = fit(x_const, y, (*NAMES, "share_constant"), lam=0.0)
    assert model.kept == NAMES
    assert model.coefficient("share_constant") == 0.0
    assert model.coefficient("share_female") == pytest.approx(0.3, abs=1e-8)
    assert any("share_constant" in note and "constant" in note for note in model.notes)
    np.testing.assert_allclose(predict(model, x_const), y, atol=1e-10)


def test_refusals() -> None:
    x, y = synthetic(n=4)
    with pytest.raises(EcologicalError, match="at least 5"):
        fit(x, y, NAMES, lam=1.0)
    x, y = synthetic()
    with pytest.raises(EcologicalError, match="feature names"):
        fit(x, y, NAMES[:2], lam=1.0)
    y_nan = y.copy()
    y_nan[3] = np.nan
    with pytest.raises(EcologicalError, match="finite"):
        fit(x, y_nan, NAMES, lam=1.0)
    with pytest.raises(EcologicalError, match="weights"):
        fit(x, y, NAMES, lam=1.0, weights=-np.ones(len(y)))
    model = fit(x, y, NAMES, lam=1.0)
    with pytest.raises(EcologicalError, match="3 columns"):
        predict(model, x[:, :2])
