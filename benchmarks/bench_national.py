"""National-scale run, end to end: generate, load, `scrutin build`, 10,000 new knocks, BI queries.

    .venv/bin/python benchmarks/bench_national.py --scale 0.01     # ~690 bureaux, a few minutes
    .venv/bin/python benchmarks/bench_national.py --scale 0.1      # ~6,900 bureaux
    make bench-national SCALE=0.1
    .venv/bin/python benchmarks/bench_national.py --scale 1.0 --loaded   # steps 3-6 only, on the
                                               # database an earlier run at that scale loaded
    .venv/bin/python benchmarks/bench_national.py --scale 1.0 --loaded --knocks-only \
        --knock-rounds 3                       # step 4 only (then 5-6): the deliveries on it
    ... --delivery day                         # each delivery one day's export in 200 bureaux

What it does, in a scratch database per scale (`scrutin_bench_national_0_1` at 0.1, dropped and
recreated), at `--scale` of national size (1.0 = 69,000 bureaux, ~50,000 IRIS, ~14 million REU
addresses, 1,000,000 knocks):
1. generates every source in one geography (benchmarks/national_sources.py: the same bureaux
   everywhere, IRIS and bureaux tiling each commune, addresses inside their bureau): four
   législatives rounds (2022 and 2024) in the 2024 Ministry layout over every département,
   overseas and abroad (`ZZ`) included; census base-ic (five themes) + Filosofi; IRIS, bureau and
   commune contours; REU `table-bv-reu` and `table-adresses-reu`; one roll extract per commune;
   and a Qomon export of door knocks in those bureaux (ingestion/canvass/sample.py);
2. loads them through the functions the ingestion DAGs call, in the DAGs' order (results loader;
   REU tables, then roll extracts; census registry entries; contour files of the geography
   manifest, then the IRIS -> bureau weights; canvass drop zone), and times a raw `COPY` of
   each same file (its bytes into text columns) in the same run: `vs_copy` per loader, the
   slowest in `load_vs_copy`;
3. runs the raw suites as the ingestion DAGs' gates do after their loads, then `scrutin build`
   in its own process group (wall, CPU and peak RSS of the process tree), with the ecological
   fit and the map shapes, then again with nothing new;
4. drops 10,000 new knocks in the drop zone and times landing -> published scores (the drop zone
   load plus the build that publishes them), `--knock-rounds N` times in a row (the median);
   spread over every bureau and day (`--delivery spread`, the worst case) or one day's export
   (`--delivery day`, see plan_delivery);
5. runs every Metabase card (metabase/dashboards/*.yml) as the BI role, 20 times each: p95 per
   card, the worst in `bi_p95_ms`;
6. writes benchmarks/results/national-<date>-scale<scale>.json (keys: scale, full_refresh_s,
   raw_suites_s, nothing_new_build_s, incremental_knocks_s, incremental_knocks_rounds_s,
   knocks_build_mode, loads_s,
   peak_rss_mb (the builds' own), bench_rss_peak_mb (this process's: the loads), bi_p95_ms,
   bi_server_p95_ms, load_vs_copy, slowest_loader, loaders_vs_copy, load_vs_copy_written
   (the same loads against COPY of the rows each wrote), loaders_vs_copy_written,
   db_size_mb, stages).

The roll is the biggest input (every registered voter, ~57 million lines at 1.0: about 12 GB of
CSV); census, contours and REU are written in seconds to minutes. Figures: docs/performance.md.
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
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


DB_PREFIX = "scrutin_bench_national"


def db_name(scale: float) -> str:
    """The scratch database of one scale (`scrutin_bench_national_0_1` for 0.1): runs at two
    scales keep each other's data, and --loaded finds the one its --scale loaded."""
    return f"{DB_PREFIX}_{format(scale, 'g').replace('.', '_')}"


NATIONAL_KNOCKS = 1_000_000
NEW_KNOCKS = 10_000
# `--delivery day`: the bureaux one day's canvass of a national campaign reaches (about 50 knocks
# each, a team's evening in a bureau)
DAY_BUREAUX = 200
DELIVERIES = ("spread", "day")
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
    # The benchmark's own peak so far: the stage where it jumps is the one that used the memory.
    out["bench_rss_peak_mb"] = _rss_peak_mb("self")
    out.update(extra)
    print(json.dumps(out), flush=True)
    return out


