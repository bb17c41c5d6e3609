"""Fingerprint every published table: one md5 per table over its columns and sorted rows.

Why: a restructure must publish exactly the same figures. `make demo` before and after, then
this script, tells whether any published value changed, and in which table. Columns that name a
run (run ids, build timestamps) change on every build by design and are left out; the list is
printed so a reader sees what was not compared.

    .venv/bin/python scripts/mart_fingerprint.py                 # print {table: md5}
    .venv/bin/python scripts/mart_fingerprint.py --write FILE    # save them as JSON
    .venv/bin/python scripts/mart_fingerprint.py --check FILE    # exit 1 naming any change
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import psycopg
from psycopg import sql

# Columns whose value identifies a run rather than a published figure.
VOLATILE_COLUMNS = frozenset({"ecological_fit_run_id", "built_at", "published_at", "run_id"})


# Floating-point sums depend on the order PostgreSQL visits rows, which varies between two builds
# of the same code in the last bit (1e-16 relative): floats are compared to 9 decimal places.
FLOAT_DECIMALS = 9
_FLOAT_TYPES = frozenset({"double precision", "real", "numeric"})


def _column_expr(column: str, data_type: str) -> sql.Composable:
    if data_type in _FLOAT_TYPES:
        return sql.SQL("round({}::numeric, {})").format(
            sql.Identifier(column), sql.Literal(FLOAT_DECIMALS)
        )
    return sql.Identifier(column)


def fingerprint(url: str, schema: str = "mart") -> dict[str, str]:
    """{table: md5 of its column list and its rows in sorted text form}."""
    out: dict[str, str] = {}
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables "
                "where table_schema = %s order by table_name",
                (schema,),
            )
        ]
        for table in tables:
            cols = [
                (r[0], r[1])
                for r in conn.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = %s and table_name = %s order by ordinal_position",
                    (schema, table),
                )
                if r[0] not in VOLATILE_COLUMNS
            ]
            row_expr = sql.SQL("row({})::text").format(
                sql.SQL(", ").join(_column_expr(c, t) for c, t in cols)
            )
            query = sql.SQL(
                "select md5(coalesce(string_agg(r, E'\\n' order by r), '')), count(*) "
                "from (select {} as r from {}.{}) t"
            ).format(row_expr, sql.Identifier(schema), sql.Identifier(table))
            digest, count = conn.execute(query).fetchone()  # type: ignore[misc]
            header = ",".join(f"{c}:{t}" for c, t in cols)

            out[table] = hashlib.md5(f"{header}\n{count}\n{digest}".encode()).hexdigest()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="warehouse URL (default: SCRUTIN_DATABASE_URL or local)")
    parser.add_argument("--schema", default="mart")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args(argv)

    from scrutin.config import database_url

    prints = fingerprint(args.url or database_url(), args.schema)
    print(f"ignored columns: {', '.join(sorted(VOLATILE_COLUMNS))}", file=sys.stderr)
    if args.write:
        args.write.write_text(json.dumps(prints, indent=2, sort_keys=True) + "\n")
        print(f"{len(prints)} tables fingerprinted into {args.write}")
        return 0
    if args.check:
        expected = json.loads(args.check.read_text())
        changed = sorted(t for t in set(expected) | set(prints) if expected.get(t) != prints.get(t))
        for table in changed:
            print(f"CHANGED {args.schema}.{table}: {expected.get(table)} -> {prints.get(table)}")
        if changed:
            return 1
        print(f"{len(prints)} tables identical to {args.check}")
        return 0
    print(json.dumps(prints, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
