"""The bundled demo exports: reproducible, realistic, and showing every kind of bad row."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.canvass import sample
from ingestion.canvass.loader import load_canvass_file
from scrutin.campaign import DEFAULT_CAMPAIGN_CONFIG, load_campaign
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import NOW, SECRET, fetch


def test_sample_is_the_generator_output_byte_for_byte(tmp_path: Path) -> None:
    sample.demo_sample(tmp_path)
    produced = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    bundled = {p.name: p.read_bytes() for p in support.SAMPLE.iterdir() if p.suffix != ".md"}
    assert produced.keys() == bundled.keys()
    assert [n for n in produced if produced[n] != bundled[n]] == []
    assert (support.SAMPLE / "PROVENANCE.md").exists()


@pytest.mark.db
def test_sample_loads_with_every_kind_of_bad_row_and_visible_k_min() -> None:
    """What the loader shows of the sample: every kind of unreadable row in quarantine, and the
    rows the rules will deal with landed as they are. What dbt makes of them (an unknown bureau
    left out, a duplicated contact counted once, each flag) is checked on the demo warehouse by
    tests/e2e/test_published_tables.py (test_the_canvass_rules_on_the_sample)."""
    url = support.fresh_warehouse("canvass_sample")
    campaign = load_campaign(DEFAULT_CAMPAIGN_CONFIG)
    reports = [
        load_canvass_file(url, p, campaign=campaign, secret=SECRET, now=NOW)
        for p in sorted(support.SAMPLE.iterdir())
        if p.suffix != ".md"
    ]
    assert {r.source for r in reports} == {"qomon", "ecanvasser", "nationbuilder", "osdi", "pap"}
    assert all(r.rows_read == r.rows_loaded + r.rows_rejected for r in reports)
    reasons = " | ".join(
        str(r[0]) for r in fetch(url, "select reason from quarantine.canvass_rows")
    )
    for fragment in ("malformed JSON", "unknown qomon outcome label", "future"):
        assert fragment in reasons, fragment
    # An unknown bureau and a contact exported twice land; dbt decides what they count for.
    assert fetch(url, "select count(*) from raw.canvass_knocks where bureau_id = '29019_0999'") == [
        (1,)
    ]
    duplicated = fetch(
        url,
        "select count(*) from (select 1 from raw.canvass_knocks "
        "group by source, knock_id having count(*) > 1) as d",
    )
    assert duplicated[0][0] >= 1
    conversations = dict(
        fetch(
            url,
            "select bureau_id, count(*) from raw.canvass_knocks "
            "where outcome = 'opened_conversation' and bureau_id is not null group by bureau_id",
        )
    )
    k_min = campaign.k_min
    assert sum(1 for n in conversations.values() if n >= k_min) >= 3  # published downstream
    assert sum(1 for n in conversations.values() if 0 < n < k_min) >= 10  # hidden downstream