def _rss_peak_mb(pid: int | str) -> float | None:
    """VmHWM of a process (MB): the peak resident set of its program since it was exec'd, or
    None once it is gone. (`ru_maxrss` is no such figure for a child: Linux carries the parent's
    peak over fork and exec into it, so a benchmark process that loaded 4 GB reported every
    build it started at 4 GB.)"""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


class _PeakWatch:
    """Polls a child's VmHWM every 0.2 s until it exits: its own peak (monotonic, so only a
    spike in its last 0.2 s could be missed)."""

    def __init__(self, pid: int) -> None:
        import threading

        self.peak: float | None = None
        self._pid = pid
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.wait(0.2):
            seen = _rss_peak_mb(self._pid)
            if seen is not None:
                self.peak = max(self.peak or 0.0, seen)

    def stop(self) -> float | None:
        self._done.set()
        self._thread.join()
        return self.peak


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


class Delivery(NamedTuple):
    """Where and when the knocks of one delivery fall."""

    bureaux: list[str]
    start: dt.datetime  # midnight (Paris) of its first day
    days: int


def plan_delivery(
    shape: str, bureaux: list[str], latest_day: dt.date | None, rng: random.Random
) -> Delivery:
    """The bureaux and days a delivery of new knocks covers.

    `spread` (the worst case, the default): every bureau, every day of the base knocks'
    campaign, so nearly every delivered knock is in another bureau and every bureau's history
    changes. `day`: an app's export of one canvassing day, the day after the latest knock the
    warehouse holds (`latest_day`; the campaign's last day when it holds none), in `DAY_BUREAUX`
    bureaux: it also moves the campaign's latest day, as each real export does.
    """
    from ingestion.canvass import sample

    if shape == "spread":
        return Delivery(bureaux, sample._start(sample.DEFAULT_ANCHOR), sample.CAMPAIGN_DAYS)
    if shape == "day":
        day = (latest_day or sample.DEFAULT_ANCHOR) + dt.timedelta(days=1)
        chosen = rng.sample(bureaux, min(DAY_BUREAUX, len(bureaux)))
        return Delivery(chosen, dt.datetime.combine(day, dt.time(0), tzinfo=sample.PARIS), 1)
    raise ValueError(f"unknown delivery shape {shape!r}: expected one of {DELIVERIES}")


def _latest_knock_day(url: str) -> dt.date | None:
    """The latest day (Paris) of a landed knock, None without any."""
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select max((knocked_at at time zone 'Europe/Paris')::date) from raw.canvass_knocks"
        ).fetchone()
    return row[0] if row else None


def _write_knocks(
    path: Path, bureaux: list[str], count: int, seed: int, delivery: Delivery | None = None
) -> None:
    from ingestion.canvass import sample

    rng = random.Random(seed)
    where = delivery or plan_delivery("spread", bureaux, None, rng)
    streets = [
        (f"Rue {i} de Kernational", 48.36 + (i % 30) * 0.003, -4.53 + (i // 30) * 0.004)
        for i in range(600)
    ]
    knocks = sample.make_knocks(
        rng,
        count,
        prefix=f"N{seed}-",
        bureaux=where.bureaux,
        canvassers=[f"bench-{i:04d}" for i in range(1, 401)],
        start=where.start,
        days=where.days,
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


def _build(url: str, campaign: Path, log: Path, *, full: bool = False) -> dict[str, Any]:
    """`scrutin build` (`--full` with `full`) in its own process group: wall, CPU and peak RSS
    of its process tree."""
    env = dict(os.environ, SCRUTIN_DATABASE_URL=url, SCRUTIN_CAMPAIGN_CONFIG=str(campaign))
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "scrutin"), "build", *(["--full"] if full else [])],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        watch = _PeakWatch(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        peak = watch.stop()
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"scrutin build exited {code}: see {log}")
    # dbt and GX run inside that process; its peak is polled (_PeakWatch), not wait4's ru_maxrss
    # (which starts from this process's own peak).
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": peak,
    }


