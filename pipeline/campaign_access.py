"""Several campaigns, one warehouse: who may read which published rows.

The canvass and score marts carry a `campaign_id` column (dbt/macros/campaign.sql); a build
publishes the rows of ONE campaign (the campaign file's). So that publishing campaign A never
drops campaign B's published rows, the swap first copies B's rows from the current `mart` into
`mart_audit` (`carry_other_campaigns`): the new `mart` holds A's rows of this run, and every
other campaign's rows as its own last publication left them. Never two runs of one campaign: the
audited schema may hold the building campaign's rows only, or the publication is refused.

Each campaign has its BI roles (`ops.campaign_bi_roles`: role -> campaign). On every mart table
with a `campaign_id` column, row-level security is enabled and FORCED, with one policy per
mapped role, `campaign_id = '<its campaign>'`, and one for the pipeline's own role (the tables'
owner) that reads every row. A role without a mapping sees no campaign row; the election and
census tables (no campaign_id) stay readable by every BI role. Tables are re-created by every
build, so `apply_row_security` runs in the publication's transaction, right after the swap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

CAMPAIGN_COLUMN = "campaign_id"
# The policy that lets the tables' owner (the pipeline's role) read every campaign's rows when it
# is not a superuser: FORCE row level security applies to the owner too.
OWNER_POLICY = "scrutin_pipeline_reads_all"
# A BI role name: a plain lower-case identifier (it is quoted anyway; plain keeps it typeable).
ROLE_PATTERN = re.compile(r"[a-z_][a-z0-9_]{0,62}")


# The publication's advisory lock (pipeline/publish.py): swaps, rollbacks and the grants of BI
# roles, which re-create the policies of the published tables, never interleave.
_PUBLISH_LOCK_KEY = "pipeline.publish"


def lock_publication(cur: psycopg.Cursor[Any]) -> None:
    """Take the publication's lock until the end of the cursor's transaction."""
    cur.execute("select pg_advisory_xact_lock(hashtext(%s))", (_PUBLISH_LOCK_KEY,))


class CampaignAccessError(RuntimeError):
    """A BI role or a campaign mapping the warehouse refuses (named in the message)."""


@dataclass(frozen=True)
class BiRole:
    role_name: str
    campaign_id: str


def configured_campaign_id() -> str:
    """The campaign of the campaign file: the rows the pipeline's own readers (plan, report,
    maps, the demo's summary) show, since its role sees every campaign's."""
    from scrutin.campaign import load_campaign

    return load_campaign().campaign_id


def default_role_name(campaign_id: str) -> str:
    """`scrutin_bi_<campaign>`: campaign ids may hold `-`, role names here may not."""
    return f"scrutin_bi_{campaign_id.replace('-', '_')}"[:63]


def check_role_name(role: str) -> str:
    if not ROLE_PATTERN.fullmatch(role) or role == OWNER_POLICY:
        raise CampaignAccessError(
            f"BI role name {role!r}: expected lower-case letters, digits and _ "
            "(at most 63, not starting with a digit)"
        )
    return role


def campaign_tables(cur: psycopg.Cursor[Any], schema: str) -> list[str]:
    """The tables of `schema` that hold campaign rows (a `campaign_id` column)."""
    cur.execute(
        "select c.table_name from information_schema.columns as c "
        "join pg_tables as t on t.schemaname = c.table_schema and t.tablename = c.table_name "
        "where c.table_schema = %s and c.column_name = %s order by c.table_name",
        (schema, CAMPAIGN_COLUMN),
    )
    return [r[0] for r in cur.fetchall()]


def _columns(cur: psycopg.Cursor[Any], schema: str, table: str) -> list[str]:
    cur.execute(
        "select column_name from information_schema.columns "
        "where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, table),
    )
    return [r[0] for r in cur.fetchall()]


def audited_campaigns(cur: psycopg.Cursor[Any], schema: str) -> dict[str, list[str]]:
    """table -> the distinct campaign ids its rows carry (a build's schema must hold one)."""
    from psycopg import sql

    found: dict[str, list[str]] = {}
    for table in campaign_tables(cur, schema):
        cur.execute(
            sql.SQL("select distinct {} from {}.{} order by 1").format(
                sql.Identifier(CAMPAIGN_COLUMN), sql.Identifier(schema), sql.Identifier(table)
            )
        )
        found[table] = [r[0] for r in cur.fetchall()]
    return found


def carry_other_campaigns(
    cur: psycopg.Cursor[Any], audit: str, published: str, campaign_id: str
) -> dict[str, int]:
    """Copy every other campaign's rows of `published` into `audit`, table by table.

    Columns are matched by name: a column the older publication lacks is null in the carried
    rows (a not-null one refuses the publication, naming the table and the column: publish each
    campaign once with the new model). Returns table -> rows carried.
    """
    import psycopg
    from psycopg import sql

    published_tables = set(campaign_tables(cur, published))
    carried: dict[str, int] = {}
    for table in campaign_tables(cur, audit):
        if table not in published_tables:
            continue
        old = set(_columns(cur, published, table))
        common = [c for c in _columns(cur, audit, table) if c in old]
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in common)
        try:
            cur.execute(
                sql.SQL(
                    "insert into {audit}.{table} ({cols}) select {cols} from {published}.{table} "
                    "where {campaign} is distinct from %s"
                ).format(
                    audit=sql.Identifier(audit),
                    published=sql.Identifier(published),
                    table=sql.Identifier(table),
                    cols=cols,
                    campaign=sql.Identifier(CAMPAIGN_COLUMN),
                ),
                (campaign_id,),
            )
        except psycopg.errors.IntegrityError as exc:
            column = getattr(exc.diag, "column_name", None) or "?"
            raise CampaignAccessError(
                f"{published}.{table}: the other campaigns' published rows cannot be kept "
                f"(column {column}: {exc.diag.message_primary}); the model changed since they "
                "were published"
            ) from exc
        carried[table] = cur.rowcount
    return carried


