"""One map shape per polling station, ready for a map: `raw.geo_bureau_shapes`.

PostGIS is not part of the stack, so geometry never runs in SQL: this module turns what is
loaded into plain columns a BI tool and `mart.bureau_map` can use without a GIS library —
a WGS84 GeoJSON text and a centroid (latitude, longitude):

- **contour**: the bureau's polygon of `raw.geo_bureaux` (the commune's own layer), lightly
  simplified (`SIMPLIFY_DEG`, about a metre) and snapped to 1e-6 degree (about 10 cm), so the
  text stays small without visible change; its centroid is the loader's planar centroid.
- **reu_addresses**: a bureau without a contour gets the union of the Voronoi cells of its REU
  address points (`raw.reu_addresses`), computed per commune and clipped to the commune's
  contour (`raw.geo_communes`) or, without one, to the buffered convex hull of the commune's
  points (`HULL_BUFFER_M`). Cells tile the commune with no overlap, so a choropleth reads like a
  real bureau layer; where two bureaux share an address point, the one with more addresses there
  takes it. The cells are drawn in a local equirectangular plane (longitude scaled by the cosine
  of the commune's mean latitude), exact enough at commune scale and free of any projection
  library.

Keys: a contour row is keyed by the contour's bureau id (the Ministry's key); an address row by
the REU-derived key of `raw.reu_addresses.bureau_id`, which `mart.bureau_map` brings onto the
Ministry key through `int_reu_bureau_mapping` (they differ in Paris, Lyon, Marseille).

The whole set is replaced in one transaction through the batch template, like the IRIS weights:
its fingerprint is the loaded input batches and the engine version, so the gate's call (stage 1,
before dbt) costs one query when nothing new was loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrutin.warehouse.batch import BatchLoad, BatchReport, Landed, ReplaceDataset, load_batch

if TYPE_CHECKING:
    import numpy as np
    import psycopg

    from ingestion.geo.allocation import WeightedPoints
    from scrutin.warehouse.batch import Batch

log = logging.getLogger("scrutin.ingestion.geo.shapes")

SOURCE = "geo_shapes"
DATASET = "bureau_shapes"
INPUT_NAME = "raw.geo_bureaux+raw.geo_communes+raw.reu_addresses"
ENGINE_VERSION = "2"
SHAPES_TABLE = "raw.geo_bureau_shapes"

# Simplification of contours (degrees; 1e-5 degree of latitude is 1.1 m) and the grid every
# coordinate is snapped to (1e-6 degree, 11 cm): invisible on a map, a third of the text.
SIMPLIFY_DEG = 1e-5
GRID_DEG = 1e-6
# Around the addresses of a commune with no commune contour: how far the cells reach beyond
# the outermost address points.
HULL_BUFFER_M = 150.0
METRES_PER_DEGREE_LAT = 111_320.0

_LOADED = (
    "inner join raw.batch_ledger as l on l.batch_id = {alias}.batch_id and l.status = 'loaded'"
)

_INPUT_BATCHES = """
select
    source,
    coalesce(dataset_key, '') as dataset_key,
    array_agg(batch_id order by batch_id) as batches
from raw.batch_ledger
where status = 'loaded'
    and (
        (source = 'geo' and dataset_key in ('bureau', 'commune'))
        or (source = 'reu')
    )