def _raw_suites(url: str) -> dict[str, Any]:
    """Every raw suite through expectations.validations.run_suites_once (what the DAGs' raw
    gates call): how many ran (the others were reused); a failed check stops the benchmark."""
    from expectations.registry import raw_suite_names
    from expectations.validations import run_suites_once

    done = run_suites_once(url, raw_suite_names(), f"bench-raw-{int(time.time())}")
    if not done.success:
        raise SystemExit(f"raw suites failed: {done.outcome.failed_checks}")
    return {"suites_run": len(done.outcome.outcomes)}


def _build_mode(log: Path) -> str | None:
    """`full`, `incremental` or `unchanged`: the decision `scrutin build` logged (None if it
    logged none)."""
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        for mode in ("incremental", "full", "unchanged"):
            if f" {mode} build: " in line:
                return mode
    return None


def _bi_queries(url: str) -> tuple[dict[str, float], dict[str, float]]:
    """p95 (ms) of each Metabase card run as the BI role: in the client (psycopg, every row
    fetched into Python), and on the server (`explain analyze`: planning + execution, no row
    sent), which is what a BI tool's own client does not add to."""
    import psycopg

    from pipeline.metabase import load_dashboards
    from pipeline.setup import ensure_reader_role
    from scrutin.config import bi_reader_password, bi_reader_role

    # What `scrutin setup` does: on a new embedded cluster the role the publication granted has
    # no password (and cannot log in) until then.
    ensure_reader_role(url, bi_reader_role(), bi_reader_password())
    parts = psycopg.conninfo.conninfo_to_dict(url)
    parts["user"] = bi_reader_role()
    if bi_reader_password():
        parts["password"] = bi_reader_password()
    bi_url = psycopg.conninfo.make_conninfo(**parts)
    p95: dict[str, float] = {}
    server_p95: dict[str, float] = {}
    with psycopg.connect(bi_url, autocommit=True) as conn:
        for dashboard in load_dashboards():
            for card in dashboard.cards:
                times, server = [], []
                for _ in range(BI_REPEATS):
                    started = time.perf_counter()
                    conn.execute(card.sql).fetchall()
                    times.append((time.perf_counter() - started) * 1000)
                    plan = conn.execute(
                        "explain (analyze, timing off, format json) " + card.sql
                    ).fetchone()[0][0]  # type: ignore[index]
                    server.append(plan["Planning Time"] + plan["Execution Time"])
                name = f"{dashboard.path.stem}: {card.name}"
                p95[name] = round(statistics.quantiles(times, n=20)[-1], 2)
                server_p95[name] = round(statistics.quantiles(server, n=20)[-1], 2)
    return p95, server_p95


def _file_lines(path: Path, member: str | None = None) -> int:
    """Data lines of a CSV (header excluded), read as a stream."""
    with _open_bytes(path, member) as fh:
        return sum(1 for _ in fh) - 1


def _open_bytes(path: Path, member: str | None = None) -> Any:
    import zipfile

    if member is None:
        return path.open("rb")
    return zipfile.ZipFile(path).open(member)


def raw_copy_file(
    url: str,
    path: Path,
    *,
    delimiter: str = ";",
    member: str | None = None,
    geojson: bool = False,
    encoding: str = "UTF8",
    ragged: bool = False,
) -> tuple[float, int]:
    """COPY of the file's own bytes into an unlogged table of text columns: the floor a loader
    of that file cannot beat (no parsing, no typing, no checks). A GeoJSON file is copied one
    feature line per row, and so is a `ragged` file (2017-2022 results: rows as wide as their
    candidates, wider than the header)."""
    import psycopg

    with _open_bytes(path, member) as fh:
        header = fh.readline().decode("latin-1")  # only its delimiters are counted
    width = 1 if (geojson or ragged) else header.count(delimiter) + 1
    columns = ", ".join(f"c{i} text" for i in range(width))
    options = f"(encoding '{encoding}')"
    if ragged:  # one line per row: a delimiter no line holds
        options = f"(format text, header true, delimiter E'\\x1f', encoding '{encoding}')"
    elif not geojson:
        options = f"(format csv, header true, delimiter '{delimiter}', encoding '{encoding}')"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table if exists bench_raw_copy")
        conn.execute(f"create unlogged table bench_raw_copy ({columns})")
        started = time.perf_counter()
        with (
            conn.cursor().copy(f"copy bench_raw_copy from stdin {options}") as copy,
            _open_bytes(path, member) as fh,
        ):
            if geojson:
                for line in fh:
                    if line.startswith((b'{"type": "Feature"', b",{")):
                        copy.write(line.lstrip(b",").replace(b"\\", b"\\\\"))
            else:
                while chunk := fh.read(1 << 20):
                    copy.write(chunk)
        elapsed = time.perf_counter() - started
        (rows,) = conn.execute("select count(*) from bench_raw_copy").fetchone()  # type: ignore[misc]
        conn.execute("drop table bench_raw_copy")
    return elapsed, rows


