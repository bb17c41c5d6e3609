"""Canvass ingestion benchmark: 1 million knocks in one export, 10,000 new knocks via the drop zone.

    .venv/bin/python benchmarks/bench_canvass.py                 # 1,000,000 and 10,000 knocks
    .venv/bin/python benchmarks/bench_canvass.py --rows 100000   # a quicker run

Targets (issue 5): the big export lands in under 2 minutes; 10,000 new knocks go from the file
landing in the drop zone to committed raw rows in under 10 seconds. Then the canvass rules, which
run in dbt at build time since issue 10 (bureau matching, versions, flags), are built once over
every landed knock and timed (no target: a build, not a 15-minute delivery). Each measurement
runs in its own child process (peak RSS is that process's), against a fresh database
`scrutin_bench_canvass` on the configured server, with the 2024 tour-1 results loaded as the bureau
reference. Each load is compared with a raw `COPY` of the same rows (the landed rows, dumped and
copied back into a plain table without indexes) in the same run. Input files are synthetic Qomon
exports from `ingestion/canvass/sample.py`, cached in `.bench/canvass/`. Results: printed,
and written to `.bench/canvass/results.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORK = ROOT / ".bench" / "canvass"
DB_NAME = "scrutin_bench_canvass"
SECRET = "bench-secret-0123456789abcdef"
# A campaign whose window holds the generated knocks whatever day the benchmark runs.
CAMPAIGN_YAML = "campaign_id: bench\nelection_date: 2099-04-11\ncampaign_start: 2020-01-01\n"
NOW = "2026-11-28T12:00:00+00:00"
TOUR1 = ROOT / "data" / "sample" / "elections" / "circos23-tour1.csv"


def _url() -> str:
    from scrutin.config import database_url, with_database

    return with_database(database_url(), DB_NAME)


def _campaign() -> Any:
    from scrutin.campaign import load_campaign

    path = WORK / "campaign.yml"
    path.write_text(CAMPAIGN_YAML)
    return load_campaign(path)


def _peak_mb() -> float:
    """Peak RSS of this process (MB). The orchestrator stays small, so the inherited
    high-water mark of the fork does not inflate it."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _workers_peak_mb() -> float:
    """Peak RSS of the largest worker process the load forked (0 when none)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


# ---- child processes: one measurement each --------------------------------------------------


def child_load(path: str) -> dict[str, Any]:
    from ingestion.canvass.loader import load_canvass_file

    started = time.perf_counter()
    report = load_canvass_file(
        _url(), path, campaign=_campaign(), secret=SECRET, now=dt.datetime.fromisoformat(NOW)
    )
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "rows": report.rows_loaded,
        "peak_mb": _peak_mb(),
        "workers_peak_mb": _workers_peak_mb(),
    }


def child_drop(path: str) -> dict[str, Any]:
    from ingestion.canvass.dropzone import process_drop_zone

    drop = WORK / "drop"
    shutil.rmtree(drop, ignore_errors=True)
    drop.mkdir(parents=True)
    shutil.copy(path, drop / Path(path).name)  # the file lands
    started = time.perf_counter()
    results = process_drop_zone(
        _url(),
        drop,
        campaign=_campaign(),
        secret=SECRET,
        now=dt.datetime.fromisoformat(NOW),
    )
    wall = time.perf_counter() - started
    assert [r.outcome for r in results] == ["loaded"], results
    return {
        "wall_s": wall,
        "rows": results[0].new_rows,
        "peak_mb": _peak_mb(),
        "workers_peak_mb": _workers_peak_mb(),
    }


def child_copy(batch_id: str) -> dict[str, Any]:
    """COPY the canonical rows of one batch back into a plain table (the lower bound)."""
    from scrutin.db import connect

    columns = (
        "source, knock_id, campaign_id, canvasser_key, bureau_id, building_key, knocked_at, "
        "outcome, topics, intends_to_vote, registered_here, sentiment, wants_to_volunteer, "
        "consent, integrity_flags, batch_id, line_no, source_updated_at, longitude, latitude, "
        "address_key"
    )
    dump = WORK / f"copy_{batch_id}.txt"
    with connect(_url()) as conn, conn.cursor() as cur:
        with (
            dump.open("wb") as fh,
            cur.copy(
                f"copy (select {columns} from raw.canvass_knocks where batch_id = {int(batch_id)}) "
                "to stdout"
            ) as copy,
        ):
            for chunk in copy:
                fh.write(chunk)
        conn.execute("drop table if exists public.bench_copy")
        conn.execute(
            "create table public.bench_copy as select "
            + columns
            + " from raw.canvass_knocks with no data"
        )
        conn.commit()
        started = time.perf_counter()
        with (
            dump.open("rb") as fh,
            cur.copy(f"copy public.bench_copy ({columns}) from stdin") as copy,
        ):
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        wall = time.perf_counter() - started
        rows = conn.execute("select count(*) from public.bench_copy").fetchone()
    dump.unlink()
    return {"wall_s": wall, "rows": int(rows[0]) if rows else 0, "peak_mb": _peak_mb()}


# The canvass rules run in dbt at build time (bureau matching, versions, flags): the intermediate
# canvass models and their tests, on every landed knock.
RULES_SELECTION = (
    "+int_canvass__bureau_day +int_canvass__bureau_opinion +int_canvass__canvasser_quality "
    "+int_canvass__excluded_knocks"
)


def child_rules(_: str) -> dict[str, Any]:
    """`dbt build` of the canvass intermediate models over everything landed so far."""
    from pipeline.dbt_runner import build
    from scrutin.db import connect

    # the build of the knocks' campaign: a build aggregates its own campaign's knocks only
    _campaign()
    os.environ["SCRUTIN_CAMPAIGN_CONFIG"] = str(WORK / "campaign.yml")
    started = time.perf_counter()
    outcome = build(
        _url(), "bench-canvass-rules", select=RULES_SELECTION, indirect_selection="cautious"
    )
    wall = time.perf_counter() - started
    if not outcome.success:
        raise SystemExit(f"dbt build of the canvass rules failed: {outcome.failed}")
    with connect(_url()) as conn:
        row = conn.execute("select count(*) from intermediate.int_canvass__knocks").fetchone()
    slowest = sorted(outcome.results, key=lambda r: r.execution_time or 0.0, reverse=True)[:5]
    return {
        "wall_s": wall,
        "rows": int(row[0]) if row else 0,
        "peak_mb": _peak_mb(),
        "slowest": [(r.unique_id, round(r.execution_time or 0.0, 2)) for r in slowest],
    }


CHILDREN = {"load": child_load, "drop": child_drop, "copy": child_copy, "rules": child_rules}


def run_child(kind: str, arg: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, arg],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark child {kind} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- orchestration --------------------------------------------------------------------------


def prepare_database() -> None:
    import psycopg

    from ingestion.loaders.elections import load_results_file
    from scrutin.config import database_url, with_database
    from scrutin.db import connect
    from scrutin.warehouse.migrate import migrate

    with psycopg.connect(with_database(database_url(), "postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{DB_NAME}" with (force)')
        admin.execute(f'create database "{DB_NAME}"')
    with connect(_url()) as conn:
        migrate(conn)
    load_results_file(_url(), TOUR1, "2024_legi_t1")


def input_file(rows: int, seed: int) -> Path:
    """A cached synthetic Qomon export (generated in a subprocess: this process stays small)."""
    path = WORK / f"qomon_{rows}_seed{seed}.csv"
    if not path.exists():
        started = time.perf_counter()
        code = (
            "import sys; from pathlib import Path; "
            f"sys.path.insert(0, {str(ROOT)!r}); "
            "import ingestion.canvass.sample as g; "
            f"g.bench_file(Path({str(path)!r}), {rows}, seed={seed})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
        print(f"generated {path.name} in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def last_batch() -> str:
    from scrutin.db import connect

    with connect(_url()) as conn:
        row = conn.execute(
            "select max(batch_id) from raw.batch_ledger where source = 'canvass' "
            "and status = 'loaded'"
        ).fetchone()
    return str(row[0]) if row else "0"


def line(name: str, result: dict[str, Any], copy: dict[str, Any], target: float) -> str:
    rate = result["rows"] / result["wall_s"] if result["wall_s"] else 0.0
    ratio = result["wall_s"] / copy["wall_s"] if copy["wall_s"] else float("nan")
    verdict = "OK" if result["wall_s"] < target else "TOO SLOW"
    return (
        f"{name:<34} {result['rows']:>9,} rows {result['wall_s']:8.2f} s {rate:>10,.0f} rows/s "
        f"peak {result['peak_mb']:5.0f} MB (workers {result['workers_peak_mb']:4.0f}) "
        f"| raw COPY {copy['wall_s']:6.2f} s "
        f"({copy['rows'] / copy['wall_s']:>10,.0f} rows/s) x{ratio:4.1f} | target {target:.0f} s "
        f"{verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="knocks in the big export")
    parser.add_argument("--small", type=int, default=10_000, help="knocks in the drop-zone file")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.child:
        kind, arg = args.child
        print(json.dumps(CHILDREN[kind](arg)))
        return 0

    big, small = input_file(args.rows, 7), input_file(args.small, 8)
    prepare_database()
    print(f"database {DB_NAME} ready; loading {big.name} ...", flush=True)
    bulk = run_child("load", str(big))
    bulk_copy = run_child("copy", last_batch())
    print(f"dropping {small.name} into the drop zone ...", flush=True)
    drop = run_child("drop", str(small))
    drop_copy = run_child("copy", last_batch())
    print("dbt build of the canvass rules over every landed knock ...", flush=True)
    rules = run_child("rules", "-")

    lines = [
        line(f"export of {args.rows:,} knocks", bulk, bulk_copy, 120),
        line(f"{args.small:,} new knocks via drop zone", drop, drop_copy, 10),
    ]
    lines.append(
        f"{'canvass rules (dbt build)':<34} {rules['rows']:>9,} knocks counted "
        f"{rules['wall_s']:8.2f} s; slowest nodes: "
        + ", ".join(f"{uid.rsplit('.', 1)[-1]} {t} s" for uid, t in rules["slowest"])
    )
    print()
    print("\n".join(lines))
    results = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "bulk": {**bulk, "copy": bulk_copy},
        "drop": {**drop, "copy": drop_copy},
        "rules": rules,
    }
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    ok = bulk["wall_s"] < 120 and drop["wall_s"] < 10
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
