"""Generate the SYNTHETIC geography of the bundled sample (deterministic: same inputs, same bytes).

Writes into data/sample/geo/:
- contours-iris-synthetic.geojson: the 96 IRIS of data/sample/census/iris_sample.csv (real codes
  and names, written by the census sample generator) with INVENTED polygons, in the field layout
  of IGN CONTOURS-IRIS 2.x (INSEE_COM, NOM_COM, IRIS, CODE_IRIS, NOM_IRIS, TYP_IRIS) and in
  Lambert-93 with a declared `crs` member, like the IGN product;
- communes-synthetic.geojson: the 35 communes of the sample results with INVENTED polygons
  (fields `code_insee`, `nom`, WGS84, no `crs` member as RFC 7946 allows);
- manifest.yml: which file is which kind, for the `ingest_geography` DAG.
The real Brest bureau layer (BureauxVoteBrest.geojson) is only read.

How the polygons are made (and why they cannot be mistaken for real ones):
- Brest (29019) and Gouesnou (29061): the commune is the union of its real bureau polygons, so
  IRIS and bureaux tile the same land. Brest's 58 IRIS are Voronoi cells around 58 seed points
  drawn inside randomly chosen Brest bureaux, clipped to the union: they cut across bureaux
  (an IRIS is never a bureau), which is what the allocation must handle.
- The 33 other communes: Voronoi cells of the synthetic REU address points
  (data/sample/reu/table-adresses-reu-synthetic.csv.gz, from scripts/generate_sample_reu.py),
  dissolved by commune, clipped to a 1 km buffer around all points and cut out of the Brest,
  Gouesnou and commune 29189 bureau unions. Every address of these communes therefore falls in
  its own commune's polygon, except the ones the REU generator placed inside Brest. Plouzané's
  5 IRIS are Voronoi cells of 5 of its address points; the others have one IRIS (`Z`), the
  commune itself.
Run `python scripts/generate_sample_geo.py` after scripts/generate_sample_reu.py.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

ROOT = Path(__file__).resolve().parent.parent
GEO = ROOT / "data" / "sample" / "geo"
BUREAUX = GEO / "BureauxVoteBrest.geojson"
IRIS_LIST = ROOT / "data" / "sample" / "census" / "iris_sample.csv"
RESULTS = ROOT / "data" / "sample" / "elections" / "circos23-tour1.csv"
ADDRESSES = ROOT / "data" / "sample" / "reu" / "table-adresses-reu-synthetic.csv.gz"
IRIS_OUT = GEO / "contours-iris-synthetic.geojson"
COMMUNES_OUT = GEO / "communes-synthetic.geojson"
MANIFEST = GEO / "manifest.yml"
SEED = 2154
GEO_YEAR = 2023  # the IRIS geography of the census sample (data/sample/census/manifest.yml)
CITY_LAYERS = ("29019", "29061")
SIMPLIFY_M = 40.0  # communes whose bureau layer gives the commune outline

TO_L93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
TO_WGS84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


def _project(geom: shapely.Geometry, transformer: Transformer) -> shapely.Geometry:
    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, project)


def read_bureau_unions() -> dict[str, shapely.Geometry]:
    """Commune -> union of its real bureau polygons (Lambert-93)."""
    data = json.loads(BUREAUX.read_text(encoding="utf-8"))
    parts: dict[str, list[shapely.Geometry]] = defaultdict(list)
    for feature in data["features"]:
        polygon = shapely.geometry.shape(feature["geometry"])
        parts[feature["properties"]["DEPCO"]].append(_project(polygon, TO_L93))
    return {code: shapely.union_all(polys) for code, polys in sorted(parts.items())}


def read_bureaux_l93() -> dict[str, list[shapely.Geometry]]:
    data = json.loads(BUREAUX.read_text(encoding="utf-8"))
    out: dict[str, list[shapely.Geometry]] = defaultdict(list)
    for feature in data["features"]:
        polygon = shapely.geometry.shape(feature["geometry"])
        out[feature["properties"]["DEPCO"]].append(_project(polygon, TO_L93))
    return out


def read_commune_names() -> dict[str, str]:
    with RESULTS.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        return {row[2]: row[3] for row in reader}


def read_iris() -> list[dict[str, str]]:
    with IRIS_LIST.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_addresses() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, commune) of the synthetic REU points, Lambert-93, duplicates removed."""
    with gzip.open(ADDRESSES, "rt", encoding="utf-8", newline="") as fh:
        rows = [
            (float(r["longitude"]), float(r["latitude"]), r["code_commune_ref"])
            for r in csv.DictReader(fh)
        ]
    unique = sorted(set(rows))
    lon = np.array([r[0] for r in unique])
    lat = np.array([r[1] for r in unique])
    x, y = TO_L93.transform(lon, lat)
    return np.asarray(x), np.asarray(y), np.array([r[2] for r in unique], dtype=object)