group by 1, 2
order by 1, 2
"""

_CONTOURS = f"""
select g.id, g.code_commune_results, g.geometry, g.centroid_lon, g.centroid_lat
from raw.geo_bureaux as g
{_LOADED.format(alias="g")}
order by g.id
"""

# The communes that need address cells: those with an REU address whose bureau has no contour
# of its own. Elsewhere every cell would be dropped for the bureau's contour, so neither the
# points nor the Voronoi diagram of those communes are needed (nationally: all but a few).
_CELL_COMMUNES = f"""
select distinct a.code_commune_results
from raw.reu_addresses as a
{_LOADED.format(alias="a")}
where not exists (
    select 1
    from raw.geo_bureaux as g
    {_LOADED.format(alias="g")}
    where g.id = a.bureau_id
)
order by 1
"""

_COMMUNES = f"""
select g.code_commune_results, g.geometry
from raw.geo_communes as g
{_LOADED.format(alias="g")}
where g.code_commune_results = any(%s)
"""

_SHAPES_COPY = (
    f"copy {SHAPES_TABLE} (batch_id, bureau_key, key_kind, code_commune_results, "
    "geometry_source, geometry_geojson, centroid_lat, centroid_lon, n_addresses) from stdin"
)


@dataclass(frozen=True, slots=True)
class Shape:
    """One bureau's map shape. `key_kind`: `contour` (Ministry key) or `reu` (REU key)."""

    bureau_key: str
    key_kind: str
    code_commune_results: str
    geometry_source: str
    geometry_geojson: str
    centroid_lat: float
    centroid_lon: float
    n_addresses: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShapesRunReport(BatchReport):
    """What one computation did; `sha256` is the inputs' fingerprint, not a file's."""

    contours: int = 0
    from_addresses: int = 0

    def lines(self) -> list[str]:
        return [
            f"bureau shapes {self.status} (batch {self.batch_id}): {self.contours} from contours, "
            f"{self.from_addresses} from REU addresses, {self.duration_s:.2f} s"
        ]


def geojson_text(geom: Any, *, simplify: float = 0.0) -> str:
    """A geometry as compact GeoJSON text: optionally simplified (topology kept), snapped to
    `GRID_DEG`. An input made empty by the grid keeps its unsnapped form rather than vanish."""
    import numpy as np

    one = np.empty(1, dtype=object)
    one[0] = geom
    return geojson_texts(one, simplify=simplify)[0]


def geojson_texts(geoms: np.ndarray, *, simplify: float = 0.0) -> list[str]:
    """`geojson_text` of every geometry of an array, in one GEOS call per step (tens of
    thousands of contours: a Python loop per shape was most of the step's time)."""
    import numpy as np
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    out = shapely.simplify(geoms, simplify, preserve_topology=True) if simplify else geoms
    snapped = shapely.set_precision(out, GRID_DEG)
    snapped = np.where(shapely.is_empty(snapped), out, snapped)
    return [str(text) for text in shapely.to_geojson(snapped).tolist()]


def contour_shapes(
    ids: list[str],
    communes: list[str],
    geometries: np.ndarray,
    centroids: list[tuple[float, float]],
) -> Iterator[Shape]:
    """Shapes of the bureaux that have a contour (centroids as (lon, lat)): the loader's
    planar centroid, or a point inside the contour when that centroid falls outside it (a
    crescent, a bureau in two parts), so that a pin lands in its bureau. Vectorised: one GEOS
    call per step over every contour."""
    import numpy as np
    import shapely

    if not ids:
        return
    geometries = np.asarray(geometries, dtype=object)
    lon = np.array([c[0] for c in centroids], dtype=np.float64)
    lat = np.array([c[1] for c in centroids], dtype=np.float64)
    outside = ~shapely.covers(geometries, shapely.points(lon, lat))
    if outside.any():
        inner = shapely.point_on_surface(geometries[outside])
        lon[outside] = shapely.get_x(inner)
        lat[outside] = shapely.get_y(inner)
    texts = geojson_texts(geometries, simplify=SIMPLIFY_DEG)
    for ident, commune, text, y, x in zip(
        ids, communes, texts, lat.tolist(), lon.tolist(), strict=True
    ):
        yield Shape(
            bureau_key=ident,
            key_kind="contour",
            code_commune_results=commune,
            geometry_source="contour",
            geometry_geojson=text,
            centroid_lat=y,
            centroid_lon=x,
        )


