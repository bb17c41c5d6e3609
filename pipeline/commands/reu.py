"""`scrutin ingest reu PATH [--table bv|adresses]`: load an INSEE REU table file."""

from __future__ import annotations

import argparse

from pipeline.cli_args import add_json_flag, input_file, print_json


def cmd_ingest_reu(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ingestion.loaders.reu import load_reu_file
    from scrutin.config import database_url

    report = load_reu_file(database_url(), Path(args.path), args.table)
    if args.json:
        print_json(report)
        return 0
    line = (
        f"{args.path}: REU table {report.table} {report.status} (batch {report.batch_id}): "
        f"{report.rows_read} rows read, {report.rows_loaded} loaded for "
        f"{len(report.communes)} communes, {report.rows_replaced} earlier rows replaced, "
        f"{report.duration_s:.2f} s"
    )
    if report.columns_missing:
        line += f"\n  absent optional columns (NULL): {', '.join(report.columns_missing)}"
    if report.superseded:
        line += f"\n  superseded batches: {', '.join(map(str, report.superseded))}"
    print(line)
    return 0


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = ingest.add_parser(
        "reu",
        help="an INSEE REU table (table-bv-reu or table-adresses-reu, CSV or CSV.gz)",
        description="Load an INSEE 'Bureaux de vote et adresses de leurs électeurs' table into "
        "raw.reu_bureaux / raw.reu_addresses. Idempotent; a new file replaces the rows of the "
        "communes it covers.",
    )
    p.add_argument("path", type=input_file)
    p.add_argument(
        "--table",
        choices=("bv", "adresses"),
        default=None,
        help="which table the file is (default: detected from the header)",
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_ingest_reu)
