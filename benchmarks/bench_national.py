"""National-scale run, end to end: generate, load, `scrutin build`, 10,000 new knocks, BI queries.

    .venv/bin/python benchmarks/bench_national.py --scale 0.01     # ~690 bureaux, a few minutes
    .venv/bin/python benchmarks/bench_national.py --scale 0.1      # ~6,900 bureaux
    make bench-national SCALE=0.1

What it does, in a scratch database (`scrutin_bench_national`, dropped and recreated), at
`--scale` of national size (1.0 = 69,000 bureaux, 1,000,000 knocks):
1. generates, consistently (the same bureaux everywhere): two législatives rounds in the 2024
   Ministry layout over every département, overseas and abroad (ZZ) included
   (benchmarks/generate.py), and a Qomon export of door knocks in those bureaux
   (ingestion/canvass/sample.py);
2. loads them through the real loaders the DAGs call (results loader, canvass drop zone), and
   times a raw `COPY` of the same results rows in the same run (`load_vs_copy`);
3. runs `scrutin build` in its own process group (wall, CPU and peak RSS of the process tree);
4. drops 10,000 new knocks in the drop zone and times landing -> published scores (the drop zone
   load plus the build that publishes them);
5. runs every Metabase card (metabase/dashboards/*.yml) as the BI role, 20 times each: p95 per
   card, the worst in `bi_p95_ms`;
6. writes benchmarks/results/national-<date>-scale<scale>.json (keys: scale, full_refresh_s,
   incremental_knocks_s, peak_rss_mb, bi_p95_ms, load_vs_copy, stages).

Not generated yet (issue 15, left for the next step): census base-ic + Filosofi, IRIS and bureau
contours, REU bureaux and addresses, roll extracts. The build therefore skips the ecological fit
(no census) and the map shapes; the figures are a floor for those stages. See
docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import WRITERS, national_bureaux, write_wide  # noqa: E402

DB_NAME = "scrutin_bench_national"
NATIONAL_BUREAUX = 69_000
NATIONAL_KNOCKS = 1_000_000
NEW_KNOCKS = 10_000
ELECTIONS = (("2024_legi_t1", 1), ("2024_legi_t2", 2))  # (election id, generator seed)
SECRET = "bench-national-secret-0123456789"
CAMPAIGN_YAML = (
    "campaign_id: bench\nelection_date: 2099-04-11\ncampaign_start: 2020-01-01\n"
    "scores:\n  target_election: 2024_legi_t1\n"
)
BI_REPEATS = 20


def _stage(name: str, started: float, cpu0: float, rows: int | None = None, **extra: Any) -> dict:
    wall = time.perf_counter() - started
    cpu = _cpu() - cpu0
    out: dict[str, Any] = {"stage": name, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
    if rows is not None:
        out["rows"] = rows
        out["rows_per_s"] = round(rows / wall) if wall else None
    out.update(extra)
    print(json.dumps(out), flush=True)
    return out


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _db_size_mb(url: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        (size,) = conn.execute("select pg_database_size(current_database())").fetchone()  # type: ignore[misc]
    return round(size / 1e6, 1)


def _bureau_ids(path: Path) -> list[str]:
    from ingestion.sources.elections import iter_results

    return [row.bureau.bureau_id for row in iter_results(path)]


def _write_knocks(path: Path, bureaux: list[str], count: int, seed: int) -> None:
    from ingestion.canvass import sample

    rng = random.Random(seed)
    streets = [
        (f"Rue {i} de Kernational", 48.36 + (i % 30) * 0.003, -4.53 + (i // 30) * 0.004)
        for i in range(600)
    ]
    knocks = sample.make_knocks(
        rng,
        count,
        prefix=f"N{seed}-",
        bureaux=bureaux,
        canvassers=[f"bench-{i:04d}" for i in range(1, 401)],
        start=sample._start(sample.DEFAULT_ANCHOR),
        days=sample.CAMPAIGN_DAYS,
        streets=streets,
        max_number=300,
    )
    sample.write_qomon(path, knocks)


def _drop(url: str, work: Path, knocks: Path, campaign: Path) -> int:
    from ingestion.canvass.dropzone import process_drop_zone
    from scrutin.campaign import load_campaign

    drop = work / "drop"
    shutil.rmtree(drop, ignore_errors=True)
    drop.mkdir(parents=True)
    shutil.copy(knocks, drop / knocks.name)
    results = process_drop_zone(url, drop, campaign=load_campaign(campaign), secret=SECRET)
    if [r.outcome for r in results] != ["loaded"]:
        raise SystemExit(f"the drop zone did not load {knocks.name}: {results}")
    return int(results[0].new_rows)


def _build(url: str, campaign: Path, log: Path) -> dict[str, Any]:
    """`scrutin build` in its own process group: wall, CPU and peak RSS of its process tree."""
    env = dict(os.environ, SCRUTIN_DATABASE_URL=url, SCRUTIN_CAMPAIGN_CONFIG=str(campaign))
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "scrutin"), "build"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"scrutin build exited {code}: see {log}")
    # ru_maxrss of wait4 is the child's own peak (KiB); dbt and GX run inside that process.
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def _bi_queries(url: str) -> dict[str, float]:
    """p95 (ms) of each Metabase card, run as the BI role."""
    import psycopg

    from pipeline.metabase import load_dashboards
    from scrutin.config import bi_reader_password, bi_reader_role

    parts = psycopg.conninfo.conninfo_to_dict(url)
    parts["user"] = bi_reader_role()
    if bi_reader_password():
        parts["password"] = bi_reader_password()
    bi_url = psycopg.conninfo.make_conninfo(**parts)
    p95: dict[str, float] = {}
    with psycopg.connect(bi_url, autocommit=True) as conn:
        for dashboard in load_dashboards():
            for card in dashboard.cards:
                times = []
                for _ in range(BI_REPEATS):
                    started = time.perf_counter()
                    conn.execute(card.sql).fetchall()
                    times.append((time.perf_counter() - started) * 1000)
                p95[f"{dashboard.path.stem}: {card.name}"] = round(
                    statistics.quantiles(times, n=20)[-1], 2
                )
    return p95


def run(scale: float, work: Path) -> dict[str, Any]:
    from benchmarks.bench_results_load import raw_copy, scratch_database
    from ingestion.loaders.elections import load_results_file

    work.mkdir(parents=True, exist_ok=True)
    campaign = work / "campaign.yml"
    campaign.write_text(CAMPAIGN_YAML, encoding="utf-8")
    bureaux = max(200, round(NATIONAL_BUREAUX * scale))
    base_knocks = max(NEW_KNOCKS, round(NATIONAL_KNOCKS * scale))
    stages: list[dict[str, Any]] = []

    started, cpu0 = time.perf_counter(), _cpu()
    # One geography for every source (the same bureaux in both rounds and in the knocks), the
    # votes of each round drawn with its own seed.
    places = list(national_bureaux(bureaux, random.Random(1)))
    files = []
    for election_id, seed in ELECTIONS:
        path = work / f"{election_id}.csv"
        with path.open("w", encoding=WRITERS["minint_2024"].encoding, newline="") as fh:
            write_wide(fh, "minint_2024", places, 12, seed)
        files.append((election_id, path))
    ids = _bureau_ids(files[0][1])
    _write_knocks(work / "knocks_base.csv", ids, base_knocks, seed=11)
    _write_knocks(work / "knocks_new.csv", ids, NEW_KNOCKS, seed=12)
    stages.append(_stage("generate", started, cpu0, bureaux=len(ids), knocks=base_knocks))

    url = scratch_database(DB_NAME)
    loads = []
    for election_id, path in files:
        started, cpu0 = time.perf_counter(), _cpu()
        report = load_results_file(url, path, election_id)
        rows = report.bureau_rows + report.candidate_rows
        loads.append(_stage(f"load results {election_id}", started, cpu0, rows))
    stages.extend(loads)
    copy_s, copy_rows = raw_copy(url, ELECTIONS[0][0])
    copy_rate = copy_rows / copy_s
    stages.append(
        {
            "stage": "raw COPY of the same rows",
            "wall_s": round(copy_s, 2),
            "rows": copy_rows,
            "rows_per_s": round(copy_rate),
        }
    )
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("election_results_bureau", "election_results_candidate"):
            conn.execute(f"drop table bench_{table}")
    started, cpu0 = time.perf_counter(), _cpu()
    rows = _drop(url, work, work / "knocks_base.csv", campaign)
    stages.append(_stage("load knocks (drop zone)", started, cpu0, rows))

    full = _build(url, campaign, work / "build-full.log")
    stages.append({"stage": "scrutin build (full refresh)", **full})
    again = _build(url, campaign, work / "build-again.log")
    stages.append({"stage": "scrutin build, nothing new", **again})

    started, cpu0 = time.perf_counter(), _cpu()
    new_rows = _drop(url, work, work / "knocks_new.csv", campaign)
    landing = time.perf_counter() - started
    stages.append(_stage("10,000 new knocks: drop zone", started, cpu0, new_rows))
    incremental = _build(url, campaign, work / "build-knocks.log")
    stages.append({"stage": "10,000 new knocks: build to published", **incremental})

    bi = _bi_queries(url)
    size = _db_size_mb(url)
    slowest_load = min(s["rows_per_s"] for s in loads)
    own_peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return {
        "scale": scale,
        "date": dt.date.today().isoformat(),
        "bureaux": len(ids),
        "elections": [e for e, _ in ELECTIONS],
        "knocks": base_knocks + new_rows,
        "full_refresh_s": full["wall_s"],
        "incremental_knocks_s": round(landing + incremental["wall_s"], 2),
        "peak_rss_mb": max(full["peak_rss_mb"], incremental["peak_rss_mb"], own_peak),
        "bi_p95_ms": max(bi.values()),
        "bi_p95_by_card_ms": bi,
        "load_vs_copy": round(slowest_load / copy_rate, 2),
        "db_size_mb": size,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "stages": stages,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=0.1, help="share of national size (1.0 = all)")
    p.add_argument("--work", type=Path, default=ROOT / ".bench" / "national")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)
    from scrutin.config import apply_environment_defaults

    apply_environment_defaults()
    summary = run(args.scale, args.work / f"scale-{args.scale}")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"national-{summary['date']}-scale{args.scale}.json"
    target.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("stages",)}, indent=2))
    print(f"written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