def inserted_rows(url: str, schema: str = "raw") -> dict[str, int]:
    """Rows inserted so far into each table of `schema`, by PostgreSQL's statistics
    (`n_tup_ins`). A backend publishes its counts when its transaction ends, at most once a
    second, and when it exits: read until two reads half a second apart agree (5 s at most)."""
    import psycopg

    query = (
        "select relname, n_tup_ins from pg_stat_user_tables where schemaname = %s order by relname"
    )
    seen: dict[str, int] | None = None
    deadline = time.monotonic() + 5
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            now = {name: int(count) for name, count in conn.execute(query, (schema,)).fetchall()}
            if now == seen or time.monotonic() > deadline:
                return now
            seen = now
            time.sleep(0.5)


def raw_copy_written(url: str, written: dict[str, int], schema: str = "raw") -> tuple[float, int]:
    """COPY of as many rows as a loader wrote, table by table (`written`: rows per table), into
    an unlogged copy of each table's columns (no index, no constraint): the floor of writing
    those rows, where raw_copy_file is the floor of reading the file. A loader that writes more
    rows than its file has lines (results: a row per candidate; census: a row per value) is
    compared to both. The rows copied are rows of the table, the same shape as those written;
    they are dumped to a scratch file first, and only the COPY into the copy is timed."""
    import tempfile

    import psycopg
    from psycopg import sql

    elapsed, total = 0.0, 0
    with psycopg.connect(url, autocommit=True) as conn:
        for table, rows in sorted(written.items()):
            if rows <= 0:
                continue
            source = sql.Identifier(schema, table)
            conn.execute("drop table if exists bench_written_copy")
            conn.execute(
                sql.SQL("create unlogged table bench_written_copy (like {})").format(source)
            )
            with tempfile.TemporaryFile() as dump:
                dump_sql = sql.SQL("copy (select * from {} limit {}) to stdout").format(
                    source, sql.Literal(rows)
                )
                with conn.cursor().copy(dump_sql) as copy:
                    for data in copy:
                        dump.write(data)
                dump.seek(0)
                started = time.perf_counter()
                with conn.cursor().copy("copy bench_written_copy from stdin") as copy:
                    while chunk := dump.read(1 << 20):
                        copy.write(chunk)
                elapsed += time.perf_counter() - started
            (copied,) = conn.execute("select count(*) from bench_written_copy").fetchone()  # type: ignore[misc]
            total += int(copied)
            conn.execute("drop table bench_written_copy")
    return elapsed, total


def slowest_vs_copy_written(loads: list[dict[str, Any]]) -> dict[str, Any]:
    """The load stage slowest against COPY of the rows it wrote, among the loaders that write
    at least a row per line of their file (`rows`): a loader that aggregates its lines (the
    roll writes per-bureau counts) has reading its file as its floor, not writing its rows."""
    expanding = [s for s in loads if sum(s.get("rows_written", {}).values()) >= s["rows"]]
    return min(expanding, key=lambda s: s.get("vs_copy_written") or 0.0) if expanding else {}


