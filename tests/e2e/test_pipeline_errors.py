"""A gate stage that crashes is recorded as `error`, not left `running`; bad plan budgets."""

from __future__ import annotations

import math
from pathlib import Path

import psycopg
import pytest

from pipeline.build_lock import owning_build
from pipeline.commands.plan import PlanError, make_plan
from pipeline.gate import fit_scores
from scrutin.campaign import CampaignConfigError
from tests.conftest import ROOT

pytestmark = [pytest.mark.db]


def test_a_crashing_stage_marks_the_gate_run_as_error(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "campaign.yml"
    text = (ROOT / "config" / "campaign.yml").read_text(encoding="utf-8")
    assert "\n  kappa: 20" in text
    broken.write_text(text.replace("\n  kappa: 20", "\n  tau: 7\n  kappa: 20"), encoding="utf-8")
    monkeypatch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(broken))
    with (
        owning_build(warehouse_url, "test-crashing-stage"),
        pytest.raises(CampaignConfigError, match=r"scores\.tau"),
    ):
        fit_scores(warehouse_url, "test-crashing-stage")
    row = conn.execute(
        "select status, failed_checks from ops.gate_runs where run_id = 'test-crashing-stage'"
    ).fetchone()
    assert row is not None
    assert row[0] == "error"
    assert row[1][0].startswith("fit_scores: ") and "scores.tau" in row[1][0]


@pytest.mark.parametrize("hours", [math.nan, math.inf, -1.0])
def test_plan_refuses_a_budget_that_is_not_a_finite_positive_number(
    warehouse_url: str, hours: float
) -> None:
    with pytest.raises(PlanError, match="finite number >= 0"):
        make_plan(warehouse_url, hours)
