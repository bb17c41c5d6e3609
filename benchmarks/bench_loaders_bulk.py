"""The REU and roll loaders against raw COPY of the same files, the way bench_national times them.

    .venv/bin/python benchmarks/bench_loaders_bulk.py --reu /tmp/nat10/reu --roll /tmp/nat10/roll
    .venv/bin/python benchmarks/bench_loaders_bulk.py --reu DIR --roll DIR --roll-files 300

In a scratch database (`scrutin_bench_loaders_bulk`, dropped and recreated): loads every REU table
of `--reu` (bureaux first, then addresses), then the roll extracts of `--roll` (the first
`--roll-files` of them, 0 for all) through the loaders the DAGs call (the roll in the DAG's
groups, each over one connection), and times
`bench_national.raw_copy_file` of the same files in the same run. Prints one JSON line per stage:
wall, CPU of this process, rows/s, raw COPY's time and `vs_copy` (COPY's time over the loader's),
and the process's peak RSS at the end. With `--dump DIR`, writes the loaded raw tables sorted
(without batch ids) so two runs (before/after a change) can be compared with `cmp`; with
`--out FILE`, writes the stages as JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_results_load import cpu_s  # noqa: E402 -- after the path is set

DB_NAME = "scrutin_bench_loaders_bulk"
DUMPS = {
    "reu_addresses": "select * from raw.reu_addresses",
    "reu_bureaux": "select * from raw.reu_bureaux",
    "roll_bureau_counts": "select * from raw.roll_bureau_counts",
    "roll_bureau_doors": "select * from raw.roll_bureau_doors",
    "rejected_rows": "select * from quarantine.rejected_rows",
}


def _timed(name: str, rows: int, load: Any, copy_s: float) -> dict[str, Any]:
    started, cpu0 = time.perf_counter(), cpu_s()
    load()
    wall, cpu = time.perf_counter() - started, cpu_s() - cpu0
    out = {
        "stage": name,
        "rows": rows,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_s": round(rows / wall),
        "cpu_us_per_row": round(cpu / rows * 1e6, 2) if rows else None,
        "raw_copy_s": round(copy_s, 2),
        "vs_copy": round(copy_s / wall, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(out), flush=True)
    return out


def _dump(url: str, folder: Path) -> None:
    import psycopg

    folder.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(url) as conn:
        for name, query in DUMPS.items():
            columns = [
                c.name
                for c in conn.execute(f"{query} limit 0").description or ()
                if c.name not in ("batch_id", "loaded_at", "rejected_at", "rejected_id")
            ]
            with (
                (folder / f"{name}.csv").open("wb") as out,
                conn.cursor().copy(
                    f"copy (select {', '.join(columns)} from ({query}) as t "
                    f"order by {', '.join(columns)}) to stdout (format csv)"
                ) as copy,
            ):
                for block in copy:
                    out.write(block)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reu", type=Path, help="folder of REU table files")
    p.add_argument("--roll", type=Path, help="folder of roll extracts")
    p.add_argument("--roll-files", type=int, default=0, help="load only the first N extracts")
    p.add_argument("--dump", type=Path, help="write the loaded raw tables here, sorted")
    p.add_argument("--out", type=Path, help="write the stages here as JSON")
    args = p.parse_args(argv)

    from benchmarks.bench_national import _file_lines, load_roll_groups, raw_copy_file
    from benchmarks.bench_results_load import scratch_database
    from ingestion.loaders.reu import load_reu_file, reu_files
    from ingestion.loaders.roll import roll_files

    url = scratch_database(DB_NAME)
    stages: list[dict[str, Any]] = []

    def expect_loaded(report: Any) -> None:
        if report.status != "loaded":
            raise SystemExit(f"not loaded: {report}")

    if args.reu:
        files = sorted(reu_files(args.reu), key=lambda f: "adresses" in f.name)
        for path in files:
            copy_s, rows = raw_copy_file(url, path, delimiter=",")
            stages.append(
                _timed(
                    f"load REU {path.name}",
                    rows,
                    lambda p=path: expect_loaded(load_reu_file(url, p)),
                    copy_s,
                )
            )
    if args.roll:
        extracts = roll_files(args.roll)
        if args.roll_files:
            extracts = extracts[: args.roll_files]
        copies = [raw_copy_file(url, path) for path in extracts]
        lines = sum(_file_lines(path) for path in extracts)

        stages.append(
            _timed(
                f"load roll extracts ({len(extracts)} files)",
                lines,
                lambda: load_roll_groups(url, extracts),
                sum(s for s, _ in copies),
            )
        )
    if args.dump:
        _dump(url, args.dump)
    if args.out:
        args.out.write_text(json.dumps({"stages": stages}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
