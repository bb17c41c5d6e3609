"""Parse + load a national-size results file into a scratch database, against raw COPY.

    .venv/bin/python benchmarks/bench_results_load.py                      # 69,000 x 12, 2024
    .venv/bin/python benchmarks/bench_results_load.py --layout minint_2017_legi
    .venv/bin/python benchmarks/bench_results_load.py --file national.csv --election-id 2024_legi_t1

What it reports, all in one run on one machine:
- generate: writing the synthetic file (benchmarks/generate.py), not part of the load;
- parse: streaming the file through the parser alone (no database);
- load: `load_results_file` end to end (detection, sha256, parse, identity checks, COPY of
  bureaux and candidates, ledger) into a scratch database;
- raw COPY: the same rows, already rendered as COPY text, copied into tables of the same shape:
  the floor a loader written in Python cannot beat;
- CPU: the client process's user+system time for the load (the machine is shared: wall time
  depends on what else runs, reported as the 1-minute load average at start and end);
- peak memory: the process's peak resident set (resource.getrusage), which is what a worker
  needs; `--tracemalloc` adds the Python-heap peak of the load (slower).

The scratch database (`scrutin_bench` on the configured server) is dropped and recreated.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate_results  # noqa: E402

DEFAULT_IDS = {
    "minint_2024": "2024_legi_t1",
    "minint_2024_listes": "2024_euro_t1",
    "minint_2017_pres": "2022_pres_t1",
    "minint_2017_legi": "2022_legi_t1",
    "minint_2019_euro": "2019_euro_t1",
    "minint_2020_muni": "2020_muni_t1",
    "minint_2021_dep": "2021_dep_t1",
    "minint_2021_reg": "2021_reg_t1",
}


def cpu_s() -> float:
    """User + system CPU time of this process: what the load costs, whatever else runs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def scratch_database(name: str) -> str:
    import psycopg

    from scrutin.config import apply_environment_defaults, database_url, with_database
    from scrutin.warehouse.migrate import migrate

    apply_environment_defaults()
    server = database_url()
    with psycopg.connect(with_database(server, "postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    url = with_database(server, name)
    with psycopg.connect(url) as conn:
        migrate(conn)  # what `scrutin setup` does for a real warehouse
    return url


def raw_copy(url: str, election_id: str) -> tuple[float, int]:
    """Time COPY FROM of the loaded rows (rendered to COPY text beforehand) into twin tables."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        buffers: dict[str, io.BytesIO] = {}
        for table in ("election_results_bureau", "election_results_candidate"):
            conn.execute(f"create table bench_{table} (like raw.{table})")
            buffer = io.BytesIO()
            with conn.cursor().copy(
                f"copy (select * from raw.{table} where election_id = %s) to stdout",
                (election_id,),
            ) as copy:
                for data in copy:
                    buffer.write(data)
            buffers[table] = buffer
        rows = 0
        started = time.perf_counter()
        with conn.transaction():
            for table, buffer in buffers.items():
                with conn.cursor().copy(f"copy bench_{table} from stdin") as copy:
                    view = buffer.getbuffer()
                    for start in range(0, len(view), 1 << 20):
                        copy.write(view[start : start + (1 << 20)])
                rows += conn.execute(f"select count(*) from bench_{table}").fetchone()[0]
        return time.perf_counter() - started, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", default="minint_2024", choices=sorted(DEFAULT_IDS))
    parser.add_argument("--bureaux", type=int, default=69_000)
    parser.add_argument("--candidates", type=int, default=12)
    parser.add_argument("--file", type=Path, help="an existing results file (skips generation)")
    parser.add_argument("--election-id", help="default: one of the layout's type")
    parser.add_argument(
        "--varying",
        action="store_true",
        help="local contests of varying size (default: every bureau has --candidates)",
    )
    parser.add_argument("--database", default="scrutin_bench")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the Python heap")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    from ingestion.loaders.elections import load_results_file
    from ingestion.sources.elections import iter_results

    figures: dict[str, object] = {"layout": args.layout, "load_average_1m": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="scrutin-bench-") as folder:
        path = args.file
        if path is None:
            path = Path(folder) / f"{args.layout}.csv"
            started = time.perf_counter()
            generate_results(
                path,
                args.layout,
                bureaux=args.bureaux,
                candidates=args.candidates,
                uniform=not args.varying,
            )
            figures["generate_s"] = round(time.perf_counter() - started, 2)
        figures["file_mb"] = round(path.stat().st_size / 1e6, 1)
        election_id = args.election_id or DEFAULT_IDS[args.layout]
        url = scratch_database(args.database)
        rss_before = peak_rss_mb()

        started = time.perf_counter()
        bureaux = candidates = 0
        for row in iter_results(path):
            bureaux += 1
            candidates += len(row.candidates)
        figures["parse_s"] = round(time.perf_counter() - started, 2)

        if args.tracemalloc:
            tracemalloc.start()
        started, cpu_started = time.perf_counter(), cpu_s()
        report = load_results_file(url, path, election_id)
        load_s = time.perf_counter() - started
        load_cpu = cpu_s() - cpu_started
        if args.tracemalloc:
            figures["load_python_heap_peak_mb"] = round(
                tracemalloc.get_traced_memory()[1] / 2**20, 1
            )
            tracemalloc.stop()
        rows = report.bureau_rows + report.candidate_rows
        figures.update(
            bureaux=bureaux,
            candidate_rows=candidates,
            rows=rows,
            load_s=round(load_s, 2),
            load_client_cpu_s=round(load_cpu, 2),
            load_rows_per_s=round(rows / load_s),
            peak_rss_mb=round(peak_rss_mb(), 1),
            rss_before_load_mb=round(rss_before, 1),
        )
        copy_s, copy_rows = raw_copy(url, election_id)
        figures.update(
            raw_copy_s=round(copy_s, 2),
            raw_copy_rows=copy_rows,
            raw_copy_rows_per_s=round(copy_rows / copy_s),
            load_vs_raw_copy=round(load_s / copy_s, 1),
        )
    figures["load_average_1m_end"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:26} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
