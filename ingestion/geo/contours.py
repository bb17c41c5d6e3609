"""Read a contour file into normalised, repaired WGS84 features (no database here).

What happens to each file, in order, and why:
1. Read with pyogrio (GeoJSON, GeoPackage, Shapefile; `layer` picks a GeoPackage layer).
2. Attributes: the id/commune/name/type fields of the kind's layout (`layouts`), ids normalised;
   a missing or duplicate id refuses the file (a duplicated IRIS would be counted twice).
3. CRS: declared, `.prj`, `--crs`, or RFC 7946 lon/lat — never guessed (`crs.resolve_crs`).
4. Geometry: empty or non-polygonal features refuse the file (a bureau without a polygon cannot
   be allocated to and must not vanish quietly); Z is dropped; invalid polygons are repaired
   with `shapely.make_valid` (structure method, polygonal parts kept) and each repair is logged
   with the feature's id and GEOS's reason, and counted.
5. Reprojection to WGS84 for storage; area and centroid are computed in the metric CRS of the
   feature's region (`crs.area_epsg`: Lambert-93 in metropolitan France).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.errors import SourceFormatError
from ingestion.geo.crs import (
    WGS84,
    ResolvedCrs,
    area_epsg,
    geojson_crs_member,
    parse_crs,
    resolve_crs,
)
from ingestion.geo.layouts import FieldChoice, Kind, choose_fields, feature_key, text_value
from ingestion.textlines import refuse_nul_bytes

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pyproj import CRS

log = logging.getLogger("scrutin.ingestion.geo")

_POLYGONAL = {"Polygon", "MultiPolygon"}
_POLYGONAL_TYPE_IDS = (3, 6)  # shapely.get_type_id of Polygon and MultiPolygon


@dataclass(frozen=True)
class ContourSet:
    """The features of one file, ready to COPY.

    `features` columns: feature_no (1-based, file order), id, code_commune,
    code_commune_results, code_bv (bureaux), name, typ_iris (IRIS), geometry (shapely, WGS84),
    centroid_lon, centroid_lat, area_m2, area_epsg, repaired.
    """

    path: Path
    kind: Kind
    fields: FieldChoice
    crs: ResolvedCrs
    features: pd.DataFrame
    repaired_ids: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return len(self.features)


def read_contours(
    path: str | Path,
    kind: Kind,
    *,
    id_field: str | None = None,
    commune_field: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
) -> ContourSet:
    """Read, check and normalise one contour file (see the module docstring)."""
    import numpy as np
    import pandas as pd

    path = Path(path)
    frame = _read_frame(path, layer)
    columns = [c for c in frame.columns if c != "geometry"]
    fields = choose_fields(kind, columns, path, id_field=id_field, commune_field=commune_field)
    if len(frame) == 0:
        raise SourceFormatError(path, None, None, "no feature: expected at least one polygon")
    keys = _keys(frame, fields, path)
    wgs84, repaired, resolved = _geometries(path, frame, [k[0] for k in keys], fields.id_field, crs)
    area, c_lon, c_lat, epsg = measure(wgs84)
    if not np.all(area > 0):
        bad = int(np.flatnonzero(~(area > 0))[0])
        raise SourceFormatError(
            path, None, fields.id_field, f"feature {bad + 1} ({keys[bad][0]}): zero area"
        )
    values = {c: frame[c].to_numpy() for c in fields.columns()}
    features = pd.DataFrame(
        {
            "feature_no": np.arange(1, len(frame) + 1, dtype=np.int64),
            "id": [k[0] for k in keys],
            "code_commune": [k[1] for k in keys],
            "code_commune_results": [k[2] for k in keys],
            "code_bv": [k[3] for k in keys],
            "name": _texts(values.get(fields.name_field)) if fields.name_field else None,
            "typ_iris": _texts(values.get(fields.type_field)) if fields.type_field else None,
            "geometry": wgs84,
            "centroid_lon": c_lon,
            "centroid_lat": c_lat,
            "area_m2": area,
            "area_epsg": epsg,
            "repaired": repaired,
        }
    )
    repaired_ids = tuple(features.loc[features["repaired"], "id"])
    log.info(
        "%s: %d %s features, CRS %s (%s), %d repaired",
        path.name,
        len(features),
        kind,
        resolved.label,
        resolved.source,
        len(repaired_ids),
    )
    return ContourSet(path, kind, fields, resolved, features, repaired_ids)


@dataclass(frozen=True)
class PolygonLayer:
    """Any polygon layer, ids taken as they are (the stand-alone weights CLI)."""

    path: Path
    ids: np.ndarray
    communes: np.ndarray | None
    geoms: np.ndarray  # WGS84
    crs: ResolvedCrs
    repaired_ids: tuple[str, ...]


def read_polygon_layer(
    path: str | Path,
    id_field: str,
    *,
    commune_field: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
) -> PolygonLayer:
    """Read any polygon file with the same CRS and repair rules; ids must be present and unique."""
    import numpy as np

    path = Path(path)
    frame = _read_frame(path, layer)
    if len(frame) == 0:
        raise SourceFormatError(path, None, None, "no feature: expected at least one polygon")
    ids = _column_texts(frame, path, id_field, "--*-id")
    communes = (
        np.asarray(_column_texts(frame, path, commune_field, "--*-commune"), dtype=object)
        if commune_field
        else None
    )
    if communes is not None and len(set(ids)) < len(ids):
        # City layers number their bureaux within each commune (Brest's BVOTE 1..104 beside
        # Gouesnou's 1..6): with a commune field, the id is `<commune>_<id>`.
        composite = [
            None if v is None or c is None else f"{c}_{v}"
            for v, c in zip(ids, communes, strict=True)
        ]
        log.warning(
            "%s: ids of %r repeat across communes: using '<%s>_<%s>' as the id",
            path.name,
            id_field,
            commune_field,
            id_field,
        )
        ids = composite
    seen: dict[str, int] = {}
    for feature_no, value in enumerate(ids, start=1):
        if value is None:
            raise SourceFormatError(path, None, id_field, f"feature {feature_no}: empty id")
        if value in seen:
            raise SourceFormatError(
                path,
                None,
                id_field,
                f"feature {feature_no}: id {value!r} already used by feature {seen[value]}",
            )
        seen[value] = feature_no
    wgs84, repaired, resolved = _geometries(path, frame, ids, id_field, crs)  # type: ignore[arg-type]
    id_array = np.asarray(ids, dtype=object)
    return PolygonLayer(path, id_array, communes, wgs84, resolved, tuple(id_array[repaired]))


def _column_texts(frame: pd.DataFrame, path: Path, name: str, option: str) -> list[str | None]:
    lower = {str(c).lower(): c for c in frame.columns if c != "geometry"}
    column = lower.get(name.lower())
    if column is None:
        raise SourceFormatError(
            path,
            None,
            name,
            f"no attribute {name!r} ({option}): the file has {', '.join(map(str, lower.values()))}",
        )
    return [text_value(v) for v in frame[column].to_numpy()]


def _geometries(
    path: Path,
    frame: pd.DataFrame,
    labels: list[str],
    id_field: str,
    crs: str | None,
) -> tuple[np.ndarray, np.ndarray, ResolvedCrs]:
    """Checked, repaired WGS84 geometries, the repaired mask, and the CRS they were read in."""
    import numpy as np
    import shapely

    geoms = np.asarray(frame.geometry.array, dtype=object)
    _check_geometries(path, id_field, geoms, labels)
    geoms = shapely.force_2d(geoms)
    file_crs = frame.crs
    if path.suffix.lower() in {".geojson", ".json"}:
        member = geojson_crs_member(path)  # GDAL misses a `crs` member after `features`
        declared = member is not None
        if member is not None:
            file_crs = parse_crs(member, path)
    else:
        declared = frame.crs is not None
    bounds = tuple(float(v) for v in shapely.total_bounds(geoms))
    resolved = resolve_crs(path, file_crs, declared, crs, bounds)  # type: ignore[arg-type]
    geoms, repaired = _repair(path, geoms, labels, "")
    wgs84 = _to_wgs84(geoms, resolved.crs)
    wgs84, repaired_after = _repair(path, wgs84, labels, " after reprojection to WGS84")
    return wgs84, repaired | repaired_after, resolved


TEXT_SUFFIXES = (".geojson", ".json")
"""Contour formats that are text, read whole by GDAL: scanned for NUL bytes first."""


def _read_frame(path: Path, layer: str | None) -> pd.DataFrame:
    import pyogrio

    if not path.exists():
        raise SourceFormatError(path, None, None, "file not found")
    if path.suffix.lower() in TEXT_SUFFIXES:
        refuse_nul_bytes(path)
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, …
        # GDAL's message repeats the absolute path: the ledger keeps file names only.
        detail = str(exc).replace(str(path), path.name)
        raise SourceFormatError(
            path,
            None,
            None,
            f"not a readable GeoJSON, GeoPackage or Shapefile (or no layer {layer!r}): {detail}"
            if layer
            else f"not a readable GeoJSON, GeoPackage or Shapefile: {detail}",
        ) from exc
    if "geometry" not in frame.columns:
        raise SourceFormatError(path, None, None, "the file has no geometry column")
    return frame


def _keys(
    frame: pd.DataFrame, fields: FieldChoice, path: Path
) -> list[tuple[str, str, str, str | None]]:
    columns = fields.columns()
    # Column by column to Python objects, nulls as None (what `to_dict("records")` gave, at a
    # fraction of its cost on ~50,000 national IRIS: it boxed every value one by one).
    lists = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in columns]
    records = (dict(zip(columns, values, strict=True)) for values in zip(*lists, strict=True))
    keys: list[tuple[str, str, str, str | None]] = []
    seen: dict[str, int] = {}
    for feature_no, values in enumerate(records, start=1):
        key = feature_key(fields, values, path, feature_no)
        if key.id in seen:
            raise SourceFormatError(
                path,
                None,
                fields.id_field,
                f"feature {feature_no}: id {key.id} already used by feature {seen[key.id]} "
                "(one feature per id: merge the parts into one MultiPolygon)",
            )
        seen[key.id] = feature_no
        keys.append((key.id, key.code_commune, key.code_commune_results, key.code_bv))
    return keys


def _check_geometries(path: Path, id_field: str, geoms: np.ndarray, labels: list[str]) -> None:
    """Refuse the first feature that is empty, not polygonal or has a non-finite vertex.

    Checked on the whole array (a national IRIS file has ~50,000 features); only the first bad
    feature, in file order, is then looked at one by one to say what is wrong with it."""
    import numpy as np
    import shapely

    # shapely's array functions take a missing geometry (None) as such: is_missing flags it.
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    bad |= ~np.isin(shapely.get_type_id(geoms), _POLYGONAL_TYPE_IDS)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    bad[owner[~np.isfinite(coords).all(axis=1)]] = True
    if bad.any():
        _refuse_geometry(path, id_field, geoms, labels, int(np.flatnonzero(bad)[0]))


def _refuse_geometry(
    path: Path, id_field: str, geoms: np.ndarray, labels: list[str], i: int
) -> None:
    import numpy as np
    import shapely

    geom = geoms[i]
    if geom is None or shapely.is_empty(geom):
        raise SourceFormatError(
            path,
            None,
            id_field,
            f"feature {i + 1} ({labels[i]}): empty geometry; expected a Polygon or MultiPolygon",
        )
    if geom.geom_type not in _POLYGONAL:
        raise SourceFormatError(
            path,
            None,
            id_field,
            f"feature {i + 1} ({labels[i]}): geometry is a {geom.geom_type}; expected a "
            "Polygon or MultiPolygon",
        )
    # A NaN or infinite vertex (JSON `NaN`, `Infinity`) passes shapely with a warning and
    # would be stored: refused, naming the feature.
    if not np.isfinite(shapely.get_coordinates(geom)).all():
        raise SourceFormatError(
            path,
            None,
            id_field,
            f"feature {i + 1} ({labels[i]}): a vertex is not a finite number (NaN or "
            "infinity); every coordinate must be a number",
        )
    # The array check flagged this feature: one of the three reasons above must hold.
    raise AssertionError(f"feature {i + 1} ({labels[i]}) flagged, yet no check refuses it")


def _repair(
    path: Path,
    geoms: np.ndarray,
    labels: list[str],
    when: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Repair invalid polygons in place (a copy); returns the geometries and the repaired mask."""
    import numpy as np
    import shapely

    invalid = ~shapely.is_valid(geoms)
    if not invalid.any():
        return geoms, invalid
    geoms = geoms.copy()
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        fixed = polygonal_part(
            shapely.make_valid(geoms[i], method="structure", keep_collapsed=False)
        )
        if fixed is None:
            raise SourceFormatError(
                path,
                None,
                None,
                f"feature {i + 1} ({labels[i]}): invalid geometry ({reason}) "
                "with no area left once repaired",
            )
        log.warning(
            "%s: feature %d (%s) has an invalid geometry%s (%s): repaired with make_valid",
            path.name,
            i + 1,
            labels[i],
            when,
            reason,
        )
        geoms[i] = fixed
    return geoms, invalid