def _timed_load(
    url: str, name: str, load: Any, rows: int, copies: list[tuple[float, int]]
) -> dict[str, Any]:
    """Run `load()`, then put its time beside raw COPY of the same file(s) (`vs_copy`: COPY's
    time over the loader's, i.e. the loader's throughput as a share of COPY's), and beside
    COPY of as many rows as it wrote into the tables it wrote (`vs_copy_written`)."""
    before = inserted_rows(url)
    started, cpu0 = time.perf_counter(), _cpu()
    load()
    stage = _stage(name, started, cpu0, rows)
    after = inserted_rows(url)
    written = {t: n - before.get(t, 0) for t, n in after.items() if n > before.get(t, 0)}
    copy_s = sum(s for s, _ in copies)
    stage["raw_copy_s"] = round(copy_s, 2)
    stage["raw_copy_rows_per_s"] = round(sum(r for _, r in copies) / copy_s) if copy_s else None
    stage["vs_copy"] = round(copy_s / stage["wall_s"], 2) if stage["wall_s"] else None
    written_s, written_rows = raw_copy_written(url, written)
    stage["rows_written"] = written
    stage["raw_copy_written_s"] = round(written_s, 2)
    stage["vs_copy_written"] = round(written_s / stage["wall_s"], 2) if stage["wall_s"] else None
    if written_rows != sum(written.values()):
        raise SystemExit(f"{name}: copied {written_rows} rows for {written}")
    print(
        json.dumps(
            {
                "stage": name,
                "vs_copy": stage["vs_copy"],
                "vs_copy_written": stage["vs_copy_written"],
                "rows_written": written,
            }
        ),
        flush=True,
    )
    return stage


def _pg_encoding(election_id: str) -> str:
    """PostgreSQL's name for the encoding of the layout the election was written in."""
    from benchmarks.generate import WRITERS
    from benchmarks.national_sources import LAYOUT_OF_YEAR

    encoding = WRITERS[LAYOUT_OF_YEAR.get(election_id[:4], "minint_2024")].encoding
    return {"cp1252": "WIN1252", "utf-8": "UTF8"}[encoding]


def load_roll_groups(url: str, extracts: list[Path]) -> None:
    """The roll extracts as the DAG's mapped tasks load them: one group after the other, each
    over one connection; SystemExit when one is refused or not loaded."""
    from ingestion.loaders.roll import load_roll_files, roll_file_groups

    for group in roll_file_groups(extracts):
        reports, refused = load_roll_files(url, group)
        if refused:
            raise SystemExit(f"roll extracts refused: {refused[:3]}")
        for report in reports:
            if report.status != "loaded":
                raise SystemExit(f"a roll extract was not loaded: {report}")


def load_sources(url: str, files: Any) -> list[dict[str, Any]]:
    """Every source through the functions the ingestion DAGs call, in the DAGs' order."""
    from ingestion.census.pipeline import load_entry
    from ingestion.census.registry import read_registry
    from ingestion.geo.loader import load_geo_file
    from ingestion.geo.manifest import read_geo_manifest
    from ingestion.geo.weights import compute_weights
    from ingestion.loaders.elections import load_results_file
    from ingestion.loaders.reu import load_reu_file, reu_files
    from ingestion.loaders.roll import roll_files

    def expect_loaded(report: Any, what: object) -> None:
        if report.status != "loaded":
            raise SystemExit(f"{what} was not loaded: {report}")

    stages = []
    for election_id, path in files.elections:
        stages.append(
            _timed_load(
                url,
                f"load results {election_id}",
                lambda p=path, e=election_id: expect_loaded(load_results_file(url, p, e), p),
                files.rows[path.name],
                [raw_copy_file(url, path, encoding=_pg_encoding(election_id), ragged=True)],
            )
        )
    for path in reu_files(files.reu):  # ingest_electoral_roll: REU tables, then the extracts
        stages.append(
            _timed_load(
                url,
                f"load REU {path.name}",
                lambda p=path: expect_loaded(load_reu_file(url, p), p),
                files.rows[path.name],
                [raw_copy_file(url, path, delimiter=",")],
            )
        )
    extracts = roll_files(files.roll)
    stages.append(
        _timed_load(
            url,
            f"load roll extracts ({len(extracts)} files)",
            lambda: load_roll_groups(url, extracts),
            files.rows["roll"],
            [raw_copy_file(url, p) for p in extracts],
        )
    )
    for spec in read_registry(files.census / "manifest.yml"):  # ingest_census
        path = files.census / str(spec.path)
        member = None
        if path.suffix == ".zip":
            member = path.name.removesuffix("_csv.zip") + ".CSV"
        stages.append(
            _timed_load(
                url,
                f"load census {path.name}",
                lambda s=spec: expect_loaded(load_entry(url, s), s.label),
                _file_lines(path, member),
                [raw_copy_file(url, path, member=member)],
            )
        )
    for item in read_geo_manifest(files.geo):  # ingest_geography
        path = item.local_path()
        stages.append(
            _timed_load(
                url,
                f"load contours {path.name} ({item.kind})",
                lambda i=item, p=path: expect_loaded(
                    load_geo_file(
                        url,
                        p,
                        i.kind,
                        id_field=i.id_field,
                        commune_field=i.commune_field,
                        crs=i.crs,
                        layer=i.layer,
                        geo_year=i.geo_year,
                    ),
                    p,
                ),
                files.rows[path.name],
                [raw_copy_file(url, path, geojson=True)],
            )
        )
    started, cpu0 = time.perf_counter(), _cpu()
    weights = compute_weights(url)
    if weights.status != "loaded":
        raise SystemExit(f"the IRIS -> bureau weights were not computed: {weights}")
    stages.append(_stage("IRIS -> bureau weights", started, cpu0, weights.rows, iris=weights.iris))
    return stages


