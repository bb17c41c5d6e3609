"""A one-constituency campaign on a national results file: load whole, publish one constituency.

    .venv/bin/python benchmarks/bench_territory.py                       # 69,000 bureaux, 29-02
    .venv/bin/python benchmarks/bench_territory.py --bureaux 8000 --json
    .venv/bin/python benchmarks/bench_territory.py --file legi.csv --election-id 2024_legi_t1

What it does, in a scratch database (`scrutin_bench_territory`, dropped and recreated):
1. generates a national législatives file (benchmarks/generate.py, `minint_2017_legi`: every
   bureau carries its constituency) unless `--file` is given, and loads it whole;
2. writes a campaign file whose territory is one constituency and whose target election is the
   loaded one, then runs the whole gate (`pipeline.gate.build_audit_publish`: dbt build, fit,
   score marts, audit, publish);
3. checks that every published table keyed by bureau holds exactly the constituency's bureaux
   (computed from the file with the results parser, not from the warehouse), and reports the
   time of each step and the row counts.

`run_territory_gate` is also what tests/e2e/test_territory_gate.py runs on a smaller file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate_results  # noqa: E402

# Published tables with one or more rows per bureau.
BUREAU_TABLES = (
    "polling_stations",
    "polling_station_results",
    "polling_station_nuance_votes",
    "election_results",
    "polling_station_targeting",
)


@dataclass
class TerritoryRun:
    """What one run measured and found."""

    bureaux_loaded: int
    bureaux_expected: int
    published: dict[str, int]  # table -> distinct bureaux published
    outside: dict[str, int]  # table -> published bureaux outside the constituency
    missing: dict[str, int]  # table -> constituency bureaux not published
    load_s: float
    gate_s: float
    fit_rows: int | None  # bureaux the ecological fit read (fitted + left out as incomplete)
    fit_status: str | None


def constituency_bureaux(path: Path, constituency: str) -> tuple[int, set[str]]:
    """(bureaux in the file, bureau ids in `constituency`) read with the results parser."""
    from ingestion.sources.elections import iter_results

    dep, number = constituency.split("-")
    total = 0
    inside: set[str] = set()
    for row in iter_results(path):
        total += 1
        b = row.bureau
        if b.code_departement == dep and int(b.code_circonscription or 0) == int(number):
            inside.add(b.bureau_id)
    return total, inside


def run_territory_gate(
    url: str, results: Path, election_id: str, constituency: str, workdir: Path
) -> TerritoryRun:
    """Load `results` as `election_id` into the (migrated, empty) warehouse at `url`, run the gate
    for a campaign of `constituency`, and compare every bureau table of `mart` with the file."""
    import psycopg

    from ingestion.loaders.elections import load_results_file
    from pipeline.gate import build_audit_publish

    total, expected = constituency_bureaux(results, constituency)
    started = time.perf_counter()
    load_results_file(url, results, election_id)
    load_s = time.perf_counter() - started

    campaign = workdir / "campaign.yml"
    campaign.write_text(
        "campaign_id: bench_territory\nelection_date: 2027-04-11\ncampaign_start: 2026-09-01\n"
        f"territory:\n  constituencies: ['{constituency}']\n"
        f"scores:\n  target_election: {election_id}\n",
        encoding="utf-8",
    )
    saved = os.environ.get("SCRUTIN_CAMPAIGN_CONFIG")
    os.environ["SCRUTIN_CAMPAIGN_CONFIG"] = str(campaign)
    try:
        started = time.perf_counter()
        report = build_audit_publish(url)
        gate_s = time.perf_counter() - started
    finally:
        if saved is None:
            os.environ.pop("SCRUTIN_CAMPAIGN_CONFIG", None)
        else:
            os.environ["SCRUTIN_CAMPAIGN_CONFIG"] = saved

    published: dict[str, int] = {}
    outside: dict[str, int] = {}
    missing: dict[str, int] = {}
    with psycopg.connect(url) as conn:
        for table in BUREAU_TABLES:
            ids = {r[0] for r in conn.execute(f"select distinct bureau_id from mart.{table}")}
            published[table] = len(ids)
            outside[table] = len(ids - expected)
            missing[table] = len(expected - ids)
        fit = conn.execute(
            "select n_bureaux + n_excluded, status from ops.ecological_fits where run_id = %s",
            (report.run_id,),
        ).fetchone()
    return TerritoryRun(
        bureaux_loaded=total,
        bureaux_expected=len(expected),
        published=published,
        outside=outside,
        missing=missing,
        load_s=round(load_s, 1),
        gate_s=round(gate_s, 1),
        fit_rows=fit[0] if fit else None,
        fit_status=fit[1] if fit else None,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bureaux", type=int, default=69_000)
    p.add_argument("--candidates", type=int, default=12)
    p.add_argument("--file", type=Path, help="a législatives file carrying constituencies")
    p.add_argument("--election-id", default="2024_legi_t1")
    p.add_argument("--constituency", default="29-02")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    from benchmarks.bench_results_load import scratch_database

    url = scratch_database("scrutin_bench_territory")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = args.file
        if results is None:
            results = workdir / "legi.csv"
            started = time.perf_counter()
            generate_results(
                results,
                "minint_2017_legi",
                bureaux=args.bureaux,
                candidates=args.candidates,
                elections=(args.election_id,),
            )
            print(f"generated {results.name} in {time.perf_counter() - started:.1f} s")
        run = run_territory_gate(url, results, args.election_id, args.constituency, workdir)
    if args.json:
        print(json.dumps(asdict(run), indent=2))
    else:
        print(
            f"{run.bureaux_loaded} bureaux loaded in {run.load_s} s; gate {run.gate_s} s; "
            f"constituency {args.constituency}: {run.bureaux_expected} bureaux expected, "
            f"published {run.published}, outside {run.outside}, missing {run.missing}, "
            f"ecological fit ({run.fit_status}) read {run.fit_rows} bureaux"
        )
    clean = not any(run.outside.values()) and not any(run.missing.values())
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
