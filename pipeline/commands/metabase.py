"""`scrutin metabase provision --url URL`: the dashboards of metabase/dashboards/ in Metabase.

See pipeline/metabase.py and docs/analysts.md. Credentials of the Metabase admin come from
SCRUTIN_METABASE_USER and SCRUTIN_METABASE_PASSWORD, never from the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline import exit_codes


def cmd_provision(args: argparse.Namespace) -> int:
    import requests

    from pipeline.dbt_runner import build_target_path
    from pipeline.metabase import (
        MetabaseClient,
        MetabaseError,
        dbt_descriptions,
        load_dashboards,
        provision,
    )
    from scrutin.config import bi_reader_password, bi_reader_role, database_url, dsn_parts

    user = os.environ.get("SCRUTIN_METABASE_USER")
    password = os.environ.get("SCRUTIN_METABASE_PASSWORD")
    if not user or not password:
        print(
            "scrutin metabase provision: set SCRUTIN_METABASE_USER and "
            "SCRUTIN_METABASE_PASSWORD (a Metabase admin)",
            file=sys.stderr,
        )
        return exit_codes.USAGE
    parts = dsn_parts(database_url())
    warehouse = {
        "host": args.db_host or parts.host,
        "port": args.db_port or parts.port,
        "dbname": parts.dbname,
        "user": bi_reader_role(),
        "password": bi_reader_password() or "",
    }
    manifest = Path(args.manifest) if args.manifest else None
    if manifest is None:
        manifest = build_target_path(database_url()) / "manifest.json"
    descriptions = dbt_descriptions(manifest) if manifest.exists() else {}
    if not descriptions:
        print(f"no dbt manifest at {manifest}: descriptions not synced (run `scrutin build`)")
    client = MetabaseClient(args.url)
    try:
        client.login(user, password)
        report = provision(client, warehouse, load_dashboards(), descriptions)
    except (MetabaseError, requests.RequestException) as exc:
        print(f"scrutin metabase provision: {exc}", file=sys.stderr)
        return exit_codes.INFRASTRUCTURE
    print(
        f"Metabase {args.url}: database {report.database_id}, collection "
        f"{report.collection_id}; {len(report.created)} created, {len(report.updated)} updated, "
        f"{report.descriptions} descriptions synced"
    )
    return exit_codes.OK


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    p = top.add_parser("metabase", help="Metabase dashboards as code")
    verbs = p.add_subparsers(dest="verb", required=True)
    prov = verbs.add_parser(
        "provision",
        help="create or update the warehouse, descriptions and dashboards in Metabase",
        description="Idempotent: adds the warehouse through the BI role (schema mart only), "
        "syncs table and column descriptions from the dbt manifest, creates the collection "
        "`Scrutin` with one dashboard per metabase/dashboards/*.yml. Admin credentials from "
        "SCRUTIN_METABASE_USER / SCRUTIN_METABASE_PASSWORD.",
    )
    prov.add_argument("--url", required=True, help="Metabase base URL, e.g. http://metabase:3000")
    prov.add_argument("--db-host", help="warehouse host as Metabase sees it (default: the DSN's)")
    prov.add_argument("--db-port", type=int, help="warehouse port as Metabase sees it")
    prov.add_argument("--manifest", help="dbt manifest.json (default: the last build's)")
    prov.set_defaults(func=cmd_provision)
