"""`scrutin backtest --reference E1 [E2 ...] --target E3`: do the targeting components predict a
later election? Reads the loaded bureau histories (`intermediate.int_bureau_history__by_election`,
every loaded election with its bloc votes), computes every quantity from the references only
with `scrutin.scores.backtest`, prints the metrics beside the naive baselines and publishes the
run (`scores.backtest_runs` / `scores.backtest_bureaux`, read by the views mart.backtest_runs /
mart.backtest_bureaux), tagged with the campaign file's params_version. docs/backtest.md.

Works on any loaded elections: an unknown id is refused with the loaded ones listed, a pair
without a common bureau with what each covers.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline import exit_codes

if TYPE_CHECKING:
    from scrutin.scores.backtest import BacktestResult, Election
    from scrutin.scores.params import ScoreParams

HISTORY_TABLE = "intermediate.int_bureau_history__by_election"
# Parameter ranges of --sensitivity: each run's plan (top-k by plan_value) is compared with the
# campaign file's.
SENSITIVITY_TAUS = (0.0, 1.0 / 28.0, 0.0714)
SENSITIVITY_PIS = (0.1, 0.2, 0.3)


class BacktestCommandError(RuntimeError):
    """The backtest cannot run on what is loaded: the message says what is missing."""


def load_elections(url: str, election_ids: Sequence[str], blocs: Sequence[str]) -> list[Election]:
    """The bureau histories of `election_ids` (refused with the loaded ids if one is unknown)."""
    import psycopg
    from psycopg.rows import dict_row

    from scrutin.scores.backtest import BureauResult, Election

    votes = ", ".join(f"votes_{b}" for b in blocs)
    try:
        with psycopg.connect(url, row_factory=dict_row) as conn:
            loaded = {
                r["election_id"]: r["election_date"]
                for r in conn.execute(
                    f"select election_id, min(election_date) as election_date "
                    f"from {HISTORY_TABLE} group by election_id"
                )
            }
            unknown = [e for e in election_ids if e not in loaded]
            if unknown:
                raise BacktestCommandError(
                    f"unknown election id(s) {', '.join(unknown)}: the loaded ones are "
                    + (", ".join(sorted(loaded)) or "none (run `scrutin demo` or load results)")
                )
            rows = conn.execute(
                f"select election_id, bureau_id, registered, voters, valid_votes, {votes} "
                f"from {HISTORY_TABLE} where election_id = any(%s)",
                (list(election_ids),),
            ).fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise BacktestCommandError(
            f"{HISTORY_TABLE} does not exist: run `scrutin build` once results are loaded"
        ) from exc
    bureaux: dict[str, dict[str, BureauResult]] = {e: {} for e in election_ids}
    for r in rows:
        bureaux[r["election_id"]][r["bureau_id"]] = BureauResult(
            registered=int(r["registered"] or 0),
            voters=int(r["voters"] or 0),
            valid_votes=int(r["valid_votes"] or 0),
            bloc_votes={b: int(r[f"votes_{b}"] or 0) for b in blocs},
        )
    return [Election(e, loaded[e], bureaux[e]) for e in election_ids]


def publish(url: str, result: BacktestResult, params: ScoreParams) -> str:
    """Write the run and its rows (COPY), in one transaction; returns the run id."""
    import psycopg

    run_id = f"backtest-{uuid.uuid4().hex[:12]}"
    metrics = json.dumps([m.as_dict() for m in result.metrics])
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "insert into scores.backtest_runs (run_id, params_version, reference_ids, target_id, "
            "bloc, rival_rule, high_id, low_id, prior_profile, tau, pi, top_k, n_bureaux, "
            "metrics) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                run_id,
                params.params_version(),
                list(result.references),
                result.target,
                result.bloc,
                result.rival,
                result.high,
                result.low,
                params.profile,
                result.tau,
                result.pi,
                result.top_k,
                len(result.bureaux),
                metrics,
            ),
        )
        with cur.copy(
            "copy scores.backtest_bureaux (run_id, bureau_id, quantity, predictor, predicted, "
            "actual) from stdin"
        ) as copy:
            for p in result.predictions:
                copy.write_row(
                    (run_id, p.bureau_id, p.quantity, p.predictor, p.predicted, p.actual)
                )
    return run_id


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_table(result: BacktestResult, run_id: str | None) -> str:
    """Metrics, model and baselines side by side, one line per (quantity, predictor)."""
    header = ("quantity", "predictor", "n", "MAE", "R2", "Spearman", f"top-{result.top_k}")
    lines = [
        (
            m.quantity,
            m.predictor,
            str(m.n),
            _fmt(m.mae, 4),
            _fmt(m.r2),
            _fmt(m.spearman),
            _fmt(m.top_k_overlap, 2),
        )
        for m in result.metrics
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = [
        f"backtest: {', '.join(result.references)} -> {result.target}, bloc {result.bloc}, "
        f"rival {result.rival}; h = {result.high}, l = {result.low}; "
        f"{len(result.bureaux)} common bureaux",
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    if result.high == result.low:
        out.append(
            "One reference: h = l, so there is no volatility to predict and the model's levels "
            "are the reference's own (model = carry_forward)."
        )
    if run_id:
        out.append(f"published as {run_id} (mart.backtest_runs, mart.backtest_bureaux)")
    return "\n".join(out)


def sensitivity(
    references: Sequence[Election], target: Election, params: ScoreParams, blocs: Sequence[str]
) -> list[dict[str, Any]]:
    """The plan's top-k bureaux (by the model's plan_value) under each prior profile and over
    ranges of tau and pi, compared with the campaign file's: the share of its top-k kept."""
    from scrutin.scores.backtest import run_backtest
    from scrutin.scores.params import PROFILES

    def top(tau: float, pi: float) -> tuple[set[str], int]:
        result = run_backtest(
            references, target, bloc=params.bloc, rival=params.rival, blocs=blocs, tau=tau, pi=pi
        )
        values = [
            (p.predicted, p.bureau_id)
            for p in result.predictions
            if p.quantity == "plan_value" and p.predictor == "model" and p.predicted is not None
        ]
        ranked = sorted(values, key=lambda v: (-v[0], v[1]))[: result.top_k]
        return {b for _, b in ranked}, result.top_k

    base, k = top(params.tau, params.pi)
    cases = [(f"profile {name}", p["tau"], p["pi"]) for name, p in PROFILES.items()]
    cases += [
        (f"tau {tau:.4f}, pi {pi:g}", tau, pi) for tau in SENSITIVITY_TAUS for pi in SENSITIVITY_PIS
    ]
    out = []
    for label, tau, pi in cases:
        plan, _ = top(tau, pi)
        out.append(
            {
                "case": label,
                "tau": tau,
                "pi": pi,
                "top_k": k,
                "overlap_with_campaign_plan": len(plan & base) / k if k else None,
            }
        )
    return out