def commune_polygons(
    communes: list[str], unions: dict[str, shapely.Geometry]
) -> dict[str, shapely.Geometry]:
    """Commune outlines (Lambert-93): city layers for Brest/Gouesnou, Voronoi of addresses else."""
    x, y, owner = read_addresses()
    others = np.isin(owner, [c for c in communes if c not in CITY_LAYERS])
    points = shapely.multipoints(np.column_stack([x[others], y[others]]))
    # Smooth outer edge: the hull of everything, widened by 1 km.
    hull = shapely.convex_hull(shapely.union_all([points, *unions.values()]))
    land = shapely.buffer(hull, 1000, quad_segs=4)
    taken = shapely.union_all(list(unions.values()))
    cells = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=land, ordered=True))
    cell_owner = owner[others]
    out: dict[str, shapely.Geometry] = {}
    for code in communes:
        if code in CITY_LAYERS:
            out[code] = unions[code]
            continue
        mine = cells[cell_owner == code]
        region = shapely.coverage_union_all(mine)
        out[code] = _main_parts(shapely.difference(shapely.intersection(region, land), taken))
    # Voronoi borders between interleaved address clouds zigzag: simplify the shared edges
    # (keeping the coverage free of gaps and overlaps) but not the outer boundary, which follows
    # the real bureau unions.
    drawn = [c for c in communes if c not in CITY_LAYERS]
    simplified = shapely.coverage_simplify(
        np.array([out[c] for c in drawn], dtype=object), SIMPLIFY_M, simplify_boundary=False
    )
    out.update(zip(drawn, simplified, strict=True))
    return out


def _main_parts(geom: shapely.Geometry) -> shapely.Geometry:
    """Drop the crumbs (parts under 10 % of the largest) that cutting out the city layers leaves."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    largest = max(p.area for p in parts)
    kept = [p for p in parts if p.area >= 0.1 * largest]
    return kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)


def voronoi_split(outline: shapely.Geometry, seeds: np.ndarray) -> list[shapely.Geometry]:
    """Cells of `seeds` clipped to `outline`, in seed order."""
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=outline, ordered=True)
    )
    return [shapely.intersection(cell, outline) for cell in cells]


def random_point_in(rng: np.random.Generator, polygon: shapely.Geometry) -> tuple[float, float]:
    minx, miny, maxx, maxy = polygon.bounds
    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if polygon.contains(shapely.Point(x, y)):
            return x, y


def iris_polygons(
    rng: np.random.Generator,
    iris: list[dict[str, str]],
    communes: dict[str, shapely.Geometry],
    bureaux: dict[str, list[shapely.Geometry]],
) -> dict[str, shapely.Geometry]:
    by_commune: dict[str, list[str]] = defaultdict(list)
    for row in iris:
        by_commune[row["code_commune"]].append(row["code_iris"])
    x, y, owner = read_addresses()
    out: dict[str, shapely.Geometry] = {}
    for code, unsorted in sorted(by_commune.items()):
        outline = communes[code]
        codes = sorted(unsorted)
        if len(codes) == 1:
            out[codes[0]] = outline
            continue
        if code in bureaux:
            # Seeds in randomly chosen bureaux: denser where bureaux are small (dense city).
            polys = bureaux[code]
            seeds = [random_point_in(rng, polys[rng.integers(len(polys))]) for _ in codes]
        else:
            mine = np.flatnonzero(owner == code)
            chosen = rng.choice(mine, size=len(codes), replace=False)
            seeds = [(x[i], y[i]) for i in sorted(chosen)]
        # West to east, then south to north: codes follow a readable order on the map.
        seeds.sort()
        cells = voronoi_split(outline, np.array(seeds))
        for iris_code, cell in zip(codes, cells, strict=True):
            out[iris_code] = cell
    return out


def _rounded(geom: shapely.Geometry, grid: float) -> dict[str, object]:
    """GeoJSON geometry snapped to `grid` (set_precision keeps it valid)."""
    snapped = shapely.set_precision(geom, grid)
    if snapped.geom_type == "GeometryCollection":
        snapped = shapely.union_all([p for p in shapely.get_parts(snapped) if p.area > 0])
    mapping = shapely.geometry.mapping(snapped)
    digits = max(0, round(-np.log10(grid)))

    def fix(value: object) -> object:
        if isinstance(value, (list, tuple)):
            return [fix(v) for v in value]
        return round(float(value), digits) if digits else round(float(value))  # type: ignore[arg-type]

    return {"type": mapping["type"], "coordinates": fix(mapping["coordinates"])}


def write_collection(
    path: Path, name: str, features: list[dict[str, object]], crs: str | None
) -> None:
    """One feature per line, like GDAL's GeoJSON writer; stable key order."""
    head = ["{", '"type": "FeatureCollection",', f'"name": "{name}",']
    if crs:
        head.append('"crs": { "type": "name", "properties": { "name": "' + crs + '" } },')
    head.append('"features": [')
    lines = [json.dumps(f, ensure_ascii=False, separators=(", ", ": ")) for f in features]
    body = ",\n".join(lines)
    path.write_text("\n".join(head) + "\n" + body + "\n]\n}\n", encoding="utf-8")


