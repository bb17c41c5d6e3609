"""The IRIS -> polling-station allocation weights engine (pure functions on arrays).

Census counts live on IRIS, votes on bureaux. A weight w(s -> t) says which share of source s
(an IRIS) belongs to target t (a bureau); the weights of a source sum to 1, so allocated totals
equal the source totals. Per source, the first method that applies wins:

1. `addresses`: voter addresses (REU address points, each carrying its bureau and a weight
   `nb_adresses`) placed in the source polygons; w = address mass of (s, t) / address mass of s.
   This follows where voters live, not where land is. Quality `few_addresses` when s holds fewer
   than `min_addresses` (the shares are then noisy), else `good`.
2. `areal`: area of s ∩ t / area of s covered by targets (renormalised over the covered part, so
   the weights still sum to 1). Quality `partial_coverage` when the targets cover less than
   `min_coverage` of s (the uncovered part is assumed to split like the covered part), else
   `good`. Slivers below `min_overlap_m2` (shared borders digitised twice) are ignored.
3. `commune` (only when communes are given): the bureaux of the source's commune. One bureau:
   weight 1, `good` (exact). Several: the commune-wide address shares of its bureaux, or equal
   shares when the commune has no address; quality `no_overlap` when some of them have a polygon
   (which did not meet s), `no_bureau_geometry` when none has.
4. `nearest` (only without communes): the nearest target polygon, weight 1, `no_overlap`.
   With communes a source whose commune has no bureau at all stays unallocated and is reported:
   sending it to another commune's bureau would break the commune totals.

When communes are given, an address is only used by a source of its own commune (results code:
Paris/Lyon/Marseille arrondissements are compared as their commune): a geocoding slip across a
commune border would otherwise move voters between communes. Such points are counted. And the
addresses of a commune with a single source (an IRIS `Z`, "commune non irisée") all go to that
source, wherever they were geocoded: the commune *is* the IRIS.

Everything is vectorised: points are placed with an STRtree built on each chunk of points and
queried with all source polygons at once (`predicate="covers"`, prepared polygons, boundaries
included; a point covered by several sources goes to the lowest index and is counted as
ambiguous); intersections are computed on arrays of pairs. No Python loop runs per point or per
pair. All geometries must be in one metric CRS (see `allocate_lonlat` for lon/lat inputs).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

log = logging.getLogger("scrutin.geo.allocation")

METHODS: tuple[str, ...] = ("addresses", "areal", "commune", "nearest")
QUALITIES: tuple[str, ...] = (
    "good",
    "few_addresses",
    "partial_coverage",
    "no_overlap",
    "no_bureau_geometry",
)
DEFAULT_MIN_ADDRESSES = 20
DEFAULT_MIN_COVERAGE = 0.95
DEFAULT_MIN_OVERLAP_M2 = 1.0
DEFAULT_POINT_CHUNK = 1_000_000
WEIGHT_TOLERANCE = 1e-9
WEIGHT_COLUMNS: tuple[str, ...] = (
    "source_id",
    "target_id",
    "weight",
    "method",
    "quality",
    "n_addresses",
    "coverage",
)
_EXAMPLES = 10


@dataclass(frozen=True)
class Polygons:
    """A layer: unique ids, geometries (None allowed: a bureau known without polygon), communes.

    `communes` are commune codes comparable across layers (the results code of a commune).
    """

    ids: np.ndarray
    geoms: np.ndarray
    communes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.geoms):
            raise ValueError("ids and geoms must have the same length")
        if self.communes is not None and len(self.communes) != len(self.ids):
            raise ValueError("communes and ids must have the same length")

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class WeightedPoints:
    """Address points: coordinates, weight (nb_adresses), target id, optional commune."""

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    target: np.ndarray
    commune: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Placement:
    """Which source holds each point (-1: none)."""

    source_index: np.ndarray
    n_outside: int
    n_ambiguous: int


@dataclass(frozen=True)
class AllocationReport:
    """What an engineer needs to trust (or not) a set of weights."""

    sources: int
    targets: int
    points: int = 0
    points_placed: int = 0
    points_outside: int = 0
    weight_outside: float = 0.0
    points_ambiguous: int = 0
    points_cross_commune: int = 0
    points_by_commune: int = 0
    outside_examples: tuple[int, ...] = ()
    sources_by_method: dict[str, int] = field(default_factory=dict)
    sources_by_quality: dict[str, int] = field(default_factory=dict)
    unallocated: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """A human summary (CLI, logs)."""
        out = [
            f"{self.sources} sources, {self.targets} targets, {self.points} points",
            "methods: "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.sources_by_method.items())) or "-"),
            "quality: "
            + (", ".join(f"{k} {v}" for k, v in sorted(self.sources_by_quality.items())) or "-"),
        ]
        if self.points:
            out.append(
                f"points placed {self.points_placed}, outside every source {self.points_outside} "
                f"(weight {self.weight_outside:g}), on a shared border or overlap "
                f"{self.points_ambiguous}, in another commune's IRIS (unused) "
                f"{self.points_cross_commune}, given to the single IRIS of their commune "
                f"{self.points_by_commune}"
            )
        if self.outside_examples:
            out.append(
                "first points outside every source (0-based point index): "
                + ", ".join(str(i) for i in self.outside_examples)
            )
        if self.timings:
            out.append("timings: " + ", ".join(f"{k} {v:.2f}" for k, v in self.timings.items()))
        if self.unallocated:
            shown = ", ".join(self.unallocated[:_EXAMPLES])
            more = (
                f" (+{len(self.unallocated) - _EXAMPLES})"
                if len(self.unallocated) > _EXAMPLES
                else ""
            )
            out.append(f"unallocated sources {len(self.unallocated)}: {shown}{more}")
        return out


@dataclass(frozen=True)
class Allocation:
    weights: pd.DataFrame
    report: AllocationReport


def merge_reports(reports: Sequence[AllocationReport]) -> AllocationReport:
    """Sum the reports of independent runs (one per metric zone)."""

    def add(dicts: Iterable[dict[str, int]]) -> dict[str, int]:
        total: dict[str, int] = {}
        for d in dicts:
            for k, v in d.items():
                total[k] = total.get(k, 0) + v
        return total

    def add_float(dicts: Iterable[dict[str, float]]) -> dict[str, float]:
        total: dict[str, float] = {}
        for d in dicts:
            for k, v in d.items():
                total[k] = round(total.get(k, 0.0) + v, 3)
        return total

    return AllocationReport(
        sources=sum(r.sources for r in reports),
        targets=sum(r.targets for r in reports),
        points=sum(r.points for r in reports),
        points_placed=sum(r.points_placed for r in reports),
        points_outside=sum(r.points_outside for r in reports),
        weight_outside=sum(r.weight_outside for r in reports),
        points_ambiguous=sum(r.points_ambiguous for r in reports),
        points_cross_commune=sum(r.points_cross_commune for r in reports),
        points_by_commune=sum(r.points_by_commune for r in reports),
        outside_examples=tuple(i for r in reports for i in r.outside_examples)[:_EXAMPLES],
        sources_by_method=add(r.sources_by_method for r in reports),
        sources_by_quality=add(r.sources_by_quality for r in reports),
        unallocated=tuple(sorted(u for r in reports for u in r.unallocated)),
        timings=add_float(r.timings for r in reports),
    )


# ---- step 1: place points ----------------------------------------------------------------------


def place_points(
    geoms: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    *,
    chunk_size: int = DEFAULT_POINT_CHUNK,
) -> Placement:
    """Index of the polygon covering each point (-1 outside every polygon; None geoms skipped).

    The tree is built on the points of a chunk and queried with every polygon: GEOS then prepares
    each polygon once and tests its candidate points against it, the fast direction for millions
    of points and tens of thousands of polygons. Chunks bound memory (a shapely point costs
    ~100 bytes). Boundaries count as inside (`covers`): a point on a shared border is ambiguous
    and goes to the lowest polygon index, deterministically.
    """
    import numpy as np
    import shapely

    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    n = len(x)
    result = np.full(n, -1, dtype=np.int64)
    present = np.flatnonzero(~shapely.is_missing(geoms)) if len(geoms) else np.zeros(0, np.int64)
    ambiguous = 0
    if n == 0 or len(present) == 0:
        return Placement(result, n, 0)
    polygons = np.asarray(geoms, dtype=object)[present]
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        points = shapely.points(x[start:stop], y[start:stop])
        tree = shapely.STRtree(points)
        poly_pos, point_pos = tree.query(polygons, predicate="covers")
        del tree, points
        if len(point_pos) == 0:
            continue
        # Lowest polygon index first for each point, then keep the first hit per point.
        order = np.lexsort((poly_pos, point_pos))
        point_pos = point_pos[order]
        poly_pos = poly_pos[order]
        first = np.ones(len(point_pos), dtype=bool)
        first[1:] = point_pos[1:] != point_pos[:-1]
        ambiguous += int(len(point_pos) - first.sum())
        result[start + point_pos[first]] = present[poly_pos[first]]
    return Placement(result, int((result < 0).sum()), ambiguous)


# ---- the engine ----------------------------------------------------------------------------------


def allocate(
    sources: Polygons,
    targets: Polygons,
    points: WeightedPoints | None = None,
    *,
    min_addresses: float = DEFAULT_MIN_ADDRESSES,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    min_overlap_m2: float = DEFAULT_MIN_OVERLAP_M2,
    chunk_size: int = DEFAULT_POINT_CHUNK,
) -> Allocation:
    """Weights for every source (see the module docstring), geometries in one metric CRS."""
    import numpy as np

    _check_unique(sources.ids, "source")
    _check_unique(targets.ids, "target")
    use_communes = sources.communes is not None and targets.communes is not None
    n_src = len(sources)
    parts: list[pd.DataFrame] = []
    done = np.zeros(n_src, dtype=bool)
    stats = _PointStats()
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    if points is not None and len(points):
        pairs, stats = _address_pairs(sources, points, use_communes, min_addresses, chunk_size)
        timings["placement_s"] = stats.placement_s
        timings["addresses_s"] = time.perf_counter() - clock - stats.placement_s
        if len(pairs):
            parts.append(pairs)
            done[pairs["source_index"].to_numpy()] = True

    clock = time.perf_counter()
    remaining = np.flatnonzero(~done)
    if len(remaining):
        pairs = _areal_pairs(
            sources,
            targets,
            remaining,
            use_communes=use_communes,
            min_coverage=min_coverage,
            min_overlap_m2=min_overlap_m2,
        )
        if len(pairs):
            parts.append(pairs)
            done[pairs["source_index"].to_numpy()] = True
    timings["areal_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    remaining = np.flatnonzero(~done)
    if len(remaining):
        if use_communes:
            pairs = _commune_pairs(sources, targets, points, remaining)
        else:
            pairs = _nearest_pairs(sources, targets, remaining)
        if len(pairs):
            parts.append(pairs)
            done[pairs["source_index"].to_numpy()] = True

    timings["fallback_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    weights = _assemble(sources, targets, parts)
    per_source = weights.drop_duplicates("source_id")
    timings["assemble_s"] = time.perf_counter() - clock
    return Allocation(
        weights,
        AllocationReport(
            sources=n_src,
            targets=len(targets),
            points=len(points) if points is not None else 0,
            points_placed=stats.placed,
            points_outside=stats.outside,
            weight_outside=stats.weight_outside,
            points_ambiguous=stats.ambiguous,
            points_cross_commune=stats.cross_commune,
            points_by_commune=stats.by_commune,
            outside_examples=stats.outside_examples,
            sources_by_method=_counts(per_source["method"]),
            sources_by_quality=_counts(per_source["quality"]),
            unallocated=tuple(sorted(str(s) for s in np.asarray(sources.ids)[~done])),
            timings={k: round(v, 3) for k, v in timings.items()},
        ),
    )


@dataclass(frozen=True)
class _PointStats:
    placed: int = 0
    outside: int = 0
    weight_outside: float = 0.0
    ambiguous: int = 0
    cross_commune: int = 0
    by_commune: int = 0
    outside_examples: tuple[int, ...] = ()
    placement_s: float = 0.0


def _sole_source_of_commune(
    source_communes: np.ndarray, point_communes: np.ndarray, placed: np.ndarray
) -> tuple[np.ndarray, int]:
    """Give the points of a commune that has a single source to that source.

    A commune with one IRIS (`Z`, "non irisée") is that IRIS: all its voters live there,
    wherever their address was geocoded (a point a few metres across the border, or a source
    without polygon), so its points need no placement. Returns the new source index per point
    and how many points it changed.
    """
    import numpy as np
    import pandas as pd

    communes = pd.Series(np.asarray(source_communes, dtype=object))
    counts = communes.value_counts()
    sole = communes.isin(counts.index[counts == 1])
    if not sole.any():
        return placed, 0
    sole_index = pd.Series(np.flatnonzero(sole.to_numpy()), index=communes[sole].to_numpy())
    mapped = (
        pd.Series(np.asarray(point_communes, dtype=object))
        .map(sole_index)
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )
    has = ~np.isnan(mapped)
    result = placed.copy()
    result[has] = mapped[has].astype(np.int64)
    return result, int((result != placed).sum())


def _counts(column: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in column.value_counts().items()}


def _check_unique(ids: np.ndarray, what: str) -> None:
    import pandas as pd

    duplicated = pd.Index(ids).duplicated()
    if duplicated.any():
        raise ValueError(f"{what} ids must be unique: {ids[duplicated][0]!r} appears twice")


def _frame(
    source_index: np.ndarray,
    target_index: np.ndarray,
    weight: np.ndarray,
    *,
    method: str,
    quality: np.ndarray | str,
    n_addresses: np.ndarray | float,
    coverage: np.ndarray | float,
) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {
            "source_index": source_index,
            "target_index": target_index,
            "weight": weight,
            "method": method,
            "quality": quality,
            "n_addresses": n_addresses,
            "coverage": coverage,
        }
    )


def _empty(method: str) -> pd.DataFrame:
    import numpy as np

    no_index = np.zeros(0, np.int64)
    return _frame(
        no_index,
        no_index,
        np.zeros(0),
        method=method,
        quality=np.zeros(0, dtype=object),
        n_addresses=0.0,
        coverage=0.0,
    )


def _address_pairs(
    sources: Polygons,
    points: WeightedPoints,
    use_communes: bool,
    min_addresses: float,
    chunk_size: int,
) -> tuple[pd.DataFrame, _PointStats]:
    import numpy as np
    import pandas as pd

    started = time.perf_counter()
    placement = place_points(sources.geoms, points.x, points.y, chunk_size=chunk_size)
    placement_s = time.perf_counter() - started
    src = placement.source_index
    by_commune = 0
    cross = np.zeros(len(src), dtype=bool)
    if use_communes and points.commune is not None:
        assert sources.communes is not None
        src, by_commune = _sole_source_of_commune(sources.communes, points.commune, src)
        placed = src >= 0
        cross[placed] = (
            np.asarray(sources.communes)[src[placed]] != np.asarray(points.commune)[placed]
        )
    outside = src < 0
    weight = np.asarray(points.weight, dtype=np.float64)
    usable = ~outside & ~cross & (weight > 0)
    stats = _PointStats(
        placed=int((~outside).sum()),
        outside=int(outside.sum()),
        weight_outside=float(weight[outside].sum()),
        ambiguous=placement.n_ambiguous,
        cross_commune=int(cross.sum()),
        by_commune=by_commune,
        placement_s=placement_s,
        outside_examples=tuple(int(i) for i in np.flatnonzero(outside)[:_EXAMPLES]),
    )
    if not usable.any():
        return _empty("addresses"), stats
    target_codes, target_ids = pd.factorize(np.asarray(points.target)[usable])
    grouped = (
        pd.DataFrame({"s": src[usable], "t": target_codes, "w": weight[usable]})
        .groupby(["s", "t"], sort=True)["w"]
        .sum()
        .reset_index()
    )
    total = grouped.groupby("s")["w"].transform("sum").to_numpy()
    quality = np.where(total < min_addresses, "few_addresses", "good")
    frame = _frame(
        grouped["s"].to_numpy(),
        grouped["t"].to_numpy(),
        grouped["w"].to_numpy() / total,
        method="addresses",
        quality=quality,
        n_addresses=grouped["w"].to_numpy(),
        coverage=np.nan,
    )
    # Point targets are ids, not target indices: carry them by name.
    frame["target_id"] = np.asarray(target_ids, dtype=object)[frame["target_index"].to_numpy()]
    frame["target_index"] = -1
    return frame, stats


def _areal_pairs(
    sources: Polygons,
    targets: Polygons,
    remaining: np.ndarray,
    *,
    use_communes: bool,
    min_coverage: float,
    min_overlap_m2: float,
) -> pd.DataFrame:
    import numpy as np
    import shapely

    empty = _empty("areal")
    target_geoms = np.asarray(targets.geoms, dtype=object)
    with_geom = np.flatnonzero(~shapely.is_missing(target_geoms))
    src_geoms = np.asarray(sources.geoms, dtype=object)[remaining]
    has_geom = ~shapely.is_missing(src_geoms)
    remaining = remaining[has_geom]
    if len(with_geom) == 0 or len(remaining) == 0:
        return empty
    tree = shapely.STRtree(target_geoms[with_geom])
    src_pos, tgt_pos = tree.query(
        np.asarray(sources.geoms, dtype=object)[remaining], predicate="intersects"
    )
    s_idx = remaining[src_pos]
    t_idx = with_geom[tgt_pos]
    if use_communes:
        assert sources.communes is not None and targets.communes is not None
        same = np.asarray(sources.communes)[s_idx] == np.asarray(targets.communes)[t_idx]
        s_idx, t_idx = s_idx[same], t_idx[same]
    if len(s_idx) == 0:
        return empty
    src_all = np.asarray(sources.geoms, dtype=object)
    overlap = shapely.area(shapely.intersection(src_all[s_idx], target_geoms[t_idx]))
    keep = overlap >= min_overlap_m2
    s_idx, t_idx, overlap = s_idx[keep], t_idx[keep], overlap[keep]
    if len(s_idx) == 0:
        return empty
    order = np.lexsort((t_idx, s_idx))
    s_idx, t_idx, overlap = s_idx[order], t_idx[order], overlap[order]
    uniq, inverse = np.unique(s_idx, return_inverse=True)
    covered = np.bincount(inverse, weights=overlap)
    source_area = shapely.area(src_all[uniq])
    coverage = covered / source_area
    quality = np.where(coverage < min_coverage, "partial_coverage", "good")
    return _frame(
        s_idx,
        t_idx,
        overlap / covered[inverse],
        method="areal",
        quality=quality[inverse],
        n_addresses=np.nan,
        coverage=coverage[inverse],
    )


def _commune_pairs(
    sources: Polygons,
    targets: Polygons,
    points: WeightedPoints | None,
    remaining: np.ndarray,
) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    import shapely

    assert sources.communes is not None and targets.communes is not None
    target_frame = pd.DataFrame(
        {
            "commune": np.asarray(targets.communes, dtype=object),
            "target_index": np.arange(len(targets)),
            "has_geom": ~shapely.is_missing(np.asarray(targets.geoms, dtype=object)),
            "target_id": np.asarray(targets.ids, dtype=object),
        }
    )
    # Commune-wide address mass per bureau (every address of the commune, whatever its IRIS).
    if points is not None and len(points) and points.commune is not None:
        mass = (
            pd.DataFrame(
                {
                    "commune": np.asarray(points.commune, dtype=object),
                    "target_id": np.asarray(points.target, dtype=object),
                    "mass": np.asarray(points.weight, dtype=np.float64),
                }
            )
            .groupby(["commune", "target_id"], sort=False)["mass"]
            .sum()
            .reset_index()
        )
        target_frame = target_frame.merge(mass, on=["commune", "target_id"], how="left")
    else:
        target_frame["mass"] = np.nan
    target_frame["mass"] = target_frame["mass"].fillna(0.0)
    per_commune = target_frame.groupby("commune").agg(
        n=("target_index", "size"), any_geom=("has_geom", "any"), total=("mass", "sum")
    )
    target_frame = target_frame.join(per_commune, on="commune")
    wanted = pd.DataFrame(
        {
            "source_index": remaining,
            "commune": np.asarray(sources.communes, dtype=object)[remaining],
        }
    )
    pairs = wanted.merge(target_frame, on="commune", how="inner")
    if pairs.empty:
        return _empty("commune")
    by_mass = pairs["total"] > 0
    weight = np.where(by_mass, pairs["mass"] / pairs["total"].where(by_mass, 1.0), 1.0 / pairs["n"])
    quality = np.where(
        pairs["n"] == 1, "good", np.where(pairs["any_geom"], "no_overlap", "no_bureau_geometry")
    )
    frame = _frame(
        pairs["source_index"].to_numpy(),
        pairs["target_index"].to_numpy(),
        weight,
        method="commune",
        quality=quality,
        n_addresses=pairs["mass"].to_numpy(),
        coverage=np.nan,
    )
    # A bureau with no address in a commune that has some gets weight 0: not a pair.
    return frame[frame["weight"] > 0].reset_index(drop=True)


def _nearest_pairs(sources: Polygons, targets: Polygons, remaining: np.ndarray) -> pd.DataFrame:
    import numpy as np
    import shapely

    empty = _empty("nearest")
    target_geoms = np.asarray(targets.geoms, dtype=object)
    with_geom = np.flatnonzero(~shapely.is_missing(target_geoms))
    src_geoms = np.asarray(sources.geoms, dtype=object)[remaining]
    remaining = remaining[~shapely.is_missing(src_geoms)]
    if len(with_geom) == 0 or len(remaining) == 0:
        return empty
    tree = shapely.STRtree(target_geoms[with_geom])
    src_pos, tgt_pos = tree.query_nearest(np.asarray(sources.geoms, dtype=object)[remaining])
    # Equidistant targets: keep the lowest index, deterministically.
    order = np.lexsort((tgt_pos, src_pos))
    src_pos, tgt_pos = src_pos[order], tgt_pos[order]
    first = np.ones(len(src_pos), dtype=bool)
    first[1:] = src_pos[1:] != src_pos[:-1]
    return _frame(
        remaining[src_pos[first]],
        with_geom[tgt_pos[first]],
        np.ones(int(first.sum())),
        method="nearest",
        quality="no_overlap",
        n_addresses=np.nan,
        coverage=0.0,
    )


def _assemble(sources: Polygons, targets: Polygons, parts: list[pd.DataFrame]) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in WEIGHT_COLUMNS})
    frame = pd.concat(parts, ignore_index=True)
    source_ids = np.asarray(sources.ids, dtype=object)
    target_ids = np.asarray(targets.ids, dtype=object)
    frame["source_id"] = source_ids[frame["source_index"].to_numpy()]
    if "target_id" not in frame:
        frame["target_id"] = None
    by_index = frame["target_index"].to_numpy() >= 0
    ids = frame["target_id"].to_numpy(dtype=object, copy=True)
    ids[by_index] = target_ids[frame["target_index"].to_numpy()[by_index]]
    frame["target_id"] = ids
    frame = frame[list(WEIGHT_COLUMNS)].sort_values(["source_id", "target_id"], ignore_index=True)
    sums = frame.groupby("source_id")["weight"].sum()
    off = sums[(sums - 1.0).abs() > WEIGHT_TOLERANCE]
    if len(off):
        raise RuntimeError(f"weights do not sum to 1 for {len(off)} sources, e.g. {off.index[0]}")
    return frame


# ---- lon/lat inputs: one run per metric zone ---------------------------------------------------


def allocate_lonlat(
    sources: Polygons,
    targets: Polygons,
    points: WeightedPoints | None = None,
    **options: float,
) -> Allocation:
    """`allocate` for WGS84 inputs: each region runs in its own metric CRS (`crs.area_epsg`).

    A source, a target or a point belongs to the zone of a point inside it; sources only meet the
    targets and points of their zone (a Martinique IRIS never overlaps a Lambert-93 bureau).
    """
    import numpy as np
    import pandas as pd
    import shapely

    from ingestion.geo.contours import transform
    from ingestion.geo.crs import WGS84, area_epsg

    def zones(geoms: np.ndarray) -> np.ndarray:
        geoms = np.asarray(geoms, dtype=object)
        out = np.full(len(geoms), -1, dtype=np.int64)
        present = ~shapely.is_missing(geoms)
        if present.any():
            inner = shapely.point_on_surface(geoms[present])
            out[present] = area_epsg(shapely.get_x(inner), shapely.get_y(inner))
        return out

    src_zone = zones(sources.geoms)
    tgt_zone = zones(targets.geoms)
    pt_zone = (
        area_epsg(np.asarray(points.x), np.asarray(points.y))
        if points is not None
        else np.zeros(0, np.int64)
    )
    if sources.communes is not None and (src_zone < 0).any():
        # A source without polygon (commune fallback only) follows its commune's other sources.
        commune_zone = (
            pd.Series(src_zone[src_zone >= 0], index=np.asarray(sources.communes)[src_zone >= 0])
            .groupby(level=0)
            .first()
        )
        missing = src_zone < 0
        mapped = pd.Series(np.asarray(sources.communes)[missing]).map(commune_zone)
        src_zone[missing] = mapped.fillna(-1).to_numpy(dtype=np.int64)
    zone_codes = [int(z) for z in np.unique(src_zone)]
    results: list[Allocation] = []
    for zone in zone_codes:
        epsg = zone if zone > 0 else 2154
        s = src_zone == zone
        # Targets without polygon (zone -1) join every zone: the commune fallback needs them.
        t = (tgt_zone == zone) | (tgt_zone < 0)
        zone_sources = Polygons(
            np.asarray(sources.ids)[s],
            _project(np.asarray(sources.geoms, dtype=object)[s], epsg, transform, WGS84),
            None if sources.communes is None else np.asarray(sources.communes)[s],
        )
        zone_targets = Polygons(
            np.asarray(targets.ids)[t],
            _project(np.asarray(targets.geoms, dtype=object)[t], epsg, transform, WGS84),
            None if targets.communes is None else np.asarray(targets.communes)[t],
        )
        zone_points = None
        if points is not None:
            p = pt_zone == epsg
            px, py = _project_xy(np.asarray(points.x)[p], np.asarray(points.y)[p], epsg)
            zone_points = WeightedPoints(
                px,
                py,
                np.asarray(points.weight)[p],
                np.asarray(points.target)[p],
                None if points.commune is None else np.asarray(points.commune)[p],
            )
        results.append(allocate(zone_sources, zone_targets, zone_points, **options))  # type: ignore[arg-type]
    weights = (
        pd.concat([r.weights for r in results], ignore_index=True).sort_values(
            ["source_id", "target_id"], ignore_index=True
        )
        if results
        else _assemble(sources, targets, [])
    )
    merged = merge_reports([r.report for r in results])
    # Targets without polygon were counted once per zone; points of a zone without any source
    # were never offered to a source: they are outside every source too.
    stray = np.flatnonzero(~np.isin(pt_zone, zone_codes))
    points_total = len(points) if points is not None else 0
    stray_weight = float(np.asarray(points.weight)[stray].sum()) if points is not None else 0.0
    merged = dataclasses.replace(
        merged,
        targets=len(targets),
        points=points_total,
        points_outside=merged.points_outside + len(stray),
        weight_outside=merged.weight_outside + stray_weight,
    )
    return Allocation(weights, merged)


def _project(geoms: np.ndarray, epsg: int, transform: object, wgs84: str) -> np.ndarray:
    import numpy as np
    import shapely

    out = np.asarray(geoms, dtype=object).copy()
    present = ~shapely.is_missing(out)
    if present.any():
        out[present] = transform(out[present], wgs84, epsg)  # type: ignore[operator]
    return out


def _project_xy(lon: np.ndarray, lat: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np
    from pyproj import Transformer

    if len(lon) == 0:
        return np.zeros(0), np.zeros(0)
    transformer = Transformer.from_crs("EPSG:4326", epsg, always_xy=True)
    x, y = transformer.transform(lon, lat)
    return np.asarray(x), np.asarray(y)
