"""`scrutin ingest roll PATH [--mapping FILE] [--as-of DATE]`: aggregate a roll extract."""

from __future__ import annotations

import argparse
import datetime as dt

from pipeline.cli_args import add_json_flag, input_file, print_json


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def cmd_ingest_roll(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ingestion.loaders.roll import load_roll_file
    from scrutin.config import database_url

    # The path is echoed by name only: the report carries counts, never the file's content.
    report = load_roll_file(database_url(), Path(args.path), mapping=args.mapping, as_of=args.as_of)
    name = Path(args.path).name
    if args.json:
        print_json(report)
        return 0
    if report.status == "skipped":
        print(
            f"{name}: skipped (batch {report.batch_id}): already loaded as batch "
            f"{report.loaded_batch_id} with reference date {report.reference_date.isoformat()}"
        )
        return 0
    print(
        f"{name}: loaded (batch {report.batch_id}), ages at {report.reference_date.isoformat()} "
        f"(from the {report.reference_date_source}): {report.electors_read} electors read, "
        f"{report.electors_counted} counted in {report.bureaux} bureaux of "
        f"{', '.join(report.communes)}, {report.rows_rejected} rejected "
        f"(quarantine.rejected_rows), {report.doors} doors, {report.duration_s:.2f} s"
    )
    return 0


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = ingest.add_parser(
        "roll",
        help="the campaign's electoral-roll extract (aggregated: no name is stored)",
        description="Aggregate a liste électorale extract (REU export) into voters per bureau x "
        "list x age band x sex and doors per bureau. Names, birth dates and addresses are never "
        "stored; the file is not copied anywhere.",
    )
    p.add_argument("path", type=input_file)
    p.add_argument(
        "--mapping",
        type=input_file,
        default=None,
        help="column-mapping YAML (default: config/roll_mapping.yml)",
    )
    p.add_argument(
        "--as-of",
        type=_date,
        default=None,
        help="reference date of the ages, YYYY-MM-DD (default: the date in the REU file name)",
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_ingest_roll)