def cmd_backtest(args: argparse.Namespace) -> int:
    from scrutin.campaign import CampaignConfigError
    from scrutin.config import database_url
    from scrutin.scores.backtest import BacktestError, run_backtest
    from scrutin.scores.params import load_score_params
    from scrutin.vocabulary import BLOCS

    try:
        params = load_score_params()
        bloc = args.bloc or params.bloc
        if bloc not in BLOCS:
            raise BacktestCommandError(f"--bloc {bloc!r} is not a bloc ({', '.join(BLOCS)})")
        rival = params.rival if params.rival != bloc else "strongest_other"
        if args.target in args.reference:
            raise BacktestCommandError(f"the target {args.target} cannot also be a reference")
        url = database_url()
        elections = load_elections(url, [*args.reference, args.target], BLOCS)
        references, target = elections[:-1], elections[-1]
        result = run_backtest(
            references,
            target,
            bloc=bloc,
            rival=rival,
            blocs=BLOCS,
            tau=params.tau,
            pi=params.pi,
            top_k=args.top_k,
        )
        run_id = None if args.no_publish else publish(url, result, params)
        sens = sensitivity(references, target, params, BLOCS) if args.sensitivity else None
    except (BacktestCommandError, BacktestError, CampaignConfigError) as exc:
        print(f"scrutin backtest: {exc}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    if args.format == "json":
        payload: dict[str, Any] = {
            "run_id": run_id,
            "references": list(result.references),
            "target": result.target,
            "bloc": result.bloc,
            "rival": result.rival,
            "high": result.high,
            "low": result.low,
            "n_bureaux": len(result.bureaux),
            "top_k": result.top_k,
            "params_version": params.params_version(),
            "prior_profile": params.profile,
            "metrics": [m.as_dict() for m in result.metrics],
        }
        if sens is not None:
            payload["sensitivity"] = sens
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        print(render_table(result, run_id))
        if sens is not None:
            print(f"\nsensitivity: share of the campaign plan's top-{result.top_k} kept")
            for case in sens:
                print(f"  {case['case']:<28} {_fmt(case['overlap_with_campaign_plan'], 2)}")
    return 0


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = top.add_parser(
        "backtest",
        help="predict a loaded election from earlier ones; metrics beside naive baselines",
        description="Compute turnout, bloc share, bloc-minus-rival margin, volatility and the "
        "plan's ranking from the reference elections only, score them against the target "
        "(MAE, R2, Spearman, top-k overlap) beside carry_forward, uniform_swing and "
        "territory_mean, and publish the run (mart.backtest_runs, mart.backtest_bureaux).",
    )
    p.add_argument("--reference", nargs="+", required=True, metavar="ELECTION_ID")
    p.add_argument("--target", required=True, metavar="ELECTION_ID")
    p.add_argument("--bloc", help="the bloc to score (default: the campaign file's)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument(
        "--sensitivity",
        action="store_true",
        help="also report the plan's top-k overlap across prior profiles and tau / pi ranges",
    )
    p.add_argument("--top-k", type=int, help="k of the top-k overlap (default: a fifth)")
    p.add_argument(
        "--no-publish", action="store_true", help="print only; write nothing to the warehouse"
    )
    p.set_defaults(func=cmd_backtest)
