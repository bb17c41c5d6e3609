"""`scrutin ingest canvass PATH`, `scrutin canvass drop|purge|requeue|mappings`.

The same functions the DAGs `ingest_canvass_feedback` and `purge_expired_personal_data` run.
Heavy imports stay inside the command functions (`scrutin --help` must stay fast). The apps are
the YAML mappings of config/canvass/ (`SCRUTIN_CANVASS_MAPPINGS`): `--format` takes any of them.
"""

from __future__ import annotations

import argparse
import sys

from pipeline import exit_codes
from pipeline.cli_args import add_json_flag, input_file, input_path, print_json


def cmd_ingest_canvass(args: argparse.Namespace) -> int:
    """Load one export by hand (it is not moved: the drop zone is for deliveries)."""
    from pathlib import Path

    from ingestion.canvass.loader import load_canvass_file
    from scrutin.config import database_url

    report = load_canvass_file(database_url(), Path(args.path), fmt=args.format)
    if args.json:
        print_json(report)
    else:
        print(report.summary())
    return exit_codes.OK


def cmd_canvass_drop(args: argparse.Namespace) -> int:
    """Process the drop zone once: every waiting file, then processed/ or failed/."""
    from ingestion.canvass.dropzone import process_drop_zone
    from scrutin.config import database_url

    results = process_drop_zone(database_url(), args.root)
    if not results:
        print("no delivery waiting")
    for result in results:
        line = result.report.summary() if result.report else f"{result.name}: {result.reason}"
        print(f"{result.outcome:8s} {line}  -> {result.moved_to}")
    refused = any(r.outcome == "failed" for r in results)
    return exit_codes.BAD_INPUT if refused else exit_codes.OK


def cmd_canvass_requeue(args: argparse.Namespace) -> int:
    """Replay quarantined rows once their cause is fixed; `--force`: refused files too."""
    from pathlib import Path

    from ingestion.canvass.dropzone import DropZone
    from ingestion.canvass.requeue import requeue
    from scrutin.config import database_url

    report = requeue(
        database_url(),
        [Path(p) for p in args.paths],
        force=args.force,
        zone=DropZone(args.root),
    )
    if args.json:
        print_json(report.as_dict())
    else:
        _print_requeue(report)
    return exit_codes.BAD_INPUT if report.needs_attention else exit_codes.OK


def _print_requeue(report: object) -> None:
    from ingestion.canvass.requeue import RequeueReport

    assert isinstance(report, RequeueReport)
    if not report.replays and not report.refused_files:
        print("no quarantined row waits for a replay")
    for replay in report.replays:
        print(f"{replay.status:9s} {replay.summary()}")
        for reason, rows in sorted(replay.reasons.items()):
            print(f"          still quarantined, {rows} row(s): {reason}")
    for item in report.refused_files:
        detail = item.reason or f"batch {item.batch_id}, {item.rows_loaded} rows loaded"
        print(f"{item.status:9s} {item.file_name}: {detail}")
    for path in report.unknown_paths:
        print(f"unknown   {path}: never offered; load it with `scrutin ingest canvass`")
    if report.rows_loaded:
        print(f"{report.rows_loaded} rows landed: run `scrutin build` to count them")


def cmd_canvass_mappings(args: argparse.Namespace) -> int:
    """Validate every app mapping and list what each reads (required, verified columns)."""
    from ingestion.canvass.mapping import load_mappings, mappings_dir

    loaded = load_mappings()
    listing = {
        name: {
            "file": str(m.path),
            "format": m.format,
            "description": m.description,
            "columns": [
                {
                    "column": c.name,
                    "field": c.field,
                    "required": c.required,
                    "verified": c.verified,
                }
                for c in m.columns
            ],
        }
        for name, m in loaded.items()
    }
    if args.json:
        print_json({"folder": str(mappings_dir()), "apps": listing})
        return exit_codes.OK
    print(f"canvass mappings in {mappings_dir()}: all valid")
    for name, m in loaded.items():
        read = [c for c in m.columns if c.field != "ignore"]
        assumed = [c.name for c in read if not c.verified]
        print(
            f"  {name:14s} {m.format:4s} {len(read)} columns read ({len(m.required_columns)} "
            f"required), {len(m.ignored_columns)} ignored; assumed, not verified: "
            f"{', '.join(assumed) or 'none'}"
        )
    return exit_codes.OK


