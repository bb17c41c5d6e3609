"""`scrutin report -o report.html` and `scrutin export geojson`: what analysts take away.

Both read the PUBLISHED mart only (pipeline.maps, pipeline.report); docs/analysts.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline import exit_codes
from pipeline.cli_args import output_file


def cmd_report(args: argparse.Namespace) -> int:
    from pipeline.maps import MapDataError
    from pipeline.report import write_report
    from scrutin.config import docs_links
    from scrutin.db import connect

    started = time.monotonic()
    try:
        with connect() as conn:
            path = write_report(conn, Path(args.output), docs_links())
    except MapDataError as exc:
        print(f"scrutin report: {exc}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    size = path.stat().st_size
    print(f"report written: {path} ({size / 1e6:.2f} MB, {time.monotonic() - started:.1f} s)")
    return exit_codes.OK


def cmd_export_geojson(args: argparse.Namespace) -> int:
    from pipeline.maps import MapDataError, map_rows, write_geojson
    from scrutin.db import connect

    path = Path(args.output)
    try:
        with connect() as conn:
            n = write_geojson(map_rows(conn, args.what), path)
    except MapDataError as exc:
        print(f"scrutin export geojson: {exc}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    print(f"{path}: {n} features ({args.what}, WGS84 lon/lat)")
    return exit_codes.OK


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = top.add_parser(
        "report",
        help="write the self-contained campaign report (HTML, maps, plan, checks)",
        description="One HTML file that opens with no network: choropleth of bureaux by value "
        "per canvasser-hour, top bureaux and why, the volunteer plan, the commune summary, "
        "canvass progress, data freshness and the last gate run's checks, with links to the dbt "
        "docs and the Data Docs. Reads the published mart.",
    )
    p.add_argument(
        "-o", "--output", default="report.html", type=output_file, help="HTML file to write"
    )
    p.set_defaults(func=cmd_report)

    export = top.add_parser("export", help="export published tables for other tools")
    formats = export.add_subparsers(dest="format", required=True)
    g = formats.add_parser(
        "geojson",
        help="published scores with their bureau shapes, as GeoJSON (QGIS, uMap)",
        description="A GeoJSON FeatureCollection (WGS84 lon/lat), one feature per published "
        "bureau (--what targeting: every column of mart.polling_station_targeting) or per "
        "bureau of the plan (--what plan: mart.canvass_plan), with the shape of mart.bureau_map "
        "and its geometry_source.",
    )
    g.add_argument("--what", choices=("targeting", "plan"), default="targeting")
    g.add_argument("-o", "--output", required=True, type=output_file, help="GeoJSON file to write")
    g.set_defaults(func=cmd_export_geojson)
