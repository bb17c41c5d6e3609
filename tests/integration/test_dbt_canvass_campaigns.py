"""Two campaigns in one warehouse whose apps reuse the same knock ids.

int_canvass__knock_versions ranks a knock's versions within its campaign (two campaigns' knocks
never compete), so the same export landed for two campaigns gives each campaign its own
counted knocks. The knock-level tests of int_canvass__knocks must key on the campaign too:
keyed on (source, knock_id) alone, they failed such a build.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import psycopg
import pytest

from ingestion.canvass.loader import load_canvass_file
from pipeline.dbt_runner import build
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET

pytestmark = [pytest.mark.db, pytest.mark.slow]

OTHER = dataclasses.replace(CAMPAIGN, campaign_id="test_29_2027_other")


@pytest.fixture(scope="module")
def two_campaigns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = support.fresh_warehouse("canvass_campaigns")
    # the same knocks in other bytes: the same file again would be skipped as already loaded
    other_export = tmp_path_factory.mktemp("campaigns") / "qomon_other_campaign.csv"
    other_export.write_bytes(support.QOMON.read_bytes() + b"\r\n")
    reports = [
        load_canvass_file(url, path, campaign=campaign, secret=SECRET, now=NOW)
        for path, campaign in ((support.QOMON, CAMPAIGN), (other_export, OTHER))
    ]
    outcome = build(
        url,
        f"canvass-campaigns-{uuid.uuid4().hex[:8]}",
        select="+int_canvass__knocks",
        indirect_selection="cautious",
    )
    return {"url": url, "reports": reports, "build": outcome}


def test_both_campaigns_land_the_same_export(two_campaigns: dict[str, Any]) -> None:
    first, other = two_campaigns["reports"]
    assert first.status == other.status == "loaded"
    assert first.rows_loaded == other.rows_loaded > 0


def test_the_build_passes_and_counts_each_campaigns_knocks(two_campaigns: dict[str, Any]) -> None:
    outcome = two_campaigns["build"]
    failed = [
        (r.unique_id, r.status)
        for r in outcome.results
        if r.status not in ("success", "pass", "warn")
    ]
    assert failed == []
    assert outcome.success
    with psycopg.connect(two_campaigns["url"]) as conn:
        rows = conn.execute(
            "select campaign_id, source, knock_id from intermediate.int_canvass__knocks"
        ).fetchall()
    by_campaign: dict[str, set[tuple[str, str]]] = {}
    for campaign_id, source, knock_id in rows:
        by_campaign.setdefault(campaign_id, set()).add((source, knock_id))
    assert set(by_campaign) == {CAMPAIGN.campaign_id, OTHER.campaign_id}
    assert by_campaign[CAMPAIGN.campaign_id] == by_campaign[OTHER.campaign_id]
    assert len(rows) == 2 * len(by_campaign[CAMPAIGN.campaign_id])
