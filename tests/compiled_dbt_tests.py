"""dbt data tests run as plain SQL, compiled once per warehouse and test session.

Why: `dbt test --select <test>` pays a dbt parse (~8 s on 2 cores) per call, and a module that
shows twenty breakages, each refused by exactly the check that describes it, would spend
minutes parsing. `dbt compile` renders every data test once, with the gate's vars; each breakage
then runs the compiled SQL of the tests it is about (milliseconds). It is the SQL `dbt test`
runs (the `where` config included), and a test fails as dbt's default `fail_calc` decides: when
it returns at least one row. `tests/e2e/test_gate.py` shows a test refusing through a real
`dbt build`, and tests/integration/test_dbt_canvass.py through a real `dbt test`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg

from scrutin.config import DBT_PROJECT_DIR, dsn_parts


@dataclass(frozen=True)
class CompiledTest:
    """One dbt data test: its name, the models it reads and the SQL that returns its failures."""

    name: str
    sql: str
    severity: str
    # The models (and seeds) the test reads, by name; sources left out.
    reads: tuple[str, ...]
    # The model a generic test is defined on (None for a singular test).
    attached: str | None

    def failures(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(f"select count(*) from ({self.sql}) as dbt_test").fetchone()
        assert row is not None
        return int(row[0])

    def rows(self, conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
        """What the test returns: the rows that break it."""
        return conn.execute(f"select * from ({self.sql}) as dbt_test").fetchall()


@cache
def _manifest(url: str) -> dict[str, Any]:
    """dbt's manifest once every data test and staging view is compiled for `url`."""
    from pipeline.dbt_runner import campaign_vars, run_dbt

    p = dsn_parts(url)
    folder = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"tests-compiled-{p.host}-{p.port}-{p.dbname}")
    target = DBT_PROJECT_DIR / "target" / folder
    selection = ["test_type:data", "path:models/staging"]
    outcome = run_dbt(
        ["compile", "--select", *selection, "--vars", json.dumps(campaign_vars())],
        url,
        target_path=target,
    )
    assert outcome.success, outcome.failed
    manifest: dict[str, Any] = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def _name(unique_id: str) -> str:
    return unique_id.rsplit(".", 1)[-1]


@cache
def compile_data_tests(url: str) -> dict[str, CompiledTest]:
    """Every data test of the project, compiled for the warehouse at `url` (by test name)."""
    tests = {}
    for node in _manifest(url)["nodes"].values():
        if node["resource_type"] != "test" or not node.get("compiled_code"):
            continue
        tests[node["name"]] = CompiledTest(
            name=node["name"],
            sql=node["compiled_code"],
            severity=node["config"]["severity"].lower(),
            reads=tuple(
                _name(n) for n in node["depends_on"]["nodes"] if not n.startswith("source.")
            ),
            attached=_name(node["attached_node"]) if node.get("attached_node") else None,
        )
    return tests


def ensure_staging_views(conn: psycopg.Connection[Any], url: str, *models: str) -> None:
    """Create the staging views `models` as dbt does, when no build made them yet: tests that
    write `raw` rows by hand then read them through the views the marts' tests read."""
    nodes = _manifest(url)["nodes"]
    for model in models:
        node = nodes[f"model.scrutin.{model}"]
        row = conn.execute("select to_regclass(%s)", (node["relation_name"],)).fetchone()
        if row is None or row[0] is None:
            conn.execute(f'create schema if not exists "{node["schema"]}"')
            conn.execute(f"create view {node['relation_name']} as {node['compiled_code']}")


def ensure_territory_model(url: str) -> None:
    """Build the territory model (and what it reads) when no earlier build left it: a module run
    alone has no dbt-built relation, and every mart's tests read this one."""

    with psycopg.connect(url) as conn:
        row = conn.execute("select to_regclass('intermediate.int_territory__bureaux')").fetchone()
    if row is not None and row[0] is not None:
        return
    from pipeline.dbt_runner import run_dbt

    selection = ["--select", "+int_territory__bureaux"]
    kinds = ["--resource-type", "model", "--resource-type", "seed"]
    built = run_dbt(["build", *selection, *kinds], url)
    assert built.success, built.failed


def data_tests_of(
    url: str, models: Iterable[str], present: Iterable[str] = ()
) -> dict[str, CompiledTest]:
    """The data tests of `models`: the generic tests defined on them, and the singular tests
    that read them and no model but those and the `present` ones (a test reading a relation
    the caller did not build would fail for that reason alone)."""
    wanted = set(models)
    # Every build of a mart builds the territory model first (each mart reads it), and the
    # completeness tests read it to skip the bureaux the campaign's territory leaves out.
    ensure_territory_model(url)
    available = wanted | set(present) | {"int_territory__bureaux"}
    return {
        name: test
        for name, test in compile_data_tests(url).items()
        if test.attached in wanted
        or (test.attached is None and wanted & set(test.reads) and set(test.reads) <= available)
    }


def failing(
    conn: psycopg.Connection[Any], tests: dict[str, CompiledTest], severity: str = "error"
) -> dict[str, int]:
    """Name -> number of failing rows, for each test of `severity` that fails now."""
    counts = {name: t.failures(conn) for name, t in tests.items() if t.severity == severity}
    return {name: n for name, n in counts.items() if n}