def cmd_canvass_purge(args: argparse.Namespace) -> int:
    """Delete door knocks past retention that were aggregated (or count them, --dry-run)."""
    from ingestion.canvass.dropzone import drop_root
    from ingestion.canvass.purge import purge_expired
    from scrutin.config import database_url

    report = purge_expired(
        database_url(),
        dry_run=args.dry_run,
        force=args.force,
        drop_zone=None if args.keep_exports else drop_root(),
    )
    print(report.summary())
    for campaign in report.campaigns:
        state = "expired" if campaign.expired else "retained"
        print(
            f"  {campaign.campaign_id}: {state} (retention ends "
            f"{campaign.retention_ends_at.isoformat()}), past retention {campaign.rows_expired}, "
            f"deleted {campaign.rows_deleted}, kept (not aggregated) "
            f"{campaign.rows_kept_not_aggregated}"
        )
    if report.rows_kept and not args.dry_run:
        print(
            "some expired rows are not aggregated yet: publish (scrutin build) then purge again, "
            "or use --force (see docs/canvass.md)",
            file=sys.stderr,
        )
        return exit_codes.ERROR
    return exit_codes.OK


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = ingest.add_parser(
        "canvass", help="one canvassing-app export (Qomon, Ecanvasser, NationBuilder, OSDI, PAP)"
    )
    p.add_argument("path", type=input_file)
    p.add_argument(
        "--format",
        default=None,
        help="the app: a mapping of config/canvass/ (detected from the file if omitted)",
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_ingest_canvass)

    canvass = top.add_parser(
        "canvass", help="canvass drop zone, replays, app mappings and retention purge"
    )
    verbs = canvass.add_subparsers(dest="canvass_command", required=True)
    p = verbs.add_parser("drop", help="load every waiting file of the drop zone once")
    p.add_argument("--root", default=None, help="drop zone (default SCRUTIN_CANVASS_DROP)")
    p.set_defaults(func=cmd_canvass_drop)
    p = verbs.add_parser("purge", help="delete door knocks past retention once aggregated")
    p.add_argument("--dry-run", action="store_true", help="count, delete nothing (still logged)")
    p.add_argument(
        "--force",
        action="store_true",
        help="also delete expired rows not yet aggregated (when no publication can happen)",
    )
    p.add_argument(
        "--keep-exports",
        action="store_true",
        help="leave the drop zone's processed/ and failed/ exports alone (by default they are "
        "deleted past SCRUTIN_CANVASS_KEEP_PROCESSED_DAYS / SCRUTIN_CANVASS_KEEP_FAILED_DAYS)",
    )
    p.set_defaults(func=cmd_canvass_purge)
    p = verbs.add_parser(
        "requeue",
        help="replay quarantined rows once the cause is fixed (--force: refused files too)",
    )
    p.add_argument(
        "paths",
        nargs="*",
        type=input_path,
        help="export files or folders to read (default: the drop zone's processed/ folder)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="also load refused files again: the paths given and the drop zone's failed/",
    )
    p.add_argument("--root", default=None, help="drop zone (default SCRUTIN_CANVASS_DROP)")
    add_json_flag(p)
    p.set_defaults(func=cmd_canvass_requeue)
    p = verbs.add_parser(
        "mappings", help="validate the app mappings (config/canvass/) and list what they read"
    )
    add_json_flag(p)
    p.set_defaults(func=cmd_canvass_mappings)
