"""The gate's ecological step: fit the regression between the two dbt builds, store predictions.

`dbt build` (stage 1) materialises `intermediate.int_targeting__features` (bloc share at the
target election, valid votes, census shares as `feature_*` columns); this step fits the ridge
regression of `scrutin.scores.ecological` on the bureaux whose row is complete, writes every
prediction to `scores.ecological_predictions` and the fit's statistics to `ops.ecological_fits`,
in one transaction; stage 2 (`dbt build --select tag:scores`) then reads the predictions into
`mart_audit.polling_station_targeting` (GAP = predicted − actual).

When the data cannot support a fit (fewer than `ecological.MIN_BUREAUX` complete bureaux: no
census loaded, target election not loaded...) the step records a `skipped` fit with the reason
and empties the predictions: the scores are published without GAP rather than not at all, and
`ops.ecological_fits` says why.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from scrutin.scores import ecological
from scrutin.scores.params import ScoreParams

log = logging.getLogger(__name__)

FEATURES_TABLE = "intermediate.int_targeting__features"
PREDICTIONS_TABLE = "scores.ecological_predictions"
FEATURE_PREFIX = "feature_"


@dataclass(frozen=True)
class FitReport:
    """What the step did: `status` is 'fitted' or 'skipped' (then `reason` says why)."""

    run_id: str
    status: str
    n_bureaux: int
    n_excluded: int
    predictions: int
    r2: float | None = None
    rmse: float | None = None
    reason: str | None = None
    coefficients: dict[str, float] | None = None


def _read_features(conn: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    with conn.cursor() as cur:
        cur.execute(f"select * from {FEATURES_TABLE} order by bureau_id")
        names = [d.name for d in cur.description]
        return names, cur.fetchall()


def fit_ecological(url: str, run_id: str, params: ScoreParams) -> FitReport:
    """Fit on `intermediate.int_targeting__features` and store predictions and statistics.

    Rows with a missing actual share, a missing feature or no valid votes are left out of the
    fit and get no prediction (counted in `n_excluded`). Deterministic: rows are read in
    bureau_id order and the ridge solution is closed-form.
    """
    from scrutin.db import connect

    with connect(url) as conn:
        names, rows = _read_features(conn)
    missing = {"bureau_id", "weight", "actual_share"} - set(names)
    features = [name for name in names if name.startswith(FEATURE_PREFIX)]
    if missing or not features:
        raise ecological.EcologicalError(
            f"{FEATURES_TABLE} lacks {sorted(missing) or 'feature_* columns'}: "
            "was stage 1 of the dbt build run?"
        )
    col = {name: i for i, name in enumerate(names)}
    complete = [
        row
        for row in rows
        if row[col["actual_share"]] is not None
        and row[col["weight"]] is not None
        and row[col["weight"]] > 0
        and all(row[col[f]] is not None for f in features)
    ]
    n_excluded = len(rows) - len(complete)
    bureau_ids = [row[col["bureau_id"]] for row in complete]
    x = np.array([[float(row[col[f]]) for f in features] for row in complete], dtype=np.float64)
    y = np.array([float(row[col["actual_share"]]) for row in complete], dtype=np.float64)
    w = np.array([float(row[col["weight"]]) for row in complete], dtype=np.float64)
    short_names = [f.removeprefix(FEATURE_PREFIX) for f in features]

    try:
        model = ecological.fit(
            x.reshape(len(complete), len(features)),
            y,
            short_names,
            lam=params.ridge_lambda,
            weights=w,
        )
    except ecological.EcologicalError as exc:
        reason = f"{exc} ({len(rows)} bureaux at {params.target_election}, {n_excluded} incomplete)"
        log.warning("ecological fit skipped: %s", reason)
        report = FitReport(run_id, "skipped", len(complete), n_excluded, 0, reason=reason)
        _store(url, params, report, [], None)
        return report

    predicted = np.clip(ecological.predict(model, x), 0.0, 1.0)
    coefficients = {name: model.coefficient(name) for name in short_names}
    report = FitReport(
        run_id,
        "fitted",
        model.n,
        n_excluded,
        len(bureau_ids),
        r2=model.r2,
        rmse=model.rmse,
        coefficients=coefficients,
    )
    _store(url, params, report, list(zip(bureau_ids, predicted.tolist(), strict=True)), model)
    log.info(
        "ecological fit %s: %d bureaux (%d left out), R² %.3f, RMSE %.4f",
        run_id,
        model.n,
        n_excluded,
        model.r2,
        model.rmse,
    )
    return report


def _store(
    url: str,
    params: ScoreParams,
    report: FitReport,
    predictions: list[tuple[str, float]],
    model: ecological.EcologicalFit | None,
) -> None:
    """Replace the predictions and log the fit, in one transaction (readers see old or new)."""
    from scrutin.db import connect
    from scrutin.warehouse.migrate import require_migrated

    with connect(url) as conn:
        require_migrated(conn)
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(f"delete from {PREDICTIONS_TABLE}")
            with cur.copy(
                f"copy {PREDICTIONS_TABLE} (bureau_id, predicted_share, fit_run_id) from stdin"
            ) as copy:
                for bureau_id, share in predictions:
                    copy.write_row((bureau_id, share, report.run_id))
            cur.execute(
                """
                insert into ops.ecological_fits
                    (run_id, params_version, bloc, target_election, status, reason, n_bureaux,
                     n_excluded, r2, rmse, ridge_lambda, intercept, coefficients, notes)
                values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)
                on conflict (run_id) do update set
                    fitted_at = now(), params_version = excluded.params_version,
                    bloc = excluded.bloc, target_election = excluded.target_election,
                    status = excluded.status, reason = excluded.reason,
                    n_bureaux = excluded.n_bureaux, n_excluded = excluded.n_excluded,
                    r2 = excluded.r2, rmse = excluded.rmse,
                    ridge_lambda = excluded.ridge_lambda, intercept = excluded.intercept,
                    coefficients = excluded.coefficients, notes = excluded.notes
                """,
                (
                    report.run_id,
                    params.params_version(),
                    params.bloc,
                    params.target_election,
                    report.status,
                    report.reason,
                    report.n_bureaux,
                    report.n_excluded,
                    report.r2,
                    report.rmse,
                    params.ridge_lambda,
                    model.intercept if model else None,
                    json.dumps(report.coefficients) if report.coefficients else None,
                    json.dumps(list(model.notes)) if model else None,
                ),
            )
