"""`scrutin fetch results ID [ID ...]`: fetch, check and land elections of the results registry.

    scrutin fetch results --list                     # what the registry holds
    scrutin fetch results 2022_pres_t1 2024_legi_t1  # the Ministry's files
    scrutin fetch results 2021_reg_t1                # an election published only in a pair
    scrutin fetch results 2022_pres_t1 --from pair   # data.gouv's pair instead of the file
    scrutin fetch results 2022_pres_t1 --json        # one JSON document on stdout

Exit codes (pipeline/exit_codes.py): 0 every election landed (or was already loaded); 3 bad
input (unknown id, invalid registry, checksum mismatch, a file that does not parse with its
declared layout): nothing of that election was loaded; 5 infrastructure (network unreachable
after the bounded retries, database down): retry later, or run `scrutin setup`. The elections
are processed in order and the command stops at the first failure. With `--json`, a fetch
failure is a JSON document too (`ok: false`, `error`, `failed`, the elections already landed);
a database that is down is reported on standard error by `scrutin` itself, as for every command.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipeline import exit_codes
from pipeline.cli_args import add_json_flag, input_file


def _classify(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and message of a fetch failure; None for anything else (a database that is
    down, a bug), which `scrutin`'s main reports like for every command."""
    from ingestion.download import DownloadError, DownloadRefused
    from ingestion.errors import SourceFormatError
    from ingestion.loaders.results_fetch import FetchRefused
    from ingestion.sources.results_registry import ResultsRegistryError

    if isinstance(exc, FetchRefused | ResultsRegistryError | SourceFormatError | DownloadRefused):
        return exit_codes.BAD_INPUT, str(exc)
    if isinstance(exc, DownloadError):
        return exit_codes.INFRASTRUCTURE, f"{exc} (network: retry later)"
    return None


def _print_report(report: Any) -> None:
    for f in report.files:
        state = "cached" if f.from_cache else "downloaded"
        pin = "pinned" if f.pinned else "not pinned"
        print(f"  {f.role}: {f.url} ({state}, sha256 {f.sha256}, {pin})")
    for r in report.loads:
        print(
            f"{r.election_id}: {r.status} (batch {r.batch_id}, {r.layout}): {r.rows_read} rows "
            f"read, {r.bureau_rows} bureaux, {r.candidate_rows} candidate rows, "
            f"{r.rows_rejected} quarantined, {r.duration_s:.2f} s"
        )


def _list(args: argparse.Namespace) -> int:
    from ingestion.sources.results_registry import read_results_registry

    registry = read_results_registry(args.registry)
    rows: list[dict[str, Any]] = [
        {
            "election_id": e.election_id,
            "sources": list(e.sources),
            "layout": e.layout,
            "encoding": e.encoding,
            "url": e.file.url if e.file else None,
            "sha256": e.file.sha256 if e.file else None,
            "pair": e.pair.key if e.pair else None,
        }
        for e in registry.entries.values()
    ]
    if args.json:
        print(json.dumps({"registry": str(registry.path), "elections": rows}, indent=2))
        return exit_codes.OK
    print(f"{'election':14} {'sources':9} {'layout':20} sha256")
    for row in rows:
        pinned = "pinned" if row["sha256"] else "not pinned"
        print(
            f"{row['election_id']:14} {'+'.join(row['sources']):9} "
            f"{row['layout'] or 'datagouv':20} {pinned}"
        )
    return exit_codes.OK


def cmd_fetch_results(args: argparse.Namespace) -> int:
    from ingestion.loaders.results_fetch import fetch_results
    from scrutin.config import database_url

    try:
        if args.list:
            return _list(args)
        if not args.election_ids:
            print("scrutin fetch results: give election ids, or --list", file=sys.stderr)
            return exit_codes.USAGE
    except Exception as exc:
        classified = _classify(exc)
        if classified is None:
            raise
        print(f"scrutin fetch results: {classified[1]}", file=sys.stderr)
        return classified[0]
    done: list[dict[str, Any]] = []
    for election_id in args.election_ids:
        try:
            report = fetch_results(
                database_url(),
                election_id,
                registry=args.registry,
                source=args.source,
                retries=args.retries,
                timeout_s=args.timeout,
                max_rejected=args.max_rejected,
            )
        except Exception as exc:
            classified = _classify(exc)
            if classified is None:
                raise
            code, message = classified
            if args.json:
                payload = {"ok": False, "exit_code": code, "error": message, "failed": election_id}
                print(json.dumps({**payload, "results": done}, indent=2, default=str))
            else:
                print(f"scrutin fetch results {election_id}: {message}", file=sys.stderr)
            return code
        done.append(report.as_dict())
        if not args.json:
            print(f"{election_id}: from the registry's {report.source} ({report.layout})")
            _print_report(report)
    if args.json:
        payload = {"ok": True, "exit_code": exit_codes.OK, "results": done}
        print(json.dumps(payload, indent=2, default=str))
    return exit_codes.OK


def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    from ingestion.download import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S

    fetch = top.add_parser(
        "fetch", help="fetch official files from a registry, check them and land them"
    ).add_subparsers(dest="fetch_source", required=True)
    p = fetch.add_parser(
        "results",
        help="elections of config/results_registry.yml: fetch, check sha256 and layout, load",
        description="Fetch each election's per-bureau results from the results registry "
        "(cache, sha256 when pinned, bounded retries), check the file parses with its declared "
        "layout, and load it like `scrutin results load`. Exit codes: 0 ok, 3 bad input or "
        "checksum refused (nothing loaded), 5 network or database down.",
    )
    p.add_argument("election_ids", nargs="*", metavar="ELECTION_ID", help="e.g. 2022_pres_t1")
    p.add_argument("--list", action="store_true", help="list the registry's elections")
    p.add_argument(
        "--from",
        dest="source",
        choices=("file", "pair"),
        default=None,
        help="the Ministry's file or data.gouv's GENERAL/CANDIDATS pair "
        "(default: the file when the registry lists one)",
    )
    p.add_argument(
        "--registry",
        type=input_file,
        default=None,
        help="another registry YAML (default: config/results_registry.yml)",
    )
    add_json_flag(p)
    p.add_argument(
        "--retries",
        type=int,
        default=DEFAULT_RETRIES,
        help=f"retries on network errors and 5xx answers (default {DEFAULT_RETRIES})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds without an answer before a retry (default {DEFAULT_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--max-rejected",
        type=int,
        default=None,
        help="quarantined bureau rows tolerated before the file is refused "
        "(default: the larger of 10 and 1%% of the rows)",
    )
    p.set_defaults(func=cmd_fetch_results)
