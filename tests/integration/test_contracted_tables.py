"""Contracted tables written by `create table ... as` (dbt/macros/contracted_tables.sql).

A throwaway dbt project, with the project's macro file and the project's profile, builds small
contracted models on the test warehouse: the macro must keep every promise of dbt's own contract
path (declared types, not-null columns, a null or a mismatched type failing the model) while
writing with `create table ... as`, add column checks in the same pass, and leave any other
constraint to dbt-postgres' path.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from pipeline.dbt_runner import DbtOutcome, run_dbt
from scrutin.config import DBT_PROJECT_DIR

pytestmark = [pytest.mark.db, pytest.mark.slow]

MACRO = DBT_PROJECT_DIR / "macros" / "contracted_tables.sql"


def _contract(name: str, columns: list[dict[str, object]], **extra: object) -> dict[str, object]:
    return {"name": name, "config": {"contract": {"enforced": True}}, "columns": columns, **extra}


MODELS = {
    # two not-null columns, one nullable
    "probe_ok": (
        "select cast(1 as integer) as id, 'a' as label, cast(null as double precision) as share",
        _contract(
            "probe_ok",
            [
                {"name": "id", "data_type": "integer", "constraints": [{"type": "not_null"}]},
                {"name": "label", "data_type": "text", "constraints": [{"type": "not_null"}]},
                {"name": "share", "data_type": "double precision"},
            ],
        ),
    ),
    "probe_null": (
        "select cast(null as integer) as id",
        _contract(
            "probe_null",
            [{"name": "id", "data_type": "integer", "constraints": [{"type": "not_null"}]}],
        ),
    ),
    "probe_mismatch": (
        "select 'not a number' as id",
        _contract("probe_mismatch", [{"name": "id", "data_type": "integer"}]),
    ),
    # column checks, named and not, written by `create table ... as`; a null passes a check
    "probe_check": (
        "select * from (values (2, 1), (3, null)) as v (id, part)",
        _contract(
            "probe_check",
            [
                {
                    "name": "id",
                    "data_type": "integer",
                    "constraints": [
                        {"type": "not_null"},
                        {"type": "check", "name": "id_positive", "expression": "id > 0"},
                    ],
                },
                {
                    "name": "part",
                    "data_type": "integer",
                    "constraints": [{"type": "check", "expression": "part <= id"}],
                },
            ],
        ),
    ),
    # a row failing a check fails the model
    "probe_check_fails": (
        "select * from (values (2, 1), (3, 4)) as v (id, part)",
        _contract(
            "probe_check_fails",
            [
                {"name": "id", "data_type": "integer"},
                {
                    "name": "part",
                    "data_type": "integer",
                    "constraints": [
                        {"type": "check", "name": "part_not_above_id", "expression": "part <= id"}
                    ],
                },
            ],
        ),
    ),
    # a primary key: dbt-postgres' own path (create table with constraints, then insert)
    "probe_primary_key": (
        "select cast(2 as integer) as id",
        _contract(
            "probe_primary_key",
            [
                {
                    "name": "id",
                    "data_type": "integer",
                    "constraints": [{"type": "not_null"}, {"type": "primary_key"}],
                }
            ],
        ),
    ),
}


@pytest.fixture(scope="module")
def probe(
    tmp_path_factory: pytest.TempPathFactory, warehouse_url: str, db: psycopg.Connection
) -> Iterator[tuple[str, DbtOutcome, Path]]:
    root = tmp_path_factory.mktemp("contract_probe")
    schema_suffix = f"probe_{uuid.uuid4().hex[:8]}"
    (root / "macros").mkdir()
    shutil.copy(MACRO, root / "macros" / MACRO.name)
    (root / "models").mkdir()
    (root / "dbt_project.yml").write_text(
        yaml.safe_dump(
            {
                "name": "contract_probe",
                "version": "0.1.0",
                "config-version": 2,
                "profile": "scrutin",
                "model-paths": ["models"],
                "macro-paths": ["macros"],
                "models": {"contract_probe": {"+materialized": "table", "+schema": schema_suffix}},
            }
        ),
        encoding="utf-8",
    )
    for name, (sql, node) in MODELS.items():
        (root / "models" / f"{name}.sql").write_text(sql + "\n", encoding="utf-8")
        (root / "models" / f"{name}.yml").write_text(
            yaml.safe_dump({"version": 2, "models": [node]}), encoding="utf-8"
        )
    target = root / "target"
    outcome = run_dbt(
        ["run", "--project-dir", str(root)],
        warehouse_url,
        target_path=target,
        log_path=root / "logs",
    )
    # the profile's schema `staging` + the custom one (dbt's default generate_schema_name)
    schema = f"staging_{schema_suffix}"
    yield schema, outcome, target
    with db.cursor() as cur:
        cur.execute(f'drop schema if exists "{schema}" cascade')
    db.commit()


def _result(outcome: DbtOutcome, model: str) -> tuple[str, str]:
    """The model's dbt status and message."""
    (result,) = [r for r in outcome.results if r.unique_id == f"model.contract_probe.{model}"]
    return str(result.status), str(result.message or "")