class Prepared(NamedTuple):
    """A database ready for the builds: what steps 1-2 did, or what an earlier run left."""

    url: str
    bureaux: list[str]
    stages: list[dict[str, Any]]  # generation and loads, in order (none with --loaded)
    loads: list[dict[str, Any]]  # the load stages (their vs_copy), the weights last
    knocks: int  # knocks already landed before the 10,000 new ones
    elections: list[str]


def _generate_and_load(scale: float, work: Path, sources: Path | None, campaign: Path) -> Prepared:
    """Steps 1-2 and the base knocks."""
    from benchmarks.bench_results_load import scratch_database
    from benchmarks.national_sources import generate_national, read_national

    base_knocks = max(NEW_KNOCKS, round(NATIONAL_KNOCKS * scale))
    stages: list[dict[str, Any]] = []
    started, cpu0 = time.perf_counter(), _cpu()
    # One geography for every source: the same bureaux in the four elections, the census, the
    # contours, the REU, the roll and the knocks.
    if sources is None:
        files = generate_national(work / "sources", scale, progress=print)
    else:  # files generated earlier (read only): the same run without writing 15 GB again
        known, files = read_national(sources)
        if known is not None and known != scale:
            raise SystemExit(f"{sources} was generated at scale {known}, not {scale}")
    ids = _bureau_ids(files.elections[0][1])
    _write_knocks(work / "knocks_base.csv", ids, base_knocks, seed=11)
    disk = sum(f.stat().st_size for f in files.folder.rglob("*") if f.is_file())
    stages.append(
        _stage(
            "generate",
            started,
            cpu0,
            bureaux=len(ids),
            communes=files.communes,
            knocks=base_knocks,
            files_mb=round(disk / 1e6, 1),
            files=files.rows,
        )
    )

    url = scratch_database(db_name(scale))
    loads = load_sources(url, files)
    stages.extend(loads)
    started, cpu0 = time.perf_counter(), _cpu()
    rows = _drop(url, work, work / "knocks_base.csv", campaign)
    stages.append(_stage("load knocks (drop zone)", started, cpu0, rows))

    return Prepared(url, ids, stages, loads, base_knocks, [e for e, _ in files.elections])


def _already_loaded(scale: float) -> Prepared:
    """--loaded: the database a previous run at `scale` loaded, as it is (no generation, no
    load, no base knocks; its bureaux and knock count read back), brought to this code's
    migrations as `scrutin setup` would."""
    import psycopg

    from benchmarks.national_sources import NATIONAL_BUREAUX
    from scrutin.config import database_url, with_database
    from scrutin.warehouse.migrate import migrate

    url = with_database(database_url(), db_name(scale))
    with psycopg.connect(url) as conn:
        migrate(conn)
        ids = [
            r[0]
            for r in conn.execute(
                "select distinct bureau_id from raw.election_results_bureau order by 1"
            ).fetchall()
        ]
        (knocks,) = conn.execute("select count(*) from raw.canvass_knocks").fetchone()  # type: ignore[misc]
        elections = [
            r[0]
            for r in conn.execute(
                "select distinct election_id from raw.election_results_bureau order by 1"
            ).fetchall()
        ]
    expected = max(200, round(NATIONAL_BUREAUX * scale))  # as national_sources sizes it
    if not ids or abs(len(ids) - expected) > 0.05 * expected:
        raise SystemExit(
            f"--loaded: {db_name(scale)} holds {len(ids)} bureaux, "
            f"not the ~{expected} of scale {scale}"
        )
    return Prepared(url, ids, [], [], int(knocks), elections)


