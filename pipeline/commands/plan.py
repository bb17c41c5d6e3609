"""`scrutin plan --hours N`: where the next N canvasser-hours win the most expected net votes.

Reads the PUBLISHED targeting mart (`mart.polling_station_targeting`), so the plan is built on
audited scores only, and allocates the hours with `scrutin.scores.plan.allocate_hours` (greedy
steps of `scores.plan_step_hours`, diminishing returns, never to a do_not_mobilise bureau):
the same algorithm, hence the same plan for the same hours, as the published
`mart.canvass_plan`.

The mart was built with some score parameters; the plan uses the campaign file's doors per
hour, coverage discount and step. When the two disagree (the file changed since the last
`scrutin build`), the plan would mix two parameter sets: it is refused unless
`--allow-stale` says the operator knows.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipeline import exit_codes

TARGETING_TABLE = "mart.polling_station_targeting"


class PlanError(RuntimeError):
    """The plan cannot be made from what is published (no mart, stale parameters...)."""


@dataclass(frozen=True)
class PlannedBureau:
    """One line of the plan, with what an organiser needs to send people there."""

    rank: int
    bureau_id: str
    commune_name: str | None
    code_bv: str
    polling_place_name: str | None
    hours: float
    expected_net_votes: float
    coverage_before: float
    coverage_after: float


@dataclass(frozen=True)
class Plan:
    hours_requested: float
    hours_allocated: float
    expected_net_votes: float
    params_version: str
    rows: tuple[PlannedBureau, ...]
    eligible_bureaux: int
    excluded_do_not_mobilise: int
    prior_profile: str = "fr"
    not_scored: int = 0


def make_plan(
    url: str,
    hours: float,
    *,
    communes: Sequence[str] = (),
    allow_stale: bool = False,
) -> Plan:
    """Plan `hours` canvasser-hours over the published targeting mart (optionally some communes)."""
    import psycopg

    from pipeline.campaign_access import configured_campaign_id
    from scrutin.db import connect
    from scrutin.scores.params import load_score_params
    from scrutin.scores.plan import BureauInput, allocate_hours

    if not math.isfinite(hours) or hours < 0:
        raise PlanError(f"--hours must be a finite number >= 0, got {hours:g}")
    params = load_score_params()
    query = (
        "select bureau_id, commune_name, code_bv, polling_place_name, "
        "value_per_canvasser_hour_uncovered, doors, coverage, do_not_mobilise, params_version, "
        f"prior_profile from {TARGETING_TABLE} where campaign_id = %s"
    )
    # the campaign file's scores: the mart may hold several campaigns'
    args: list[Any] = [configured_campaign_id()]
    if communes:
        query += " and code_commune = any(%s)"
        args.append(list(communes))
    try:
        with connect(url) as conn:
            rows = conn.execute(query + " order by bureau_id", args).fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise PlanError(
            f"{TARGETING_TABLE} does not exist: run `scrutin build` (or the demo) first"
        ) from exc
    if not rows:
        where = f" for commune(s) {', '.join(communes)}" if communes else ""
        raise PlanError(f"{TARGETING_TABLE} has no bureau{where}")

    versions = sorted({row[8] for row in rows})
    current = params.params_version()
    if versions != [current] and not allow_stale:
        raise PlanError(
            f"{TARGETING_TABLE} was built with score parameters {', '.join(versions)} but the "
            f"campaign file now gives {current}: run `scrutin build` to publish scores with the "
            "current parameters, or pass --allow-stale to plan on the published ones anyway"
        )

    info = {row[0]: row for row in rows}
    inputs = [
        BureauInput(
            bureau_id=row[0],
            value_per_hour=float(row[4]),
            doors=float(row[5]),
            coverage=float(row[6]),
            net_positive=row[7] is False,
        )
        for row in rows
        if row[4] is not None and row[5] is not None and row[6] is not None
    ]
    allocated = allocate_hours(
        inputs,
        hours,
        params.plan_step_hours,
        doors_per_hour=params.doors_per_canvasser_hour,
        gamma=params.coverage_gamma,
    )
    start = {b.bureau_id: min(1.0, max(0.0, b.coverage)) for b in inputs}
    planned = tuple(
        PlannedBureau(
            rank=rank,
            bureau_id=row.bureau_id,
            commune_name=info[row.bureau_id][1],
            code_bv=info[row.bureau_id][2],
            polling_place_name=info[row.bureau_id][3],
            hours=row.hours,
            expected_net_votes=row.expected_net_votes,
            coverage_before=start[row.bureau_id],
            coverage_after=row.coverage_after,
        )
        for rank, row in enumerate(allocated, start=1)
    )
    return Plan(
        hours_requested=hours,
        hours_allocated=sum(p.hours for p in planned),
        expected_net_votes=sum(p.expected_net_votes for p in planned),
        params_version=versions[0] if len(versions) == 1 else ",".join(versions),
        rows=planned,
        eligible_bureaux=sum(1 for b in inputs if b.net_positive and b.value_per_hour > 0),
        excluded_do_not_mobilise=sum(1 for row in rows if row[7] is True),
        prior_profile=",".join(sorted({str(row[9]) for row in rows})),
        not_scored=sum(1 for row in rows if row[7] is None),
    )


def render_table(plan: Plan) -> str:
    """The plan as an aligned text table with a summary line (what the README shows)."""
    header = ("rank", "bureau", "commune", "polling place", "hours", "net votes", "coverage")
    lines = [
        (
            str(p.rank),
            p.bureau_id,
            p.commune_name or "",
            (p.polling_place_name or "")[:28],
            f"{p.hours:g}",
            f"{p.expected_net_votes:.2f}",
            f"{p.coverage_before:.0%} -> {p.coverage_after:.0%}",
        )
        for p in plan.rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    right = {0, 4, 5}

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [fmt(header), fmt(["-" * w for w in widths]), *(fmt(line) for line in lines)]
    out.append(
        f"{plan.hours_allocated:g} of {plan.hours_requested:g} canvasser-hours allocated to "
        f"{len(plan.rows)} {'bureau' if len(plan.rows) == 1 else 'bureaux'}: "
        f"{plan.expected_net_votes:.1f} expected net votes "
        f"(params {plan.params_version}; {plan.excluded_do_not_mobilise} bureaux excluded as "
        "do_not_mobilise" + (f", {plan.not_scored} not scored" if plan.not_scored else "") + ")."
    )
    if plan.hours_allocated + 1e-9 < plan.hours_requested:
        out.append(
            f"{plan.hours_requested - plan.hours_allocated:g} hours left unallocated: no eligible "
            "bureau has doors left to knock (or the budget is not a multiple of the step)."
        )
    out.append(
        f"Expected votes are model outputs on the {plan.prior_profile} prior profile, not "
        "promises: docs/scores.md, docs/backtest.md."
    )
    return "\n".join(out)


def cmd_plan(args: argparse.Namespace) -> int:
    from scrutin.campaign import CampaignConfigError
    from scrutin.config import database_url

    try:
        plan = make_plan(
            database_url(), args.hours, communes=args.commune or (), allow_stale=args.allow_stale
        )
    except (PlanError, CampaignConfigError) as exc:
        print(f"scrutin plan: {exc}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    fields = [
        "rank",
        "bureau_id",
        "commune_name",
        "code_bv",
        "polling_place_name",
        "hours",
        "expected_net_votes",
        "coverage_before",
        "coverage_after",
    ]
    if args.format == "json":
        payload = {
            "hours_requested": plan.hours_requested,
            "hours_allocated": plan.hours_allocated,
            "expected_net_votes": plan.expected_net_votes,
            "params_version": plan.params_version,
            "bureaux": [{f: getattr(p, f) for f in fields} for p in plan.rows],
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(fields)
        for p in plan.rows:
            writer.writerow([getattr(p, f) for f in fields])
    else:
        print(render_table(plan))
    return 0


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = top.add_parser(
        "plan",
        help="allocate N canvasser-hours across bureaux (reads mart.polling_station_targeting)",
        description="Greedy volunteer plan on the published targeting scores: hours go, in "
        "steps of scores.plan_step_hours, where they win the most expected net votes, with "
        "diminishing returns as doors get knocked; never to a do_not_mobilise bureau.",
    )
    p.add_argument("--hours", type=float, required=True, help="canvasser-hours to allocate")
    p.add_argument(
        "--commune",
        action="append",
        metavar="CODE",
        help="restrict to a commune (INSEE code); repeat for several",
    )
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument(
        "--allow-stale",
        action="store_true",
        help="plan even if the mart was built with other score parameters than the campaign "
        "file (any changed key counts, plan_hours included: the published plan is stale too)",
    )
    p.set_defaults(func=cmd_plan)
