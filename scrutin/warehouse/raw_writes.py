"""What the raw tables' write trigger records (migrations 0015 and 0022, `ops.raw_table_writes`).

A table's version is its number of committed write statements; migration 0022 added each
write's operation, so that rows changed in place (UPDATE, TRUNCATE) can be told apart from rows
added or deleted. Two readers rely on that difference: the build plan (an incremental canvass
build keeps one row per landed row, pipeline/build_plan.py) and the raw suites (a table that only
grew since its last validation is validated by its new batches, expectations/validations.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

# Writes that change landed rows in place; rows written before migration 0022 have no
# operation (null) and count as none.
REWRITE_OPERATIONS = ("UPDATE", "TRUNCATE")
# The key of a table's count of rewrites beside its version: `rewrites:raw.canvass_knocks`.
REWRITES_PREFIX = "rewrites:"


def rewrite_counts(conn: psycopg.Connection[Any], tables: Sequence[str]) -> dict[str, int]:
    """`rewrites:<table>` -> the number of committed UPDATE and TRUNCATE writes of each of
    `tables`, 0 included."""
    counts = dict(
        conn.execute(
            "select table_name, count(*) from ops.raw_table_writes "
            "where operation = any(%s) and table_name = any(%s) group by table_name",
            (list(REWRITE_OPERATIONS), list(tables)),
        ).fetchall()
    )
    return {f"{REWRITES_PREFIX}{table}": int(counts.get(table, 0)) for table in tables}
