"""Publication: swap the audited schema in as `mart`, atomically, keeping the previous one.

Analysts and BI tools only ever read `mart`. dbt builds into `mart_audit`; once every check passed,
one transaction (under an advisory lock, so two publishers never interleave) renames
`mart` -> `mart_prev` and `mart_audit` -> `mart`. A reader sees the old mart or the new one, never a
mix. `rollback()` swaps `mart_prev` back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrutin.config import bi_reader_role

if TYPE_CHECKING:
    import psycopg

AUDIT_SCHEMA = "mart_audit"
MART_SCHEMA = "mart"
PREV_SCHEMA = "mart_prev"
_LOCK_KEY = "pipeline.publish"


class PublicationError(RuntimeError):
    """Nothing was published (or rolled back); `mart` is unchanged."""


@dataclass
class PublishReport:
    run_id: str
    action: str
    publication_id: int
    row_counts: dict[str, int] = field(default_factory=dict)


def _schema_exists(cur: psycopg.Cursor[Any], schema: str) -> bool:
    cur.execute("select 1 from pg_namespace where nspname = %s", (schema,))
    return cur.fetchone() is not None


def table_row_counts(cur: psycopg.Cursor[Any], schema: str) -> dict[str, int]:
    """Exact row count of every table of `schema`."""
    from psycopg import sql

    cur.execute(
        "select tablename from pg_tables where schemaname = %s order by tablename", (schema,)
    )
    names = [r[0] for r in cur.fetchall()]
    counts: dict[str, int] = {}
    for name in names:
        cur.execute(
            sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
        )
        row = cur.fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts


def _ensure_role(cur: psycopg.Cursor[Any], role: str) -> None:
    from psycopg import sql

    cur.execute("select 1 from pg_roles where rolname = %s", (role,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))


def _grant_reader(cur: psycopg.Cursor[Any]) -> None:
    """The BI role reads `mart` and nothing else (not `mart_prev`, not `mart_audit`)."""
    from psycopg import sql

    role = sql.Identifier(bi_reader_role())
    _ensure_role(cur, bi_reader_role())
    cur.execute(sql.SQL("grant usage on schema mart to {}").format(role))
    cur.execute(sql.SQL("grant select on all tables in schema mart to {}").format(role))
    for schema in (PREV_SCHEMA,):
        if _schema_exists(cur, schema):
            cur.execute(
                sql.SQL("revoke all on all tables in schema {} from {}").format(
                    sql.Identifier(schema), role
                )
            )
            cur.execute(
                sql.SQL("revoke all on schema {} from {}").format(sql.Identifier(schema), role)
            )


def _log(
    cur: psycopg.Cursor[Any],
    run_id: str,
    action: str,
    row_counts: dict[str, int],
    check_summary: dict[str, Any],
) -> int:
    cur.execute(
        "insert into ops.publication_log (run_id, action, row_counts, check_summary) "
        "values (%s, %s, %s::jsonb, %s::jsonb) returning publication_id",
        (run_id, action, json.dumps(row_counts), json.dumps(check_summary)),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def publish(conn: psycopg.Connection, run_id: str, check_summary: dict[str, Any]) -> PublishReport:
    """Swap `mart_audit` in as `mart`. Call only after every check passed."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (_LOCK_KEY,))
        if not _schema_exists(cur, AUDIT_SCHEMA):
            raise PublicationError(f"schema {AUDIT_SCHEMA} does not exist: nothing to publish")
        counts = table_row_counts(cur, AUDIT_SCHEMA)
        if not counts:
            raise PublicationError(f"schema {AUDIT_SCHEMA} holds no table: nothing to publish")
        cur.execute(f"drop schema if exists {PREV_SCHEMA} cascade")
        if _schema_exists(cur, MART_SCHEMA):
            cur.execute(f"alter schema {MART_SCHEMA} rename to {PREV_SCHEMA}")
        cur.execute(f"alter schema {AUDIT_SCHEMA} rename to {MART_SCHEMA}")
        _grant_reader(cur)
        publication_id = _log(cur, run_id, "publish", counts, check_summary)
        # Same transaction as the swap: a published run is never left `running`.
        cur.execute(
            "update ops.gate_runs set status = 'passed', finished_at = now(), "
            "failed_checks = '[]'::jsonb where run_id = %s",
            (run_id,),
        )
    return PublishReport(run_id, "publish", publication_id, counts)


def rollback(conn: psycopg.Connection, run_id: str) -> PublishReport:
    """Restore `mart_prev` as `mart` (the current `mart` becomes `mart_prev`)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (_LOCK_KEY,))
        if not _schema_exists(cur, PREV_SCHEMA):
            raise PublicationError("no previous publication (schema mart_prev) to roll back to")
        cur.execute("drop schema if exists mart_swap cascade")
        if _schema_exists(cur, MART_SCHEMA):
            cur.execute(f"alter schema {MART_SCHEMA} rename to mart_swap")
        cur.execute(f"alter schema {PREV_SCHEMA} rename to {MART_SCHEMA}")
        if _schema_exists(cur, "mart_swap"):
            cur.execute(f"alter schema mart_swap rename to {PREV_SCHEMA}")
        _grant_reader(cur)
        counts = table_row_counts(cur, MART_SCHEMA)
        publication_id = _log(cur, run_id, "rollback", counts, {"rolled_back": True})
    return PublishReport(run_id, "rollback", publication_id, counts)
