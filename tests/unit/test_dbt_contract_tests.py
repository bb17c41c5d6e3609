"""No dbt data test that its model's enforced contract makes unable to fail.

A column with a `not_null` constraint in an enforced contract is written NOT NULL (dbt's contract,
dbt/macros/contracted_tables.sql): the build fails on a null before any test runs, and an UPDATE
setting one is refused by PostgreSQL. A `not_null` data test on that column scans the table
(0.1-0.5 s nationally) and can never fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from scrutin.config import DBT_PROJECT_DIR


def _test_name(test: Any) -> str:
    return test if isinstance(test, str) else next(iter(test))


def redundant_not_null_tests(models_dir: Path) -> list[str]:
    """`<file>: <model>.<column>` of every not_null test a not_null constraint already enforces."""
    found = []
    for path in sorted(models_dir.rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in document.get("models") or []:
            contract = (model.get("config") or {}).get("contract") or {}
            if not contract.get("enforced"):
                continue
            for column in model.get("columns") or []:
                constrained = any(
                    constraint.get("type") == "not_null"
                    for constraint in column.get("constraints") or []
                )
                tests = column.get("data_tests") or column.get("tests") or []
                if constrained and "not_null" in {_test_name(test) for test in tests}:
                    found.append(f"{path.name}: {model['name']}.{column['name']}")
    return found


def test_no_not_null_test_duplicates_a_contract_constraint() -> None:
    assert redundant_not_null_tests(DBT_PROJECT_DIR / "models") == []


def test_the_check_finds_a_duplicate_and_spares_the_others(tmp_path: Path) -> None:
    (tmp_path / "m.yml").write_text(
        yaml.safe_dump(
            {
                "version": 2,
                "models": [
                    {
                        "name": "enforced",
                        "config": {"contract": {"enforced": True}},
                        "columns": [
                            {
                                "name": "both",
                                "constraints": [{"type": "not_null"}],
                                "data_tests": ["not_null", "unique"],
                            },
                            {"name": "test_only", "data_tests": ["not_null"]},
                            {"name": "constraint_only", "constraints": [{"type": "not_null"}]},
                        ],
                    },
                    {
                        "name": "not_enforced",
                        "columns": [
                            {
                                "name": "both",
                                "constraints": [{"type": "not_null"}],
                                "data_tests": [{"not_null": {"config": {"severity": "warn"}}}],
                            }
                        ],
                    },
                ],
            }
        )
    )
    assert redundant_not_null_tests(tmp_path) == ["m.yml: enforced.both"]
