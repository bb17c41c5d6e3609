"""`scrutin campaign grant-bi | roles`: the BI roles of the campaigns sharing one warehouse.

Each campaign reads its own rows of the canvass and score marts through a role of its own
(row-level security, pipeline/campaign_access.py, docs/operations.md "Several campaigns").
Passwords come from an environment variable named on the command line, never the value itself.
"""

from __future__ import annotations

import argparse
import os
import sys

from pipeline import exit_codes


def cmd_grant_bi(args: argparse.Namespace) -> int:
    from pipeline.campaign_access import CampaignAccessError, default_role_name
    from pipeline.setup import grant_campaign_reader
    from scrutin.campaign import CAMPAIGN_ID_PATTERN
    from scrutin.config import database_url

    campaign_id = args.campaign_id
    if not CAMPAIGN_ID_PATTERN.fullmatch(campaign_id):
        print(
            f"scrutin campaign grant-bi: --campaign-id {campaign_id!r}: expected lower-case "
            "letters, digits, _ and - (as campaign_id in a campaign file)",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            print(
                f"scrutin campaign grant-bi: --password-env {args.password_env}: that "
                "environment variable is not set",
                file=sys.stderr,
            )
            return exit_codes.USAGE
    role = args.role or default_role_name(campaign_id)
    try:
        new = grant_campaign_reader(database_url(), campaign_id, role, password)
    except CampaignAccessError as exc:
        print(f"scrutin campaign grant-bi: {exc}", file=sys.stderr)
        return exit_codes.BAD_INPUT
    state = "now reads" if new else "already read"
    print(f"BI role {role} {state} campaign {campaign_id}'s rows of mart")
    return exit_codes.OK


def cmd_roles(args: argparse.Namespace) -> int:
    from pipeline.campaign_access import bi_roles
    from scrutin.config import database_url
    from scrutin.db import connect

    with connect(database_url()) as conn, conn.cursor() as cur:
        roles = bi_roles(cur)
    if not roles:
        print("no BI role reads any campaign yet (run `scrutin setup`)")
        return exit_codes.OK
    width = max(len(r.role_name) for r in roles)
    print(f"{'role':<{width}}  campaign")
    for r in roles:
        print(f"{r.role_name:<{width}}  {r.campaign_id}")
    return exit_codes.OK


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = top.add_parser("campaign", help="the campaigns sharing this warehouse and their BI roles")
    verbs = p.add_subparsers(dest="verb", required=True)
    grant = verbs.add_parser(
        "grant-bi",
        help="create a read-only BI role that sees one campaign's rows of mart",
        description="Idempotent. Creates the role (default scrutin_bi_<campaign>), lets it "
        "connect and read schema mart, and maps it to the campaign: in the canvass and score "
        "tables it sees that campaign's rows only (row-level security, re-applied at every "
        "publication). A role already mapped to another campaign is refused.",
    )
    grant.add_argument("--campaign-id", required=True, help="campaign_id of the campaign file")
    grant.add_argument("--role", help="role name (default: scrutin_bi_<campaign id>)")
    grant.add_argument(
        "--password-env",
        metavar="VAR",
        help="environment variable holding the role's password (needed on any shared server)",
    )
    grant.set_defaults(func=cmd_grant_bi)
    roles = verbs.add_parser("roles", help="which BI role reads which campaign")
    roles.set_defaults(func=cmd_roles)