def address_cells(points: WeightedPoints, clips: dict[str, Any] | None = None) -> Iterator[Shape]:
    """Voronoi shapes of the bureaux of `points`, commune by commune (see the module
    docstring); `clips` maps a results commune code to its WGS84 contour."""
    import numpy as np

    clips = clips or {}
    communes = np.asarray(points.commune, dtype=object)
    for commune in sorted(set(communes.tolist())):
        mask = communes == commune
        yield from _commune_cells(
            str(commune),
            lon=np.asarray(points.x)[mask],
            lat=np.asarray(points.y)[mask],
            weights=np.asarray(points.weight)[mask],
            bureaux=np.asarray(points.target, dtype=object)[mask],
            clip=clips.get(commune),
        )


def _commune_cells(
    commune: str,
    *,
    lon: np.ndarray,
    lat: np.ndarray,
    weights: np.ndarray,
    bureaux: np.ndarray,
    clip: Any | None,
) -> Iterator[Shape]:
    import numpy as np
    import pandas as pd
    import shapely

    if len(lon) == 0:
        return
    scale = math.cos(math.radians(float(np.mean(lat))))
    frame = pd.DataFrame({"x": lon * scale, "y": lat, "w": weights, "bureau": bureaux})
    addresses = frame.groupby("bureau")["w"].sum()
    # One owner per distinct point: the bureau with most addresses there, then the smallest key.
    owners = (
        frame.groupby(["x", "y", "bureau"], as_index=False)["w"]
        .sum()
        .sort_values(["x", "y", "w", "bureau"], ascending=[True, True, False, True])
        .drop_duplicates(["x", "y"])
    )
    points = shapely.points(owners["x"].to_numpy(), owners["y"].to_numpy())
    if clip is not None:
        region = shapely.transform(clip, lambda c: c * np.array([scale, 1.0]))
    else:
        buffer = HULL_BUFFER_M / METRES_PER_DEGREE_LAT
        region = shapely.buffer(shapely.convex_hull(shapely.multipoints(points)), buffer)
    owner = owners["bureau"].to_numpy(dtype=object)
    if len(owners) == 1 or len(set(owner.tolist())) == 1:
        cells_by_bureau = {owner[0]: region}
    else:
        voronoi = shapely.voronoi_polygons(
            shapely.multipoints(points), extend_to=region, ordered=True
        )
        cells = np.asarray(shapely.get_parts(voronoi), dtype=object)
        cells_by_bureau = {
            bureau: shapely.intersection(shapely.coverage_union_all(cells[owner == bureau]), region)
            for bureau in sorted(set(owner.tolist()))
        }
    bureaux_sorted = sorted(addresses.index)
    cells = np.empty(len(bureaux_sorted), dtype=object)
    for i, bureau in enumerate(bureaux_sorted):
        cell = cells_by_bureau.get(bureau)
        if cell is None or shapely.is_empty(cell):
            # Every point of the bureau belongs to another one: a small disc around its points.
            mine = frame[frame["bureau"] == bureau]
            cell = shapely.buffer(
                shapely.multipoints(shapely.points(mine["x"], mine["y"])),
                HULL_BUFFER_M / METRES_PER_DEGREE_LAT / 3,
            )
        cells[i] = cell
    # The rest in one GEOS call per step over the commune's cells.
    centres = shapely.centroid(cells)
    off = ~shapely.contains(cells, centres)
    if off.any():
        centres[off] = shapely.point_on_surface(cells[off])
    wgs84 = shapely.transform(cells, lambda c: c / np.array([scale, 1.0]))
    polygons = np.empty(len(cells), dtype=object)
    polygons[:] = [_polygonal(g) for g in wgs84]
    texts = geojson_texts(polygons)
    lats = shapely.get_y(centres).tolist()
    lons = (shapely.get_x(centres) / scale).tolist()
    for bureau, text, y, x in zip(bureaux_sorted, texts, lats, lons, strict=True):
        yield Shape(
            bureau_key=str(bureau),
            key_kind="reu",
            code_commune_results=commune,
            geometry_source="reu_addresses",
            geometry_geojson=text,
            centroid_lat=y,
            centroid_lon=x,
            n_addresses=round(float(addresses[bureau])),
        )