def bi_roles(cur: psycopg.Cursor[Any]) -> list[BiRole]:
    """Every mapped BI role (ops.campaign_bi_roles) whose PostgreSQL role exists."""
    cur.execute(
        "select m.role_name, m.campaign_id from ops.campaign_bi_roles as m "
        "join pg_roles as r on r.rolname = m.role_name order by m.role_name"
    )
    return [BiRole(r[0], r[1]) for r in cur.fetchall()]


def apply_row_security(cur: psycopg.Cursor[Any], schema: str) -> list[str]:
    """Enable and force row-level security on every campaign table of `schema`, with one
    policy per mapped BI role and one for the owner; returns the tables secured."""
    from psycopg import sql

    roles = bi_roles(cur)
    tables = campaign_tables(cur, schema)
    for table in tables:
        target = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        cur.execute(sql.SQL("alter table {} enable row level security").format(target))
        cur.execute(sql.SQL("alter table {} force row level security").format(target))
        cur.execute(
            "select policyname from pg_policies where schemaname = %s and tablename = %s",
            (schema, table),
        )
        for (policy,) in cur.fetchall():
            cur.execute(sql.SQL("drop policy {} on {}").format(sql.Identifier(policy), target))
        cur.execute(
            sql.SQL("create policy {} on {} for all to current_user using (true)").format(
                sql.Identifier(OWNER_POLICY), target
            )
        )
        for role in roles:
            cur.execute(
                sql.SQL("create policy {} on {} for select to {} using ({} = {})").format(
                    sql.Identifier(role.role_name),
                    target,
                    sql.Identifier(role.role_name),
                    sql.Identifier(CAMPAIGN_COLUMN),
                    sql.Literal(role.campaign_id),
                )
            )
    return tables


def grant_mart(cur: psycopg.Cursor[Any], role: str, schema: str = "mart") -> None:
    """`role` reads the tables of `schema` (its rows there: row-level security decides)."""
    from psycopg import sql

    cur.execute("select 1 from pg_namespace where nspname = %s", (schema,))
    if cur.fetchone() is None:
        return
    ident = sql.Identifier(role)
    cur.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(schema), ident))
    cur.execute(
        sql.SQL("grant select on all tables in schema {} to {}").format(
            sql.Identifier(schema), ident
        )
    )


def map_role(cur: psycopg.Cursor[Any], role: str, campaign_id: str) -> bool:
    """Record that `role` reads `campaign_id`'s rows; True when the mapping is new.

    A role already mapped to ANOTHER campaign is refused, never remapped: a BI tool connected as
    that role would silently start showing the other campaign's canvass and scores."""
    check_role_name(role)
    cur.execute("select campaign_id from ops.campaign_bi_roles where role_name = %s", (role,))
    row = cur.fetchone()
    if row is not None:
        if row[0] != campaign_id:
            raise CampaignAccessError(
                f"BI role {role} already reads campaign {row[0]}, not {campaign_id}: give "
                f"campaign {campaign_id} a role of its own (SCRUTIN_BI_ROLE, or "
                f"`scrutin campaign grant-bi --campaign-id {campaign_id}`)"
            )
        return False
    cur.execute(
        "insert into ops.campaign_bi_roles (role_name, campaign_id) values (%s, %s)",
        (role, campaign_id),
    )
    return True
