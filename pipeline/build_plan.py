"""Full refresh or incremental build: what changed since the last PUBLISHED build.

A full `scrutin build` recomputes every dbt node (minutes at national size); door knocks land
every day and only the canvass and score marts depend on them. So the gate's first stage
decides, before dbt runs, between:

- **incremental**: only the canvass data moved since the last publication. dbt rebuilds
  `source:canvass+` (staging, intermediate and marts that read the knocks, the score marts
  included) and every data test touching them; the ecological fit (results and census only) is
  reused; the other published tables are copied from `mart` into `mart_audit` first, so the
  candidate publication is complete, tested as a whole and swapped in as one schema;
- **unchanged**: nothing moved at all. Nothing is rebuilt and nothing published: `mart` already
  is what these inputs give (a scheduled build with nothing new took minutes at national size
  to republish the same tables);
- **full**: anything else moved — any other source (results, REU, roll, census, contours,
  backtests), the dbt project or the Python code, the campaign file (territory, k_min, score
  parameters), the migrations — or there is nothing to compare with (first build, a rollback
  since, a build asked with `--full` or `--accept-bureau-loss`).

The comparison is made against the inputs of the last *published* build, never of the last
build: a build refused by its gate leaves its staging and intermediate tables behind, so one that
read other inputs since the publication (a refused results load, a campaign file reverted...)
also forces a full refresh. Inputs are a fingerprint: the write count of every table dbt reads
(`ops.raw_table_writes`, migrations 0015 and 0018), a digest of the batch ledger per source, and
sha256 digests of the code and configuration. Each decision, with its reason, is one row of
`ops.build_decisions`; the later stages of the run read it back.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrutin.warehouse.raw_writes import rewrite_counts

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("pipeline.build_plan")

FULL = "full"
INCREMENTAL = "incremental"
# Nothing moved since the last publication: nothing is rebuilt, nothing published (migration 0021).
UNCHANGED = "unchanged"

# The source an incremental build may rebuild alone, and the dbt selector of what reads it.
INCREMENTAL_SOURCE = "canvass"
INCREMENTAL_SELECTION = "source:canvass+"

# Tables written by a canvass load (or the purge): a change of any of them is a canvass change.
# Every other tracked table is its own input group, and its change forces a full refresh.
SOURCE_OF_TABLE = {
    "raw.canvass_knocks": INCREMENTAL_SOURCE,
    "raw.canvass_suppression": INCREMENTAL_SOURCE,
    "ops.canvass_campaigns": INCREMENTAL_SOURCE,
}
# Writes that change landed rows in place (trigger operations, migration 0022) of the tables
# whose rows the incremental canvass models keep, one row per landed row
# (int_canvass__bureau_matches, int_canvass__knock_versions): counted apart as
# `rewrites:<table>`, an input group of its own, so that one forces a full refresh. (The
# loader's upserts of ops.canvass_campaigns and raw.canvass_suppression are UPDATEs too: those
# tables are read whole by every build, so they stay canvass changes.)
LANDED_ROW_TABLES = ("raw.canvass_knocks",)
# Every loader writes the ledger: it is fingerprinted per source (`ledger:<source>`) instead.
LEDGER_TABLE = "raw.batch_ledger"
# Ledger rows whose data dbt reads; `running`/`failed`/`skipped` rows left no data behind.
LEDGER_STATUSES = ("loaded", "superseded")

# What the fingerprint hashes of the checkout: the dbt project and the Python packages the
# build, the gate and the loaders run.
CODE_PACKAGES = ("pipeline", "scrutin", "expectations", "ingestion")
DBT_PARTS = (
    "dbt_project.yml",
    "profiles.yml",
    "packages.yml",
    "models",
    "macros",
    "seeds",
    "tests",
    "snapshots",
    "analyses",
)
CODE_SUFFIXES = (".py", ".sql", ".yml", ".yaml", ".csv", ".md", ".json", ".html")


@dataclass
class BuildPlan:
    """What a build does: `mode` and why (`reason`), in words an engineer can act on."""

    mode: str
    reason: str
    inputs: dict[str, str]
    changed: list[str] = field(default_factory=list)
    selection: str | None = None
    baseline_run: str | None = None

    @property
    def incremental(self) -> bool:
        return self.mode == INCREMENTAL

    @property
    def unchanged(self) -> bool:
        return self.mode == UNCHANGED


def _group(name: str) -> str:
    """The input group of a fingerprint key: `canvass` for the canvass tables and ledger."""
    if name.startswith("ledger:"):
        return name.removeprefix("ledger:")
    return SOURCE_OF_TABLE.get(name, name)


def _digest(items: Iterable[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in items:
        h.update(name.encode())
        h.update(b"\0")
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


def _files(root: Path, parts: Iterable[str]) -> Iterable[tuple[str, bytes]]:
    for part in parts:
        top = root / part
        paths = [top] if top.is_file() else sorted(top.rglob("*")) if top.is_dir() else []
        for path in paths:
            if path.is_file() and path.suffix in CODE_SUFFIXES and "__pycache__" not in path.parts:
                yield str(path.relative_to(root)), path.read_bytes()


def code_digest() -> str:
    """sha256 over the dbt project and the Python packages (file names and contents): any edit
    of a model, macro, seed, test, score formula or gate check moves it."""
    import importlib
    from importlib.metadata import version

    from scrutin.config import DBT_PROJECT_DIR

    def packages() -> Iterable[tuple[str, bytes]]:
        for name in CODE_PACKAGES:
            folder = Path(importlib.import_module(name).__file__ or "").parent
            yield from _files(folder.parent, [name])

    versions = f"dbt-core {version('dbt-core')}, dbt-postgres {version('dbt-postgres')}"
    return _digest(
        [
            ("versions", versions.encode()),
            *_files(DBT_PROJECT_DIR, DBT_PARTS),
            *packages(),
        ]
    )


def campaign_digest() -> str:
    """sha256 of the campaign file and of the dbt vars derived from it (k_min, scores...)."""
    from pipeline.dbt_runner import campaign_vars
    from scrutin.campaign import campaign_config_path

    path = campaign_config_path()
    data = path.read_bytes() if path.is_file() else b""
    return _digest(
        [
            ("campaign_file", data),
            ("vars", json.dumps(campaign_vars(), sort_keys=True, default=str).encode()),
        ]
    )


def input_fingerprint(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The inputs a build is about to read: key -> version (a count or a digest).

    Keys: `code`, `campaign`, `migrations`, one per tracked table (`raw.election_results_bureau`:
    its number of committed writes), `rewrites:raw.canvass_knocks` when landed knocks were
    changed in place (its UPDATE and TRUNCATE writes: a group of its own, so a full refresh),
    one per batch-ledger source (`ledger:elections`), and `untracked:<table>` for a raw table
    without a write trigger (never trusted: its key changes in every build)."""
    inputs = {"code": code_digest(), "campaign": campaign_digest()}
    rows = conn.execute(
        "select version, checksum from ops.schema_migrations order by version"
    ).fetchall()
    inputs["migrations"] = _digest((str(v), str(c).encode()) for v, c in rows)
    for table, count in conn.execute(
        "select table_name, count(*) from ops.raw_table_writes where table_name <> %s "
        "group by table_name",
        (LEDGER_TABLE,),
    ).fetchall():
        inputs[table] = str(count)
    # In-place writes apart (migration 0022): the canvass tables' incremental models hold while
    # landed rows are only added or deleted, so a rewrite of one is not a canvass change.
    for key, count in rewrite_counts(conn, LANDED_ROW_TABLES).items():
        if count:  # (a key that appears moves the fingerprint: a rewrite, a full refresh)
            inputs[key] = str(count)
    for source, digest in conn.execute(
        "select source, md5(string_agg(concat_ws('|', batch_id, status, dataset_key, "
        "rows_loaded, file_sha256), ',' order by batch_id)) "
        "from raw.batch_ledger where status = any(%s) group by source",
        (list(LEDGER_STATUSES),),
    ).fetchall():
        inputs[f"ledger:{source}"] = str(digest)
    for (table,) in conn.execute(
        "select n.nspname || '.' || c.relname from pg_class as c "
        "join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = 'raw' and c.relkind in ('r', 'p') and not exists (select 1 "
        "from ops.raw_table_writes as w where w.table_name = n.nspname || '.' || c.relname)"
    ).fetchall():
        inputs[f"untracked:{table}"] = uuid.uuid4().hex
    return inputs


