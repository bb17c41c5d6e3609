"""Coordinate reference systems: what a contour file is in, and where areas are measured.

Two questions, kept apart on purpose:

1. *Which CRS are the coordinates in?* Only what the file says (a GeoJSON `crs` member, a
   Shapefile `.prj`, a GeoPackage's declared SRS) or what the operator says (`--crs`). A GeoJSON
   without `crs` member is WGS84 longitude/latitude by RFC 7946, which we accept only when its
   coordinates are lon/lat. Anything else without a declaration is refused with a message asking
   for `--crs`: a Lambert-93 file read as degrees would silently put every polygon at the wrong
   place, and every weight computed from it would be wrong without any error.
2. *Where are areas computed?* Areas and intersections need a planar metric CRS. In
   metropolitan France (Corsica included) we use Lambert-93 (EPSG:2154), the projection of the
   IGN products, whose `SHAPE_AREA` the Brest layer reproduces within 0.003 %. Overseas, the IGN
   delivers CONTOURS-IRIS in the local UTM projection of each region, so we use the same ones
   (below). Anywhere else (a foreign or unknown area) the fallback is the global equal-area
   EPSG:6933 (WGS 84 / NSIDC EASE-Grid 2.0), exact for areas though distorted for shapes.

The zone of a feature is chosen from its position (the lon/lat of a point inside it), not from its
commune code, so the stand-alone weights CLI works on files that carry no code at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ingestion.errors import SourceFormatError

if TYPE_CHECKING:
    import numpy as np
    from pyproj import CRS

WGS84 = "EPSG:4326"
LAMBERT93 = "EPSG:2154"
EQUAL_AREA_FALLBACK = 6933


@dataclass(frozen=True)
class AreaZone:
    """A region and the metric CRS its areas are computed in (bounds in degrees)."""

    name: str
    epsg: int
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float


AREA_ZONES: tuple[AreaZone, ...] = (
    AreaZone("France métropolitaine et Corse (Lambert-93)", 2154, -5.8, 10.0, 41.0, 51.6),
    AreaZone(
        "Antilles: Guadeloupe, Martinique, St-Martin, St-Barthélemy", 5490, -63.5, -60.5, 14.0, 18.5
    ),
    AreaZone("Guyane (RGFG95 / UTM 22N)", 2972, -55.0, -51.0, 1.5, 6.5),
    AreaZone("La Réunion (RGR92 / UTM 40S)", 2975, 55.0, 56.0, -21.6, -20.6),
    AreaZone("Mayotte (RGM04 / UTM 38S)", 4471, 44.8, 45.5, -13.2, -12.4),
    AreaZone("Saint-Pierre-et-Miquelon (RGSPM06 / UTM 21N)", 4467, -56.6, -55.9, 46.6, 47.3),
)
"""Checked in order; a point outside every box falls back to EQUAL_AREA_FALLBACK."""

CrsSource = Literal["declared", "option", "rfc7946", "assumed_lonlat"]


@dataclass(frozen=True)
class ResolvedCrs:
    """The CRS the coordinates are read in, and how we know it (stored in the ledger details)."""

    crs: CRS
    source: CrsSource

    @property
    def label(self) -> str:
        epsg = self.crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else self.crs.to_string()


def area_epsg(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The metric EPSG code of each (lon, lat), vectorised (see AREA_ZONES)."""
    import numpy as np

    out = np.full(np.shape(lon), EQUAL_AREA_FALLBACK, dtype=np.int64)
    done = np.zeros(np.shape(lon), dtype=bool)
    for zone in AREA_ZONES:
        inside = (
            ~done
            & (lon >= zone.lon_min)
            & (lon <= zone.lon_max)
            & (lat >= zone.lat_min)
            & (lat <= zone.lat_max)
        )
        out[inside] = zone.epsg
        done |= inside
    return out


def looks_like_lonlat(bounds: tuple[float, float, float, float]) -> bool:
    """True when every coordinate fits longitude/latitude ranges.

    No French projected CRS has coordinates this small (Lambert-93 x runs from ~100,000 to
    ~1,250,000 m; UTM eastings from ~160,000), so this cannot mistake a projected file for
    degrees; the converse (a lon/lat file declared as Lambert-93) is caught the same way.
    """
    minx, miny, maxx, maxy = bounds
    return -180.0 <= minx <= maxx <= 180.0 and -90.0 <= miny <= maxy <= 90.0


_CRS_MEMBER = re.compile(rb'"crs"\s*:')
_FEATURES_MEMBER = re.compile(rb'"features"\s*:')
_HEAD_BYTES = 1 << 20
_TAIL_BYTES = 1 << 16


