"""`scrutin results …`: Ministry results in any layout, without or with the warehouse.

    scrutin results layouts                      # the layouts Scrutin reads
    scrutin results detect FILE                  # which layout a file is in
    scrutin results tidy FILE -o OUT.csv|OUT.parquet [--layout NAME] [--election-id ID]
    scrutin results tidy general_results.csv candidats_results.csv -o OUT.parquet [--only ID]
    scrutin results load FILE --election-id ID [--layout NAME]
    scrutin results load general_results.csv candidats_results.csv [--only ID ...]

`tidy` needs no database. Layouts and columns: docs/results-layouts.md.
"""

from __future__ import annotations

import argparse
import sys

from pipeline import exit_codes
from pipeline.cli_args import add_json_flag, input_file, output_file, print_json


def cmd_layouts(args: argparse.Namespace) -> int:
    from ingestion.sources.elections import LAYOUT_TITLES

    for name, title in LAYOUT_TITLES.items():
        print(f"{name:22} {title}")
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from ingestion.sources.elections import LAYOUT_TITLES, detect_file_layout

    name = detect_file_layout(args.path)
    print(f"{args.path}: {name} ({LAYOUT_TITLES[name]})")
    return 0


def cmd_tidy(args: argparse.Namespace) -> int:
    from ingestion.tidy import tidy_results

    report = tidy_results(
        args.paths,
        args.output,
        layout=args.layout,
        election_id=args.election_id,
        only=args.only,
    )
    print(
        f"{report.output}: {report.rows} rows, {report.bureaux} bureaux "
        f"({report.layout}); {report.bureaux_with_issue} with an issue (see column `issue`)"
    )
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from ingestion.loaders.elections import load_datagouv_files, load_results_file
    from scrutin.config import database_url

    if len(args.paths) == 2:
        if args.election_id or args.layout:
            print(
                "a data.gouv pair carries its election ids and layout: use --only to select",
                file=sys.stderr,
            )
            return exit_codes.USAGE
        reports = load_datagouv_files(
            database_url(), args.paths[0], args.paths[1], only=args.only,
            max_rejected=args.max_rejected,
        )  # fmt: skip
    else:
        if not args.election_id:
            print("one wide file needs --election-id (e.g. 2022_legi_t1)", file=sys.stderr)
            return exit_codes.USAGE
        reports = [
            load_results_file(
                database_url(),
                args.paths[0],
                args.election_id,
                layout=args.layout,
                max_rejected=args.max_rejected,
            )
        ]
    if args.json:
        print_json(reports)
        return 0
    for r in reports:
        print(
            f"{r.election_id}: {r.status} (batch {r.batch_id}, {r.layout}): {r.rows_read} rows "
            f"read, {r.bureau_rows} bureaux, {r.candidate_rows} candidate rows, "
            f"{r.rows_rejected} quarantined, {r.duration_s:.2f} s"
        )
    return 0


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    results = top.add_parser(
        "results", help="Ministry results in any layout: detect, tidy (no database), load"
    ).add_subparsers(dest="results_command", required=True)

    p = results.add_parser("layouts", help="list the results layouts Scrutin reads")
    p.set_defaults(func=cmd_layouts)

    p = results.add_parser("detect", help="print the layout of a results file")
    p.add_argument("path", type=input_file)
    p.set_defaults(func=cmd_detect)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "paths",
            nargs="+",
            type=input_file,
            metavar="FILE",
            help="one results file, or data.gouv's general_results + candidats_results",
        )
        p.add_argument("--layout", help="override the detection (see `scrutin results layouts`)")
        p.add_argument("--election-id", help="e.g. 2022_legi_t1 (wide files)")
        p.add_argument(
            "--only",
            action="append",
            metavar="ELECTION_ID",
            help="data.gouv pair: load/tidy only this election (repeatable)",
        )

    p = results.add_parser(
        "tidy", help="one tidy long table (CSV or Parquet): one row per bureau x candidate"
    )
    common(p)
    p.add_argument("-o", "--output", required=True, type=output_file, help="OUT.csv or OUT.parquet")
    p.set_defaults(func=cmd_tidy)

    p = results.add_parser("load", help="load into the warehouse's raw tables (idempotent)")
    common(p)
    p.add_argument(
        "--max-rejected",
        type=int,
        default=None,
        help="quarantined bureau rows tolerated before the file is refused "
        "(default: the larger of 10 and 1%% of the rows)",
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_load)

    def check_arity(args: argparse.Namespace) -> None:
        if len(args.paths) > 2:
            raise SystemExit("scrutin results: expected one file, or a data.gouv pair")

    for name in ("tidy", "load"):
        parser = results.choices[name]
        func = parser.get_default("func")

        def wrapped(args: argparse.Namespace, _func=func) -> int:
            check_arity(args)
            return _func(args)

        parser.set_defaults(func=wrapped)
