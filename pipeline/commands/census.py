"""`scrutin ingest census PATH | --vintage YEAR [--theme NAME]`: load INSEE census IRIS files.

PATH loads one local file (zip, CSV or CSV.gz); what it is comes from the options, else the
registry entry pinned to its sha256, else its name and header. `--vintage` loads the registry's
entries of that census year (pynsee's catalogue first, else the registry URL, through the cache).
"""

from __future__ import annotations

import argparse

from pipeline import exit_codes
from pipeline.cli_args import add_json_flag, input_file, print_json


def _print_report(report: object, label: str) -> None:
    from ingestion.census.loader import CensusLoadReport

    assert isinstance(report, CensusLoadReport)
    if report.status == "skipped":
        print(
            f"{label}: {report.theme} {report.vintage} skipped (batch {report.batch_id}): "
            f"identical file already loaded as batch {report.loaded_batch_id}"
        )
        return
    line = (
        f"{label}: {report.theme} {report.vintage} (geography {report.geo_year}) loaded "
        f"(batch {report.batch_id}): {report.iris_rows} IRIS, {report.indicators} indicators, "
        f"{report.value_rows} values ({report.masked_values} masked), {report.duration_s:.2f} s"
    )
    if report.columns_ignored:
        line += f"\n  columns not loaded: {', '.join(report.columns_ignored)}"
    if report.columns_other_years:
        line += f"\n  columns of other years not loaded: {len(report.columns_other_years)}"
    if report.superseded:
        line += f"\n  superseded batches: {', '.join(map(str, report.superseded))}"
    print(line)


def cmd_ingest_census(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from ingestion.census.pipeline import load_entry, load_path, registry_entries
    from scrutin.config import database_url

    url = database_url()
    if args.path:
        report = load_path(
            url,
            Path(args.path),
            theme=args.theme,
            vintage=args.vintage,
            geo_year=args.geo_year,
            source_format=args.format,
            decimal=args.decimal,
            member=args.member,
            encoding=args.encoding,
            registry_path=args.registry,
        )
        if args.json:
            print_json(report)
        else:
            _print_report(report, Path(args.path).name)
        return 0
    if args.vintage is None:
        print(
            "scrutin ingest census: give a PATH, or --vintage YEAR to fetch the registry's files",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    reports = []
    for spec in registry_entries(args.registry, vintage=args.vintage, theme=args.theme):
        report = load_entry(url, spec, use_pynsee=not args.no_pynsee)
        reports.append(report)
        if not args.json:
            _print_report(report, spec.label)
    if args.json:
        print_json(reports)
    return 0


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    from ingestion.census.registry import FORMATS, THEMES

    p = ingest.add_parser(
        "census",
        help="INSEE census IRIS files (base-ic themes, Filosofi): a local file or a vintage",
        description="Load INSEE base-ic / Filosofi IRIS files into raw.census_iris and "
        "raw.census_iris_values (long shape). Idempotent by sha256; a new file of the same "
        "theme and vintage replaces the previous one.",
    )
    p.add_argument("path", nargs="?", type=input_file, help="a local zip, CSV or CSV.gz")
    p.add_argument("--vintage", type=int, default=None, help="census year, e.g. 2021")
    p.add_argument("--theme", choices=THEMES, default=None)
    p.add_argument("--geo-year", type=int, default=None, help="IRIS geography year of the file")
    p.add_argument("--format", choices=FORMATS, default=None, help="default: detected")
    p.add_argument("--decimal", choices=(".", ","), default=None)
    p.add_argument("--member", default=None, help="regex of the data member inside a zip")
    p.add_argument("--encoding", default=None, help="default utf-8")
    p.add_argument(
        "--registry", default=None, help="registry YAML (default config/census_registry.yml)"
    )
    p.add_argument(
        "--no-pynsee", action="store_true", help="skip pynsee's catalogue, use registry URLs"
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_ingest_census)