def _moved(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _others(keys: Iterable[str]) -> list[str]:
    return sorted(k for k in keys if _group(k) != INCREMENTAL_SOURCE)


@dataclass(frozen=True)
class _Baseline:
    """The last publication, and the inputs its build recorded."""

    publication_id: int
    run_id: str
    inputs: dict[str, str]
    decided_at: Any

    @property
    def name(self) -> str:
        return f"publication #{self.publication_id} (run {self.run_id})"


def _baseline(conn: psycopg.Connection[Any]) -> _Baseline | str:
    """The published build to compare with, or why there is none."""
    last = conn.execute(
        "select publication_id, run_id, action from ops.publication_log "
        "order by publication_id desc limit 1"
    ).fetchone()
    if last is None:
        return "no publication yet"
    publication_id, run_id, action = last
    if action != "publish":
        return (
            f"the last publication action (#{publication_id}) is a {action}: `mart` holds an "
            "older publication, whose inputs are not the ones recorded last"
        )
    row = conn.execute(
        "select inputs, decided_at from ops.build_decisions where run_id = %s", (run_id,)
    ).fetchone()
    if row is None:
        return (
            f"publication #{publication_id} (run {run_id}) recorded no inputs "
            "(published before incremental builds, or by hand)"
        )
    return _Baseline(int(publication_id), str(run_id), dict(row[0]), row[1])


def _blockers(conn: psycopg.Connection[Any], base: _Baseline, changed: list[str]) -> Iterator[str]:
    """Every reason the build cannot be incremental, in the order they are checked."""
    others = _others(changed)
    if others:
        yield f"changed since {base.name}: {', '.join(others)}"
    # A build since the publication (refused or crashed) that read other inputs left its
    # staging/intermediate tables behind: they are not the published build's any more.
    for run_id, their_inputs in conn.execute(
        "select run_id, inputs from ops.build_decisions where decided_at > %s and run_id <> %s "
        "order by decided_at",
        (base.decided_at, base.run_id),
    ).fetchall():
        diverged = _others(_moved(base.inputs, their_inputs))
        if diverged:
            yield (
                f"build {run_id} since {base.name} read other inputs ({', '.join(diverged)}): "
                "the staging and intermediate tables it left behind must be rebuilt"
            )
    relations = conn.execute(
        "select c.relname, c.relkind from pg_class as c "
        "join pg_namespace as n on n.oid = c.relnamespace "
        "where n.nspname = 'mart' and c.relkind in ('r', 'p', 'v', 'm', 'f')"
    ).fetchall()
    if not relations:
        yield "no published `mart` to carry the unchanged tables from"
    odd = sorted(name for name, kind in relations if kind not in ("r", "p", "v"))
    if odd:
        yield f"`mart` holds relations that are neither tables nor views ({', '.join(odd)})"


def decide(conn: psycopg.Connection[Any], *, full_reason: str | None = None) -> BuildPlan:
    """The plan of the build about to start (call it holding the build lock).

    `full_reason`: the caller asks for a full refresh (`--full`, `--accept-bureau-loss`)."""
    inputs = input_fingerprint(conn)
    base = _baseline(conn)
    if full_reason or isinstance(base, str):
        return BuildPlan(FULL, str(full_reason or base), inputs)
    changed = _moved(base.inputs, inputs)
    blocker = next(_blockers(conn, base, changed), None)
    if blocker is not None:
        return BuildPlan(FULL, blocker, inputs, changed, None, base.run_id)
    if not changed:
        return BuildPlan(
            UNCHANGED,
            f"nothing changed since {base.name}: `mart` already is what these inputs give",
            inputs,
            [],
            None,
            base.run_id,
        )
    return BuildPlan(
        INCREMENTAL,
        f"only the canvass data changed since {base.name}",
        inputs,
        changed,
        INCREMENTAL_SELECTION,
        base.run_id,
    )


def record(conn: psycopg.Connection[Any], run_id: str, plan: BuildPlan) -> None:
    """One row of `ops.build_decisions` (a retried stage replaces its run's row)."""
    conn.execute(
        "insert into ops.build_decisions "
        "(run_id, mode, reason, selection, changed, inputs, baseline_run) "
        "values (%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s) "
        "on conflict (run_id) do update set decided_at = now(), mode = excluded.mode, "
        "reason = excluded.reason, selection = excluded.selection, changed = excluded.changed, "
        "inputs = excluded.inputs, baseline_run = excluded.baseline_run",
        (
            run_id,
            plan.mode,
            plan.reason,
            plan.selection,
            json.dumps(plan.changed),
            json.dumps(plan.inputs),
            plan.baseline_run,
        ),
    )


def recorded(conn: psycopg.Connection[Any], run_id: str) -> BuildPlan | None:
    """The plan the first stage recorded for `run_id` (None: a run from before migration 0018)."""
    row = conn.execute(
        "select mode, reason, inputs, changed, selection, baseline_run "
        "from ops.build_decisions where run_id = %s",
        (run_id,),
    ).fetchone()
    if row is None:
        return None
    mode, reason, inputs, changed, selection, baseline = row
    return BuildPlan(mode, reason, inputs, list(changed), selection, baseline)


def moved_since_decision(conn: psycopg.Connection[Any], run_id: str) -> list[str]:
    """The inputs other than the canvass that moved since `run_id` decided to be incremental
    (none for a full build). Loaders do not wait for the build lock: a REU or results file
    committed while an incremental build ran is read by the canvass models it rebuilds, while
    the tables of that source were carried as published; the publication refuses such a mix."""
    plan = recorded(conn, run_id)
    if plan is None or not plan.incremental:
        return []
    return _others(_moved(plan.inputs, input_fingerprint(conn)))


def as_summary(plan: BuildPlan) -> dict[str, Any]:
    """What the publication log keeps of the plan (the inputs stay in ops.build_decisions)."""
    out = dataclasses.asdict(plan)
    out.pop("inputs")
    return {f"build_{k}": v for k, v in out.items()}


def carry_published_tables(
    conn: psycopg.Connection[Any], rebuilt: Iterable[str], campaign_id: str
) -> list[str]:
    """Copy every published table an incremental build does not rebuild into a fresh
    `mart_audit`: structure, indexes, constraints and comments (`like ... including all`) and
    rows. Campaign tables get only `campaign_id`'s rows: the publication carries the other
    campaigns' rows itself (pipeline/campaign_access.py). Returns the copied tables."""
    from psycopg import sql

    from pipeline.campaign_access import CAMPAIGN_COLUMN, campaign_tables
    from pipeline.publish import AUDIT_SCHEMA, MART_SCHEMA

    skip = set(rebuilt)
    with conn.transaction(), conn.cursor() as cur:
        # Whatever a refused build left there is not the last publication's.
        audit = sql.Identifier(AUDIT_SCHEMA)
        cur.execute(sql.SQL("drop schema if exists {} cascade").format(audit))
        cur.execute(sql.SQL("create schema {}").format(audit))
        cur.execute(
            "select tablename from pg_tables where schemaname = %s order by tablename",
            (MART_SCHEMA,),
        )
        tables = [t for (t,) in cur.fetchall() if t not in skip]
        with_campaign = set(campaign_tables(cur, MART_SCHEMA))
        for table in tables:
            target = sql.Identifier(AUDIT_SCHEMA, table)
            source = sql.Identifier(MART_SCHEMA, table)
            cur.execute(sql.SQL("create table {} (like {} including all)").format(target, source))
            query = sql.SQL("insert into {} select * from {}").format(target, source)
            if table in with_campaign:
                query += sql.SQL(" where {} = %s").format(sql.Identifier(CAMPAIGN_COLUMN))
                cur.execute(query, (campaign_id,))
            else:
                cur.execute(query)
            cur.execute(
                "select obj_description(%s::regclass, 'pg_class')", (f"{MART_SCHEMA}.{table}",)
            )
            row = cur.fetchone()
            if row and row[0]:
                cur.execute(
                    sql.SQL("comment on table {} is {}").format(target, sql.Literal(row[0]))
                )
            cur.execute(sql.SQL("analyze {}").format(target))
    return tables


@dataclass(frozen=True)
class Rebuild:
    """What an incremental build rebuilds in `mart_audit` (from dbt's manifest)."""

    tables: list[str]  # canvass dependents and score marts: dbt tables
    views: list[str]  # every mart view model: rebuilt (a view cannot be copied across schemas)

    @property
    def selection(self) -> str:
        return " ".join([INCREMENTAL_SELECTION, *self.views])


def rebuilt_marts(manifest: Path) -> Rebuild:
    """The `mart_audit` relations an incremental build rebuilds, from dbt's manifest of the last
    build: every model downstream of a canvass source, every score model (the second dbt stage
    builds them all), and every view model (its definition names the schema it reads, so a copy
    would not do; rebuilding a view costs nothing). Raises OSError/KeyError/ValueError without a
    usable manifest (the caller then builds in full)."""
    from pipeline.publish import AUDIT_SCHEMA

    data = json.loads(manifest.read_text(encoding="utf-8"))
    nodes = data["nodes"]
    children = data["child_map"]
    todo = [k for k, s in data["sources"].items() if s.get("source_name") == INCREMENTAL_SOURCE]
    seen: set[str] = set()
    while todo:
        key = todo.pop()
        for child in children.get(key, []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    seen |= {k for k, n in nodes.items() if "scores" in (n.get("tags") or [])}
    marts = {
        k: n
        for k, n in nodes.items()
        if n.get("resource_type") == "model" and n.get("schema") == AUDIT_SCHEMA
    }
    views = {k for k, n in marts.items() if n.get("config", {}).get("materialized") == "view"}
    return Rebuild(
        tables=sorted(n.get("alias") or n["name"] for k, n in marts.items() if k in seen - views),
        views=sorted(marts[k].get("alias") or marts[k]["name"] for k in views),
    )
