"""`scrutin ingest canvass PATH`, `scrutin canvass drop`, `scrutin canvass purge`.

The same functions the DAGs `ingest_canvass_feedback` and `purge_expired_personal_data` run.
Heavy imports stay inside the command functions (`scrutin --help` must stay fast).
"""

from __future__ import annotations

import argparse
import sys

FORMATS = ("qomon", "ecanvasser", "nationbuilder", "osdi", "pap")


def cmd_ingest_canvass(args: argparse.Namespace) -> int:
    """Load one export by hand (it is not moved: the drop zone is for deliveries)."""
    from pathlib import Path

    from ingestion.canvass.loader import load_canvass_file
    from scrutin.config import database_url

    report = load_canvass_file(database_url(), Path(args.path), fmt=args.format)
    print(report.summary())
    return 0


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
    return 1 if any(r.outcome == "failed" for r in results) else 0


def cmd_canvass_purge(args: argparse.Namespace) -> int:
    """Delete door knocks past retention that were aggregated (or count them, --dry-run)."""
    from ingestion.canvass.purge import purge_expired
    from scrutin.config import database_url

    report = purge_expired(database_url(), dry_run=args.dry_run, force=args.force)
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
        return 2
    return 0


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = ingest.add_parser(
        "canvass", help="one canvassing-app export (Qomon, Ecanvasser, NationBuilder, OSDI, PAP)"
    )
    p.add_argument("path")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="the app (detected from the file if omitted)",
    )
    p.set_defaults(func=cmd_ingest_canvass)

    canvass = top.add_parser("canvass", help="canvass drop zone and retention purge")
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
    p.set_defaults(func=cmd_canvass_purge)