def run(
    scale: float,
    work: Path,
    sources: Path | None = None,
    *,
    second_build: bool = True,
    loaded: bool = False,
    knock_rounds: int = 1,
    full_build: bool = True,
    delivery: str = "spread",
) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    campaign = work / "campaign.yml"
    campaign.write_text(CAMPAIGN_YAML, encoding="utf-8")
    ready = _already_loaded(scale) if loaded else _generate_and_load(scale, work, sources, campaign)
    url, ids, stages, loads, base_knocks = ready[:5]

    # The raw suites, as each ingestion DAG's gate runs them after its load (once per change
    # of their tables): the build then reuses these validations, as it would in production.
    raw_stage: dict[str, Any] = {}
    full: dict[str, Any] = {}
    if full_build:
        started, cpu0 = time.perf_counter(), _cpu()
        raw_stage = _stage(
            "raw suites (the ingestion DAGs' gate)", started, cpu0, **_raw_suites(url)
        )
        stages.append(raw_stage)
        # --full: a --loaded rerun on a database already published from the same inputs would
        # otherwise rebuild nothing (mode unchanged)
        full = _build(url, campaign, work / "build-full.log", full=True)
        stages.append({"stage": "scrutin build (full refresh)", **full})
    again: dict[str, Any] = {}
    if second_build and full_build:
        again = _build(url, campaign, work / "build-again.log")
        again["mode"] = _build_mode(work / "build-again.log")
        stages.append({"stage": "scrutin build, nothing new", **again})

    # `knock_rounds` deliveries one after the other: one build of 10,000 knocks varies by 10-15 %
    # with the machine's other work, so the JSON gives every round and their median.
    rounds: list[float] = []
    new_rows = 0
    peaks: list[float] = []
    for round_no in range(max(1, knock_rounds)):
        # A seed the warehouse has not seen: a rerun on a --loaded database drops new knocks too.
        path = work / f"knocks_new_{round_no}.csv"
        seed = 12 + base_knocks + new_rows
        where = plan_delivery(delivery, ids, _latest_knock_day(url), random.Random(seed))
        _write_knocks(path, ids, NEW_KNOCKS, seed=seed, delivery=where)
        started, cpu0 = time.perf_counter(), _cpu()
        landed = _drop(url, work, path, campaign)
        landing = time.perf_counter() - started
        new_rows += landed
        stages.append(_stage("10,000 new knocks: drop zone", started, cpu0, landed))
        incremental = _build(url, campaign, work / "build-knocks.log")
        stages.append({"stage": "10,000 new knocks: build to published", **incremental})
        rounds.append(round(landing + incremental["wall_s"], 2))
        peaks.append(incremental["peak_rss_mb"])

    bi, bi_server = _bi_queries(url)
    size = _db_size_mb(url)
    files_loads = loads[:-1]  # the weights are not a file load
    slowest = min(files_loads, key=lambda s: s["vs_copy"]) if files_loads else {}
    slowest_written = slowest_vs_copy_written(files_loads)
    own_peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return {
        "scale": scale,
        "date": dt.date.today().isoformat(),
        "bureaux": len(ids),
        # bureau ids are `<commune>_<code bv>`
        "communes": len({bureau.split("_")[0] for bureau in ids}),
        "elections": ready.elections,
        "knocks": base_knocks + new_rows,
        # None with --knocks-only (no full build: the deliveries on the published database)
        "full_refresh_s": full.get("wall_s"),
        # The raw suites before it (the DAGs' gate after the loads), not part of full_refresh_s.
        "raw_suites_s": raw_stage.get("wall_s"),
        # The build right after it with nothing new (mode `unchanged`: rebuilds nothing).
        "nothing_new_build_s": again.get("wall_s"),
        "nothing_new_build_mode": again.get("mode"),
        # landing + build to published, the median of the rounds (each one in the next key)
        "incremental_knocks_s": statistics.median(rounds),
        "incremental_knocks_rounds_s": rounds,
        # where the new knocks fell (plan_delivery): `spread` over every bureau and day, or
        # `day`, one day's export in DAY_BUREAUX bureaux
        "knocks_delivery": delivery,
        # How the build behind the new knocks decided (pipeline/build_plan.py logs the mode).
        "knocks_build_mode": _build_mode(work / "build-knocks.log"),
        # Every file load of step 2, one after the other (the weights included); None with
        # --loaded (nothing loaded: the builds of a database an earlier run loaded).
        "loads_s": round(sum(s["wall_s"] for s in loads), 2) if loads else None,
        # the builds' own peak (each `scrutin build` process, polled), and this process's (the
        # loads of step 2 run in it)
        "peak_rss_mb": max(
            (p for p in (full.get("peak_rss_mb"), *peaks) if p is not None), default=None
        ),
        "bench_rss_peak_mb": own_peak,
        "bi_p95_ms": max(bi.values()),
        "bi_p95_by_card_ms": bi,
        # the same cards' server time (planning + execution), without moving the rows
        "bi_server_p95_ms": max(bi_server.values()),
        "bi_server_p95_by_card_ms": bi_server,
        "load_vs_copy": slowest.get("vs_copy"),
        "slowest_loader": slowest.get("stage"),
        "loaders_vs_copy": {s["stage"]: s["vs_copy"] for s in files_loads},
        # the same loads against COPY of as many rows as each wrote, into the tables it wrote
        # (no index): the floor for a loader that writes more rows than its file has lines (the
        # slowest among those: a loader that aggregates its lines is not compared to it)
        "load_vs_copy_written": slowest_written.get("vs_copy_written"),
        "slowest_loader_vs_copy_written": slowest_written.get("stage"),
        "loaders_vs_copy_written": {s["stage"]: s.get("vs_copy_written") for s in files_loads},
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
    p.add_argument(
        "--sources",
        type=Path,
        help="a folder `generate.py national --scale S -o FOLDER` wrote: load it instead of "
        "generating (read only; its scale must be --scale)",
    )
    p.add_argument(
        "--no-second-build",
        dest="second_build",
        action="store_false",
        help="skip the build with nothing new (mode unchanged: it rebuilds nothing)",
    )
    p.add_argument(
        "--loaded",
        action="store_true",
        help="skip generation and loads: build, knocks and BI on the database an earlier run at "
        "this --scale loaded (scrutin_bench_national_<scale>) (the JSON then has no load figures)",
    )
    p.add_argument(
        "--knock-rounds",
        type=int,
        default=1,
        help="deliveries of 10,000 knocks, each built and published in turn (median in the JSON)",
    )
    p.add_argument(
        "--knocks-only",
        dest="full_build",
        action="store_false",
        help="with --loaded: no raw suites and no full build, only the --knock-rounds deliveries "
        "on the database as its last build published it (to compare code on the knocks' path)",
    )
    p.add_argument(
        "--delivery",
        choices=DELIVERIES,
        default="spread",
        help="where each delivery's 10,000 knocks fall: `spread` over every bureau and day of "
        f"the campaign (the worst case), or `day`, one day's export in {DAY_BUREAUX} bureaux, "
        "the day after the latest knock landed",
    )
    args = p.parse_args(argv)
    if not args.full_build and not args.loaded:
        p.error("--knocks-only needs --loaded (a database an earlier run loaded and published)")
    from scrutin.config import apply_environment_defaults

    apply_environment_defaults()
    summary = run(
        args.scale,
        args.work / f"scale-{args.scale}",
        args.sources,
        second_build=args.second_build,
        loaded=args.loaded,
        knock_rounds=args.knock_rounds,
        full_build=args.full_build,
        delivery=args.delivery,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = ("-builds" if args.full_build else "-knocks") if args.loaded else ""
    if args.delivery != "spread":
        suffix += f"-{args.delivery}"
    target = args.out / f"national-{summary['date']}-scale{args.scale}{suffix}.json"
    if target.exists():  # an earlier run of the day: keep it
        target = target.with_name(f"{target.stem}-{dt.datetime.now():%H%M}.json")
    target.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("stages",)}, indent=2))
    print(f"written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
