"""Geography commands.

- `scrutin ingest geo PATH --kind iris|bureau|commune`: load a contour file into `raw.geo_*`;
- `scrutin geo weights --source … --target … [--points …] -o weights.csv`: the allocation engine on
  files, without the warehouse (useful on its own: any polygons, any weighted points);
- `scrutin geo allocate`: recompute `raw.iris_bureau_weights` from the warehouse (what the DAG
  `ingest_geography` runs);
- `scrutin geo fetch-iris -o iris.geojson`: the optional pynsee source of IRIS contours.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING

from pipeline import exit_codes
from pipeline.cli_args import add_json_flag, input_file, input_path, output_file, print_json

if TYPE_CHECKING:
    import numpy as np


def cmd_ingest_geo(args: argparse.Namespace) -> int:
    from ingestion.geo.loader import load_geo_file
    from scrutin.config import database_url

    report = load_geo_file(
        database_url(),
        args.path,
        args.kind,
        id_field=args.id_field,
        commune_field=args.commune_field,
        crs=args.crs,
        layer=args.layer,
        geo_year=args.geo_year,
        force=args.force,
    )
    if args.json:
        print_json(report)
        return 0
    line = (
        f"{args.path}: {args.kind} contours {report.status} (batch {report.batch_id}): "
        f"{report.features} features in {len(report.communes)} communes, CRS {report.crs} "
        f"({report.crs_source}), {len(report.repaired)} repaired, {report.rows_replaced} earlier "
        f"rows replaced, {report.duration_s:.2f} s"
    )
    if report.status == "skipped":
        line += f"\n  identical file already loaded as batch {report.loaded_batch_id}"
    if report.repaired:
        line += f"\n  repaired with make_valid: {', '.join(report.repaired[:20])}"
    if report.superseded:
        line += f"\n  superseded batches: {', '.join(map(str, report.superseded))}"
    print(line)
    return 0


def cmd_geo_weights(args: argparse.Namespace) -> int:
    from ingestion.geo.allocation import Polygons, allocate_lonlat
    from ingestion.geo.contours import read_polygon_layer
    from ingestion.geo.points import read_points

    if args.points and not (args.lon and args.lat and args.point_target):
        print(
            "scrutin geo weights: --points needs --lon, --lat and --point-target",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    if bool(args.source_commune) != bool(args.target_commune):
        print(
            "scrutin geo weights: give both --source-commune and --target-commune, or neither",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    source = read_polygon_layer(
        args.source, args.source_id, commune_field=args.source_commune, crs=args.source_crs
    )
    target = read_polygon_layer(
        args.target, args.target_id, commune_field=args.target_commune, crs=args.target_crs
    )
    points = None
    if args.points:
        points = read_points(
            args.points,
            lon=args.lon,
            lat=args.lat,
            target=args.point_target,
            weight=args.weight,
            commune=args.point_commune,
        )
        if args.source_commune and points.commune is None:
            # Without their commune, points are matched to any source (no commune check).
            print(
                "note: no --point-commune: addresses are not restricted to their commune",
                file=sys.stderr,
            )
    if points is not None and points.commune is not None:
        points = dataclasses.replace(points, commune=_results_communes(points.commune))
    allocation = allocate_lonlat(
        Polygons(source.ids, source.geoms, _results_communes(source.communes)),
        Polygons(target.ids, target.geoms, _results_communes(target.communes)),
        points,
        min_addresses=args.min_addresses,
        min_coverage=args.min_coverage,
        min_overlap_m2=args.min_overlap_m2,
    )
    write_weights_csv(allocation.weights, args.output, details=args.details)
    for line in allocation.report.lines():
        print(line, file=sys.stderr)
    if args.points and allocation.report.outside_examples:
        lines = ", ".join(str(i + 2) for i in allocation.report.outside_examples)
        print(f"first points outside every source: lines {lines} of {args.points}", file=sys.stderr)
    if args.output != "-":
        print(f"{len(allocation.weights)} weights written to {args.output}", file=sys.stderr)
    return 0


def _results_communes(communes: np.ndarray | None) -> np.ndarray | None:
    """Paris/Lyon/Marseille arrondissements compared as their city (75101 -> 75056)."""
    import numpy as np

    from ingestion.sources.reu import results_commune_code

    if communes is None:
        return None
    return np.array([results_commune_code(str(c)) for c in communes], dtype=object)


def write_weights_csv(weights: object, output: str, *, details: bool) -> None:
    """`source_id,target_id,weight` (+ method, quality, n_addresses, coverage with details).

    Weights are written with Python's shortest round-trip repr, so they still sum to 1 within
    1e-9 when read back.
    """
    import pandas as pd

    assert isinstance(weights, pd.DataFrame)
    columns = ["source_id", "target_id", "weight"]
    if details:
        columns += ["method", "quality", "n_addresses", "coverage"]
    frame = weights[columns].copy()
    if details:
        n = frame["n_addresses"].astype("float64")
        integral = n.dropna().apply(float.is_integer).all()
        frame["n_addresses"] = n.round().astype("Int64") if integral else n
    if output == "-":
        frame.to_csv(sys.stdout, index=False, lineterminator="\n")
    else:
        frame.to_csv(output, index=False, lineterminator="\n")


def cmd_geo_allocate(args: argparse.Namespace) -> int:
    from ingestion.geo.weights import Parameters, compute_weights
    from scrutin.config import database_url

    report = compute_weights(
        database_url(),
        Parameters(
            min_addresses=args.min_addresses,
            min_coverage=args.min_coverage,
            min_overlap_m2=args.min_overlap_m2,
        ),
        force=args.force,
    )
    print("\n".join(report.lines()))
    return 0


def cmd_geo_fetch_iris(args: argparse.Namespace) -> int:
    from ingestion.geo.pynsee_source import download_iris_contours

    path = download_iris_contours(args.output, communes=args.commune or None)
    print(f"{path}: IRIS contours written; load them with: scrutin ingest geo {path} --kind iris")
    return 0


def _engine_options(p: argparse.ArgumentParser) -> None:
    from ingestion.geo.allocation import (
        DEFAULT_MIN_ADDRESSES,
        DEFAULT_MIN_COVERAGE,
        DEFAULT_MIN_OVERLAP_M2,
    )

    p.add_argument(
        "--min-addresses",
        type=float,
        default=DEFAULT_MIN_ADDRESSES,
        help=f"below this many addresses an IRIS is flagged few_addresses "
        f"(default {DEFAULT_MIN_ADDRESSES})",
    )
    p.add_argument(
        "--min-coverage",
        type=float,
        default=DEFAULT_MIN_COVERAGE,
        help="areal weighting: below this share of the source covered by targets, flag "
        f"partial_coverage (default {DEFAULT_MIN_COVERAGE})",
    )
    p.add_argument(
        "--min-overlap-m2",
        type=float,
        default=DEFAULT_MIN_OVERLAP_M2,
        help=f"areal weighting: ignore intersections smaller than this (slivers; default "
        f"{DEFAULT_MIN_OVERLAP_M2})",
    )


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = ingest.add_parser(
        "geo",
        help="IRIS, polling-station or commune contours (GeoJSON, GeoPackage, Shapefile)",
        description="Load a contour file into raw.geo_iris / raw.geo_bureaux / raw.geo_communes "
        "(WGS84 WKB, area in m², repaired geometries flagged). Idempotent; a new file replaces "
        "the rows of the communes it covers.",
    )
    p.add_argument("path", type=input_path)
    p.add_argument("--kind", required=True, choices=("iris", "bureau", "commune"))
    p.add_argument(
        "--id-field",
        help="attribute holding the id (default: detected; IRIS CODE_IRIS/code_iris, bureaux "
        "codeBureauVote/id_bv or DEPCO+BVOTE, communes code_insee/INSEE_COM)",
    )
    p.add_argument("--commune-field", help="attribute holding the commune code (bureaux, IRIS)")
    p.add_argument(
        "--crs",
        help="CRS of the coordinates when the file does not declare it, e.g. EPSG:2154",
    )
    p.add_argument("--layer", help="layer of a multi-layer file (GeoPackage)")
    p.add_argument("--geo-year", type=int, help="geography vintage, e.g. 2024")
    p.add_argument(
        "--force", action="store_true", help="reload even if these bytes were already loaded"
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_ingest_geo)

    geo = top.add_parser("geo", help="geography: allocation weights").add_subparsers(
        dest="geo_command", required=True
    )
    p = geo.add_parser(
        "weights",
        help="allocation weights between two polygon files (no warehouse needed)",
        description="Compute w(source -> target) summing to 1 per source: address weighting "
        "when --points are given (each point placed in its source polygon, weighted, carrying "
        "its target id), areal weighting where a source has no point, and a fallback (commune, "
        "else nearest target). Writes source_id,target_id,weight (+ method, quality, "
        "n_addresses, coverage with --details). See docs/geography.md.",
    )
    p.add_argument(
        "--source", required=True, type=input_path, help="source polygons (e.g. IRIS contours)"
    )
    p.add_argument("--source-id", required=True, help="id attribute of the source polygons")
    p.add_argument(
        "--target", required=True, type=input_path, help="target polygons (e.g. bureau contours)"
    )
    p.add_argument("--target-id", required=True, help="id attribute of the target polygons")
    p.add_argument(
        "--source-commune",
        help="commune attribute of the sources (enables the "
        "commune fallback and the same-commune rule)",
    )
    p.add_argument("--target-commune", help="commune attribute of the targets")
    p.add_argument("--source-crs", help="CRS of the source file when undeclared")
    p.add_argument("--target-crs", help="CRS of the target file when undeclared")
    p.add_argument(
        "--points", type=input_file, help="CSV of weighted points (e.g. REU table-adresses-reu)"
    )
    p.add_argument("--lon", help="longitude column (WGS84)")
    p.add_argument("--lat", help="latitude column (WGS84)")
    p.add_argument("--weight", help="weight column (e.g. nb_adresses; default 1 per point)")
    p.add_argument("--point-target", help="column holding the point's target id")
    p.add_argument("--point-commune", help="column holding the point's commune")
    _engine_options(p)
    p.add_argument(
        "-o", "--output", required=True, type=output_file, help="output CSV ('-' for stdout)"
    )
    p.add_argument(
        "--details", action="store_true", help="add method, quality, n_addresses, coverage"
    )
    p.set_defaults(func=cmd_geo_weights)

    p = geo.add_parser(
        "allocate",
        help="recompute raw.iris_bureau_weights from the warehouse",
        description="Weights from raw.geo_iris, raw.geo_bureaux and raw.reu_addresses (plus the "
        "bureaux known from the REU and the results), replacing the previous set in one "
        "transaction. Skipped when no input changed (use --force).",
    )
    _engine_options(p)
    p.add_argument("--force", action="store_true", help="recompute even if no input changed")
    p.set_defaults(func=cmd_geo_allocate)

    p = geo.add_parser(
        "fetch-iris",
        help="download IRIS contours with pynsee (IGN IRIS-GE WFS layer; needs network)",
        description="Write the IGN IRIS-GE layer fetched by pynsee.geodata as a Lambert-93 "
        "GeoJSON (CONTOURS-IRIS 3.x fields), to load with `scrutin ingest geo --kind iris`.",
    )
    p.add_argument("-o", "--output", required=True, type=output_file, help="GeoJSON to write")
    p.add_argument("--commune", action="append", help="keep only this INSEE commune (repeatable)")
    p.set_defaults(func=cmd_geo_fetch_iris)