def polygonal_part(geom: object) -> object | None:
    """The polygons of a (repaired) geometry as one Polygon/MultiPolygon, None if none."""
    import shapely

    if geom is None or shapely.is_empty(geom):
        return None
    kind = geom.geom_type  # type: ignore[attr-defined]
    if kind in _POLYGONAL:
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if merged.geom_type in _POLYGONAL else None


def _to_wgs84(geoms: np.ndarray, source: CRS) -> np.ndarray:
    from pyproj import CRS as _CRS

    target = _CRS.from_user_input(WGS84)
    if source.equals(target, ignore_axis_order=True):
        return geoms
    return transform(geoms, source, target)


def transform(geoms: np.ndarray, source: CRS | str | int, target: CRS | str | int) -> np.ndarray:
    """Reproject an array of geometries in one vectorised call (x = longitude, always)."""
    import numpy as np
    import shapely
    from pyproj import Transformer

    transformer = Transformer.from_crs(source, target, always_xy=True)

    def project(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, project)


def measure(wgs84: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(area m², centroid lon, centroid lat, area EPSG) of WGS84 polygons, by region.

    The centroid is computed in the metric CRS and projected back: a centroid computed on
    degrees is pulled north by the convergence of meridians.
    """
    import numpy as np
    import shapely

    inner = shapely.point_on_surface(wgs84)
    epsg = area_epsg(shapely.get_x(inner), shapely.get_y(inner))
    area = np.zeros(len(wgs84))
    c_lon = np.zeros(len(wgs84))
    c_lat = np.zeros(len(wgs84))
    for code in np.unique(epsg):
        mask = epsg == code
        metric = transform(wgs84[mask], WGS84, int(code))
        area[mask] = shapely.area(metric)
        centroids = transform(shapely.centroid(metric), int(code), WGS84)
        c_lon[mask] = shapely.get_x(centroids)
        c_lat[mask] = shapely.get_y(centroids)
    return area, c_lon, c_lat, epsg


def _texts(values: np.ndarray | None) -> list[str | None] | None:
    if values is None:
        return None
    return [text_value(v) for v in values]
