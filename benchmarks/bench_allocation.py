"""Allocation weights at national scale: 50,000 IRIS, 69,000 bureaux, 14 million REU addresses.

    .venv/bin/python benchmarks/bench_allocation.py                  # national scale
    .venv/bin/python benchmarks/bench_allocation.py --points 1000000 --iris 5000 --bureaux 7000

Target (issue 4): address placement and weights in under 5 minutes on the project's 2-core
machine. The inputs are synthetic and generated in memory (nothing touches the disk or the
database), in Lambert-93 metres over a 500 km x 400 km box of metropolitan France:
- IRIS: a grid of square cells, each edge cut into 25 segments (101 vertices per polygon, the
  order of a real IRIS contour), grouped 2 x 2 into communes;
- bureaux: another grid, offset and of another cell size, so that IRIS and bureaux never
  coincide (every IRIS straddles several bureaux); a bureau's commune is the commune under its
  centre;
- addresses: uniform random points with `nb_adresses` 1..5, each carrying the bureau that
  contains it and that bureau's commune; the points of 2 % of the IRIS are removed, so those
  IRIS go through areal weighting.
Reported: generation time (not part of the target), the engine (`allocate`: placement,
same-commune rule, grouping, areal weighting, fallbacks and the sum-to-1 check) in wall and CPU
seconds with its phases, points per second, peak resident memory of the process, the 1-minute
load average (the machine may be shared: CPU seconds are what an idle machine would take), and
the check that the weights of every IRIS sum to 1. Results are printed and written to
`.bench/allocation/results.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT_DIR = ROOT / ".bench" / "allocation"
X0, Y0, WIDTH, HEIGHT = 100_000.0, 6_300_000.0, 500_000.0, 400_000.0
SEED = 2154


def _boxes(x0: Any, y0: Any, x1: Any, y1: Any, *, segments: int) -> Any:
    """Rectangles whose edges are cut into `segments` pieces (101 vertices for 25)."""
    import numpy as np
    import shapely

    boxes = shapely.box(x0, y0, x1, y1)
    step = float(np.min(np.minimum(x1 - x0, y1 - y0))) / segments
    return shapely.segmentize(boxes, step)


# Bureau layouts inside a commune block (2 x 2 IRIS): column and row cuts, as fractions of the
# block. Cuts at 1/3, 0.35, 0.4, 0.6 never fall on the IRIS edges at 1/2.
_SIX = ((0.0, 1 / 3, 2 / 3, 1.0), (0.0, 0.4, 1.0))
_FOUR = ((0.0, 0.35, 1.0), (0.0, 0.6, 1.0))
SIX_SHARE = 76  # % of communes with 6 bureaux, the others 4: 5.52 bureaux per commune on average


def generate(n_iris: int, n_points: int) -> dict[str, Any]:
    """The three layers with arithmetic ids; see the module docstring."""
    import numpy as np

    from ingestion.geo.allocation import Polygons, WeightedPoints

    rng = np.random.default_rng(SEED)
    # An even grid of IRIS (communes are 2 x 2 IRIS blocks), aspect ratio of the box.
    ny = max(2, 2 * round((n_iris * HEIGHT / WIDTH) ** 0.5 / 2))
    nx = max(2, 2 * round(n_iris / ny / 2))
    dx, dy = WIDTH / nx, HEIGHT / ny
    ix, iy = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"))
    n_cy = ny // 2
    commune = (ix // 2) * n_cy + (iy // 2)
    iris = Polygons(
        np.array([f"{c:05d}{i % 10_000:04d}" for i, c in enumerate(commune)], dtype=object),
        _boxes(X0 + ix * dx, Y0 + iy * dy, X0 + (ix + 1) * dx, Y0 + (iy + 1) * dy, segments=25),
        np.array([f"{c:05d}" for c in commune], dtype=object),
    )

    # Bureaux: each commune block cut by its layout.
    n_communes = (nx // 2) * n_cy
    six = (np.arange(n_communes) % 100) < SIX_SHARE
    bx0, by0, bx1, by1, b_commune = [], [], [], [], []
    for layout, mask in ((_SIX, six), (_FOUR, ~six)):
        codes = np.flatnonzero(mask)
        cx0 = X0 + (codes // n_cy) * 2 * dx
        cy0 = Y0 + (codes % n_cy) * 2 * dy
        cols, rows = layout
        for c in range(len(cols) - 1):
            for r in range(len(rows) - 1):
                bx0.append(cx0 + cols[c] * 2 * dx)
                bx1.append(cx0 + cols[c + 1] * 2 * dx)
                by0.append(cy0 + rows[r] * 2 * dy)
                by1.append(cy0 + rows[r + 1] * 2 * dy)
                b_commune.append(codes)
    b_commune_all = np.concatenate(b_commune)
    order = np.lexsort((np.concatenate(by0), np.concatenate(bx0), b_commune_all))
    x0s, y0s = np.concatenate(bx0)[order], np.concatenate(by0)[order]
    x1s, y1s = np.concatenate(bx1)[order], np.concatenate(by1)[order]
    b_commune_all = b_commune_all[order]
    bureau_ids = np.array([f"{c:05d}_{k:04d}" for k, c in enumerate(b_commune_all)], dtype=object)
    bureau_communes = np.array([f"{c:05d}" for c in b_commune_all], dtype=object)
    bureaux = Polygons(bureau_ids, _boxes(x0s, y0s, x1s, y1s, segments=25), bureau_communes)

    # Points: uniform over the box; bureau found arithmetically (commune block, then the cut).
    px = rng.uniform(X0, X0 + WIDTH, n_points)
    py = rng.uniform(Y0, Y0 + HEIGHT, n_points)
    pc = np.minimum((px - X0) // (2 * dx), nx // 2 - 1).astype(np.int64) * n_cy + np.minimum(
        (py - Y0) // (2 * dy), n_cy - 1
    ).astype(np.int64)
    fx = (px - X0 - (pc // n_cy) * 2 * dx) / (2 * dx)
    fy = (py - Y0 - (pc % n_cy) * 2 * dy) / (2 * dy)
    first_bureau = np.searchsorted(b_commune_all, pc)
    is_six = six[pc]
    col6 = np.minimum((fx * 3).astype(np.int64), 2)
    local = np.where(
        is_six,
        col6 * 2 + (fy >= 0.4),
        (fx >= 0.35).astype(np.int64) * 2 + (fy >= 0.6),
    )
    bureau_index = first_bureau + local
    # 2 % of the IRIS lose their addresses (they will be allocated by area).
    cell = np.minimum(((px - X0) // dx).astype(np.int64), nx - 1) * ny + np.minimum(
        ((py - Y0) // dy).astype(np.int64), ny - 1
    )
    empty = rng.choice(len(iris), size=max(1, len(iris) // 50), replace=False)
    keep = ~np.isin(cell, empty)
    points = WeightedPoints(
        px[keep],
        py[keep],
        rng.integers(1, 6, int(keep.sum())).astype(np.float64),
        bureau_ids[bureau_index[keep]],
        bureau_communes[bureau_index[keep]],
    )
    return {"sources": iris, "targets": bureaux, "points": points, "empty_iris": len(empty)}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iris", type=int, default=50_000, help="bureaux: 1.38 per IRIS")
    parser.add_argument("--points", type=int, default=14_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="points per STRtree")
    parser.add_argument("--target-s", type=float, default=300.0)
    args = parser.parse_args(argv)

    import numpy as np

    from ingestion.geo.allocation import allocate

    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    data = generate(args.iris, args.points)
    generate_s = time.perf_counter() - started
    points = data["points"]
    sources = data["sources"]
    print(
        f"generated {len(sources)} IRIS, {len(data['targets'])} bureaux, {len(points)} points "
        f"({data['empty_iris']} IRIS without address) in {generate_s:.1f} s; "
        f"peak RSS {_peak_rss_mib():.0f} MiB"
    )

    cpu0 = time.process_time()
    started = time.perf_counter()
    result = allocate(sources, data["targets"], points, chunk_size=args.chunk)
    engine_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu0
    weights = result.weights
    sums = weights.groupby("source_id")["weight"].sum()
    max_error = float((sums - 1).abs().max())
    peak = _peak_rss_mib()
    report = result.report
    print(
        f"allocate (placement + weights): {engine_s:.1f} s wall, {cpu_s:.1f} s CPU, "
        f"{len(weights):,} pairs for "
        f"{len(sums):,} IRIS; methods {report.sources_by_method}; "
        f"max |Σw - 1| = {max_error:.1e}; peak RSS {peak:.0f} MiB"
    )
    for line in report.lines():
        print(f"  {line}")
    ok = engine_s < args.target_s and max_error < 1e-9 and len(sums) == len(sources)
    results = {
        "iris": len(sources),
        "bureaux": len(data["targets"]),
        "points": len(points),
        "generate_s": round(generate_s, 2),
        "allocate_s": round(engine_s, 2),
        "allocate_cpu_s": round(cpu_s, 2),
        "phases_s": report.timings,
        "points_per_s": round(len(points) / engine_s),
        "pairs": len(weights),
        "max_sum_error": max_error,
        "peak_rss_mib": round(peak),
        "methods": report.sources_by_method,
        "load_avg_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "cores": os.cpu_count(),
        "target_s": args.target_s,
        "passed": ok,
        "numpy": np.__version__,
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"{'PASS' if ok else 'FAIL'}: allocate {engine_s:.1f} s (target {args.target_s:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