def geojson_crs_member(path: str | Path) -> str | None:
    """The CRS a GeoJSON file's top-level `crs` member names, wherever the member sits; None
    when there is no such member (RFC 7946: WGS84 lon/lat).

    GDAL reads a `crs` member only when it comes before `features`, and reports WGS84 otherwise:
    a Lambert-93 file whose writer put `crs` last was refused, and a file declaring EPSG:2154
    with lon/lat coordinates was accepted. So the member is read here, from the bytes before the
    `features` array or after its closing bracket (where writers put top-level members), without
    parsing a national file twice.
    """
    with Path(path).open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
        features = _FEATURES_MEMBER.search(head)
        scope = head[: features.start()] if features else head
        found = _CRS_MEMBER.search(scope)
        if found:
            return _crs_name(path, scope, found.end())
        fh.seek(0, 2)
        size = fh.tell()
        if size <= len(head):
            tail = head[features.end() :] if features else b""
        else:
            fh.seek(max(len(head), size - _TAIL_BYTES))
            tail = fh.read()
    # After the features array, a `crs` member follows its closing bracket.
    closing = tail.rfind(b"]")
    scope = tail[closing:] if closing >= 0 else tail
    found = _CRS_MEMBER.search(scope)
    return _crs_name(path, scope, found.end()) if found else None


def _crs_name(path: str | Path, scope: bytes, start: int) -> str:
    """The `properties.name` of the `crs` object starting at `scope[start:]` (after the colon)."""
    import json

    text = scope[start:].decode("utf-8", errors="replace").lstrip()
    try:
        member, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        raise SourceFormatError(
            path, None, None, f"the top-level 'crs' member is not valid JSON: {exc.msg}"
        ) from exc
    name = None
    if isinstance(member, dict) and isinstance(member.get("properties"), dict):
        name = member["properties"].get("name")
    if not isinstance(name, str) or not name.strip():
        raise SourceFormatError(
            path,
            None,
            None,
            "the top-level 'crs' member does not name a CRS (expected "
            '{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}); '
            "remove it for WGS84 lon/lat, or pass --crs",
        )
    return name.strip()


def parse_crs(value: str, path: str | Path | None = None) -> CRS:
    """`EPSG:2154`, `2154`, `urn:ogc:def:crs:EPSG::2154`… -> pyproj CRS, or a clear error."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    text = value.strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise SourceFormatError(
            path, None, None, f"unknown CRS {value!r}: expected e.g. EPSG:2154 or EPSG:4326"
        ) from exc


def resolve_crs(
    path: str | Path,
    file_crs: CRS | None,
    declared: bool,
    override: str | None,
    bounds: tuple[float, float, float, float],
) -> ResolvedCrs:
    """Decide the CRS of a file's coordinates, or refuse (see the module docstring).

    `file_crs`: what the reader reported; `declared`: whether the file itself states it (a GeoJSON
    without `crs` member is reported as WGS84 by GDAL but declares nothing).
    """
    path = Path(path)
    if override is not None:
        chosen = parse_crs(override, path)
        if (
            declared
            and file_crs is not None
            and not file_crs.equals(chosen, ignore_axis_order=True)
        ):
            raise SourceFormatError(
                path,
                None,
                None,
                f"the file declares {_label(file_crs)} but --crs says {_label(chosen)}: "
                "remove --crs, or fix the file's declaration",
            )
        _check_coordinates(path, chosen, bounds, "--crs")
        return ResolvedCrs(chosen, "option" if not declared else "declared")
    if declared and file_crs is not None:
        _check_coordinates(path, file_crs, bounds, "the file's declaration")
        return ResolvedCrs(file_crs, "declared")
    if looks_like_lonlat(bounds):
        from pyproj import CRS

        # RFC 7946: a GeoJSON without `crs` is WGS84 lon/lat. Other formats without a
        # declaration are accepted as lon/lat only because no projected CRS fits these ranges.
        source: CrsSource = (
            "rfc7946" if path.suffix.lower() in {".geojson", ".json"} else ("assumed_lonlat")
        )
        return ResolvedCrs(CRS.from_user_input(WGS84), source)
    raise SourceFormatError(
        path,
        None,
        None,
        "no coordinate reference system is declared and the coordinates "
        f"({_fmt_bounds(bounds)}) are not longitude/latitude: pass --crs, e.g. --crs EPSG:2154 "
        "for Lambert-93",
    )


def _check_coordinates(
    path: Path, crs: CRS, bounds: tuple[float, float, float, float], said_by: str
) -> None:
    """Refuse a CRS the coordinates cannot be in (degrees vs metres)."""
    lonlat = looks_like_lonlat(bounds)
    if crs.is_geographic and not lonlat:
        raise SourceFormatError(
            path,
            None,
            None,
            f"{said_by} gives the geographic CRS {_label(crs)} but the coordinates "
            f"({_fmt_bounds(bounds)}) are not longitude/latitude: give the projected CRS "
            "with --crs (e.g. EPSG:2154)",
        )
    if crs.is_projected and lonlat and max(abs(v) for v in bounds) < 1_000:
        raise SourceFormatError(
            path,
            None,
            None,
            f"{said_by} gives the projected CRS {_label(crs)} but the coordinates "
            f"({_fmt_bounds(bounds)}) look like longitude/latitude: use --crs EPSG:4326",
        )


def _label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _fmt_bounds(bounds: tuple[float, float, float, float]) -> str:
    minx, miny, maxx, maxy = bounds
    return f"x {minx:.6g}..{maxx:.6g}, y {miny:.6g}..{maxy:.6g}"