def _polygonal(geom: Any) -> Any:
    """Only the polygons of `geom` (an intersection can leave slivers of lines or points)."""
    import shapely

    if shapely.get_type_id(geom) in (3, 6):  # Polygon, MultiPolygon
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) == 3]
    return shapely.multipolygons(parts) if len(parts) > 1 else parts[0]


@dataclass(slots=True)
class _Job:
    inputs: dict[str, list[int]] = field(default_factory=dict)
    contours: int = 0
    from_addresses: int = 0

    def fingerprint(self, conn: psycopg.Connection) -> str:
        """The loaded input batches and the engine version: nothing new, same digest."""
        rows = conn.execute(_INPUT_BATCHES).fetchall()
        self.inputs = {f"{s}/{k}" if k else s: list(batches) for s, k, batches in rows}
        payload = {
            "engine": ENGINE_VERSION,
            "inputs": self.inputs,
            "simplify": SIMPLIFY_DEG,
            "grid": GRID_DEG,
            "buffer": HULL_BUFFER_M,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def land(self, conn: psycopg.Connection, batch: Batch) -> Landed:
        import numpy as np
        import shapely

        from ingestion.geo.weights import read_points

        rows = conn.execute(_CONTOURS).fetchall()
        with_contour = {r[0] for r in rows}
        geometries = shapely.from_wkb([bytes(r[2]) for r in rows]) if rows else np.zeros(0)
        shapes = list(
            contour_shapes(
                [r[0] for r in rows],
                [r[1] for r in rows],
                geometries,
                [(r[3], r[4]) for r in rows],
            )
        )
        communes = [r[0] for r in conn.execute(_CELL_COMMUNES).fetchall()]
        cells: list[Shape] = []
        if communes:
            points = read_points(conn, communes=communes)
            clips = {
                r[0]: shapely.from_wkb(bytes(r[1]))
                for r in conn.execute(_COMMUNES, (communes,)).fetchall()
            }
            # A bureau with its own contour keeps it; its addresses still shaped the neighbours'.
            cells = [c for c in address_cells(points, clips) if c.bureau_key not in with_contour]
        shapes += cells
        if not shapes:
            log.warning("no bureau contour and no REU address loaded: no map shape to compute")
            return Landed(0, 0)
        batch_id = batch.begin(conn)
        with conn.cursor() as cur, cur.copy(_SHAPES_COPY) as copy:
            for s in shapes:
                copy.write_row((batch_id, *dataclasses.astuple(s)))
        self.contours = len(shapes) - len(cells)
        self.from_addresses = len(cells)
        detail = f"{self.contours} from contours, {self.from_addresses} from REU addresses"
        return Landed(len(shapes), len(shapes), detail=detail)


def compute_shapes(
    url_or_conn: str | psycopg.Connection | None = None, *, force: bool = False
) -> ShapesRunReport:
    """Recompute and replace `raw.geo_bureau_shapes` unless its inputs are unchanged (`force`
    ignores the fingerprint). A DSN, None (configured warehouse) or an idle connection."""
    job = _Job()
    load = BatchLoad(
        source=SOURCE,
        logger=log,
        path=INPUT_NAME,
        dataset_key=DATASET,
        label="bureau map shapes",
        scope=ReplaceDataset((SHAPES_TABLE,)),
        fingerprint=job.fingerprint,
        snapshot=True,
        force=force,
        unit="bureaux",
    )
    outcome = load_batch(url_or_conn, load, job.land, caller="compute_shapes")
    report = ShapesRunReport(**outcome.outcome())
    if outcome.status == "loaded":
        report = dataclasses.replace(
            report, contours=job.contours, from_addresses=job.from_addresses
        )
    for line in report.lines():
        log.info("%s", line)
    return report