def _exists(db: psycopg.Connection, schema: str, table: str) -> bool:
    with db.cursor() as cur:
        cur.execute("select to_regclass(%s) is not null", (f'"{schema}"."{table}"',))
        return bool((cur.fetchone() or [False])[0])


def _run_sql(target: Path, model: str) -> str:
    (path,) = target.glob(f"run/contract_probe/models/{model}.sql")
    return path.read_text(encoding="utf-8").lower()


def _columns(db: psycopg.Connection, schema: str, table: str) -> dict[str, tuple[str, bool]]:
    with db.cursor() as cur:
        cur.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
            "from pg_attribute a where a.attrelid = %s::regclass "
            "and a.attnum > 0 and not a.attisdropped order by a.attnum",
            (f'"{schema}"."{table}"',),
        )
        return {name: (kind, not_null) for name, kind, not_null in cur.fetchall()}


def test_contracted_table_has_declared_types_and_not_null_columns(
    probe: tuple[str, DbtOutcome, Path], db: psycopg.Connection
) -> None:
    schema, outcome, target = probe
    assert _result(outcome, "probe_ok")[0] == "success"
    assert _exists(db, schema, "probe_ok")
    assert _columns(db, schema, "probe_ok") == {
        "id": ("integer", True),
        "label": ("text", True),
        "share": ("double precision", False),
    }
    with db.cursor() as cur:
        cur.execute(f'select id, label, share from "{schema}".probe_ok')
        assert cur.fetchall() == [(1, "a", None)]
    sql = _run_sql(target, "probe_ok")
    # written by `create table ... as`, its constraints added after: no insert
    assert '__dbt_tmp" as (' in sql
    assert "insert into" not in sql
    assert "alter column id set not null" in sql


def test_a_null_in_a_not_null_column_fails_the_model(
    probe: tuple[str, DbtOutcome, Path], db: psycopg.Connection
) -> None:
    schema, outcome, _ = probe
    assert not outcome.success
    status, message = _result(outcome, "probe_null")
    assert status == "error"
    assert "contains null values" in message
    assert not _exists(db, schema, "probe_null")


def test_a_type_the_contract_does_not_declare_fails_before_any_write(
    probe: tuple[str, DbtOutcome, Path], db: psycopg.Connection
) -> None:
    schema, outcome, _ = probe
    status, message = _result(outcome, "probe_mismatch")
    assert status == "error"
    assert "contract" in message.lower()
    assert not _exists(db, schema, "probe_mismatch")


def _checks(db: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    with db.cursor() as cur:
        cur.execute(
            "select conname, pg_get_constraintdef(oid) from pg_constraint "
            "where conrelid = %s::regclass and contype = 'c' order by conname",
            (f'"{schema}"."{table}"',),
        )
        return [(str(name), str(definition)) for name, definition in cur.fetchall()]


def test_column_checks_are_added_to_the_table_written_by_create_table_as(
    probe: tuple[str, DbtOutcome, Path], db: psycopg.Connection
) -> None:
    schema, outcome, target = probe
    assert _result(outcome, "probe_check")[0] == "success"
    sql = _run_sql(target, "probe_check")
    assert '__dbt_tmp" as (' in sql
    assert "insert into" not in sql
    assert _columns(db, schema, "probe_check") == {
        "id": ("integer", True),
        "part": ("integer", False),
    }
    checks = _checks(db, schema, "probe_check")
    assert ("id_positive", "CHECK ((id > 0))") in checks
    # the unnamed one takes PostgreSQL's name
    assert [d for _n, d in checks if "part" in d] == ["CHECK ((part <= id))"]
    with db.cursor() as cur:
        cur.execute(f'select id, part from "{schema}".probe_check order by id')
        assert cur.fetchall() == [(2, 1), (3, None)]
        # the rule holds after the build too: an UPDATE breaking it is refused
        with pytest.raises(psycopg.errors.CheckViolation):
            cur.execute(f'update "{schema}".probe_check set part = 9 where id = 2')
    db.rollback()


def test_a_row_failing_a_check_fails_the_model_naming_the_rule(
    probe: tuple[str, DbtOutcome, Path], db: psycopg.Connection
) -> None:
    schema, outcome, _ = probe
    status, message = _result(outcome, "probe_check_fails")
    assert status == "error"
    assert "part_not_above_id" in message
    assert "violated" in message
    assert not _exists(db, schema, "probe_check_fails")


def test_other_constraints_take_dbt_postgres_own_path(
    probe: tuple[str, DbtOutcome, Path], db: psycopg.Connection
) -> None:
    schema, outcome, target = probe
    assert _result(outcome, "probe_primary_key")[0] == "success"
    assert "insert into" in _run_sql(target, "probe_primary_key")
    assert _columns(db, schema, "probe_primary_key") == {"id": ("integer", True)}
    with db.cursor() as cur:
        cur.execute(
            "select contype from pg_constraint where conrelid = %s::regclass",
            (f'"{schema}".probe_primary_key',),
        )
        assert cur.fetchall() == [("p",)]
