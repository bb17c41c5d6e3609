"""The pure parts of the build plan: which mart relations an incremental build rebuilds (from a
dbt manifest), how inputs group into sources, and what the publication log keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import build_plan


def _model(name: str, schema: str, materialized: str = "table", tags: list[str] | None = None):
    return {
        "name": name,
        "alias": name,
        "resource_type": "model",
        "schema": schema,
        "tags": tags or [],
        "config": {"materialized": materialized},
    }


def _manifest(tmp_path: Path) -> Path:
    nodes = {
        "model.scrutin.stg_canvass__knocks": _model("stg_canvass__knocks", "staging", "view"),
        "model.scrutin.canvass_progress": _model("canvass_progress", "mart_audit"),
        "model.scrutin.polling_stations": _model("polling_stations", "mart_audit"),
        "model.scrutin.targeting": _model("targeting", "mart_audit", tags=["scores"]),
        "model.scrutin.backtest_runs": _model("backtest_runs", "mart_audit", "view"),
        "test.scrutin.some_test": {"name": "some_test", "resource_type": "test"},
    }
    child_map = {
        "source.scrutin.canvass.canvass_knocks": ["model.scrutin.stg_canvass__knocks"],
        "model.scrutin.stg_canvass__knocks": [
            "model.scrutin.canvass_progress",
            "test.scrutin.some_test",
        ],
        "source.scrutin.elections.results": ["model.scrutin.polling_stations"],
    }
    sources = {
        "source.scrutin.canvass.canvass_knocks": {"source_name": "canvass"},
        "source.scrutin.elections.results": {"source_name": "elections"},
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"nodes": nodes, "child_map": child_map, "sources": sources}))
    return path


def test_rebuilt_marts_are_canvass_dependents_score_marts_and_views(tmp_path: Path) -> None:
    marts = build_plan.rebuilt_marts(_manifest(tmp_path))
    assert marts.tables == ["canvass_progress", "targeting"]
    assert marts.views == ["backtest_runs"]
    assert marts.selection == "source:canvass+ backtest_runs"


def test_no_manifest_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        build_plan.rebuilt_marts(tmp_path / "missing.json")


def test_canvass_inputs_group_together_and_others_stand_alone() -> None:
    changed = ["raw.canvass_knocks", "ops.canvass_campaigns", "ledger:canvass", "code"]
    assert build_plan._others(changed) == ["code"]
    assert build_plan._others(["ledger:elections"]) == ["ledger:elections"]
    assert build_plan._moved({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "1"}) == ["b", "c"]


def test_the_publication_log_keeps_mode_reason_and_selection_not_inputs() -> None:
    plan = build_plan.BuildPlan(
        "incremental",
        "only the canvass data changed",
        {"code": "x"},
        ["raw.canvass_knocks"],
        "source:canvass+",
        "r1",
    )
    assert build_plan.as_summary(plan) == {
        "build_mode": "incremental",
        "build_reason": "only the canvass data changed",
        "build_changed": ["raw.canvass_knocks"],
        "build_selection": "source:canvass+",
        "build_baseline_run": "r1",
    }


def test_code_digest_moves_with_a_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scrutin.config

    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: x\n")
    model = project / "models" / "m.sql"
    model.write_text("select 1")
    monkeypatch.setattr(scrutin.config, "DBT_PROJECT_DIR", project)
    before = build_plan.code_digest()
    assert build_plan.code_digest() == before
    model.write_text("select 2")
    assert build_plan.code_digest() != before
