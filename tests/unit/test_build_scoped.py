"""Build-scoped dbt models: the purge knows every one of them, and each carries its purge key."""

from __future__ import annotations

import re

from ingestion.canvass.purge import BUILD_SCOPED_TABLES
from scrutin.config import DBT_PROJECT_DIR

TAGGED = re.compile(r"config\([^)]*tags\s*=\s*\[[^\]]*'build_scoped'", re.S)


def _tagged_models() -> dict[str, str]:
    return {
        path.stem: path.read_text()
        for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")
        if TAGGED.search(path.read_text())
    }


def test_the_purge_knows_every_build_scoped_model() -> None:
    # A model tagged build_scoped that the purge does not know would keep purged knocks when a
    # killed build leaves it a table; one the purge knows but dbt does not write is a stale name.
    tagged = _tagged_models()
    assert set(tagged) == {table for _schema, table in BUILD_SCOPED_TABLES}
    assert {schema for schema, _table in BUILD_SCOPED_TABLES} == {"intermediate"}


def test_build_scoped_models_are_tables_keyed_by_their_landed_row() -> None:
    for name, sql in _tagged_models().items():
        assert "materialized='table'" in sql, name
        final = sql[sql.rindex("final as") :] if "final as" in sql else sql
        assert re.search(r"\bbatch_id\b", final) and re.search(r"\bline_no\b", final), name


def test_every_invocation_puts_them_back_as_views() -> None:
    project = (DBT_PROJECT_DIR / "dbt_project.yml").read_text()
    assert "restore_build_scoped_views(results)" in project.split("models:", 1)[0]