MANIFEST_TEXT = f"""# Which contour file is which kind, for the DAG `ingest_geography`
# (ingestion/geo/manifest.py). Paths are relative to this folder.
# Written by scripts/generate_sample_geo.py.
files:
  - path: BureauxVoteBrest.geojson        # real: Brest metropole bureau layer (see PROVENANCE.md)
    kind: bureau
    commune_field: DEPCO
    id_field: BVOTE
  - path: {IRIS_OUT.name}   # SYNTHETIC polygons, real IRIS codes
    kind: iris
    geo_year: {GEO_YEAR}
  - path: {COMMUNES_OUT.name}       # SYNTHETIC polygons
    kind: commune
    id_field: code_insee
"""


def main() -> None:
    rng = np.random.default_rng(SEED)
    names = read_commune_names()
    iris = read_iris()
    unions = read_bureau_unions()
    bureaux = read_bureaux_l93()
    communes = commune_polygons(sorted(names), unions)
    polygons = iris_polygons(rng, iris, communes, {k: v for k, v in bureaux.items() if k in names})
    iris_features: list[dict[str, object]] = []
    for row in sorted(iris, key=lambda r: r["code_iris"]):
        code = row["code_iris"]
        iris_features.append(
            {
                "type": "Feature",
                "properties": {
                    "INSEE_COM": row["code_commune"],
                    "NOM_COM": names[row["code_commune"]],
                    "IRIS": code[5:],
                    "CODE_IRIS": code,
                    "NOM_IRIS": row["libiris"],
                    "TYP_IRIS": row["typ_iris"],
                },
                "geometry": _rounded(polygons[code], 0.1),
            }
        )
    write_collection(
        IRIS_OUT, "contours_iris_synthetic", iris_features, "urn:ogc:def:crs:EPSG::2154"
    )
    commune_features: list[dict[str, object]] = [
        {
            "type": "Feature",
            "properties": {"code_insee": code, "nom": names[code]},
            "geometry": _rounded(_project(communes[code], TO_WGS84), 1e-7),
        }
        for code in sorted(names)
    ]
    write_collection(COMMUNES_OUT, "communes_synthetic", commune_features, None)
    MANIFEST.write_text(MANIFEST_TEXT, encoding="utf-8")
    print(
        f"{IRIS_OUT.name}: {len(iris_features)} IRIS; {COMMUNES_OUT.name}: "
        f"{len(commune_features)} communes; {MANIFEST.name}"
    )


if __name__ == "__main__":
    main()
