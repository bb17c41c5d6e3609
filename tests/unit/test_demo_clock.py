"""The demo on any date: the bundled demo campaign and its canvass sample move with the clock.

Before: from 2027-05-12 on, the demo campaign's retention had ended, every sample knock was
refused as past retention (and the purge deleted them), so `make demo` and the tests failed.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from ingestion.canvass import dropzone, sample
from scrutin import campaign as campaign_module
from scrutin.campaign import (
    DEFAULT_CAMPAIGN_CONFIG,
    DEMO_MARGIN_DAYS,
    demo_clock_shift,
    load_campaign,
)

DEMO = load_campaign(DEFAULT_CAMPAIGN_CONFIG, anchored=False)


def test_no_shift_while_the_committed_sample_is_live() -> None:
    assert demo_clock_shift(DEMO, dt.date(2026, 12, 5)) == dt.timedelta(0)
    last_quiet_day = DEMO.election_date + dt.timedelta(days=DEMO.retention_days - DEMO_MARGIN_DAYS)
    assert demo_clock_shift(DEMO, last_quiet_day) == dt.timedelta(0)
    assert demo_clock_shift(DEMO, last_quiet_day + dt.timedelta(days=1)) == dt.timedelta(weeks=1)


def test_every_day_for_ten_years_gets_a_live_campaign_with_past_knocks() -> None:
    """For each day: retention ends DEMO_MARGIN_DAYS to +6 days ahead, the week rhythm is kept,
    and the sample's knocks (last one on the anchor) are inside the window and in the past."""
    day = dt.date(2026, 12, 1)
    while day < dt.date(2036, 12, 1):
        shift = demo_clock_shift(DEMO, day)
        moved = DEMO.shifted(shift)
        assert shift.days % 7 == 0
        ends = moved.retention_ends_at.date()
        assert ends > day + dt.timedelta(days=DEMO_MARGIN_DAYS - 1), day
        if shift:
            assert ends <= day + dt.timedelta(days=DEMO_MARGIN_DAYS + 7), day
        last_knock = sample.DEFAULT_ANCHOR + shift
        first_knock = last_knock - dt.timedelta(days=sample.CAMPAIGN_DAYS - 1)
        assert last_knock <= day, day
        assert moved.campaign_start <= first_knock and last_knock <= moved.election_date, day
        day += dt.timedelta(days=11)


def test_load_campaign_moves_only_the_bundled_demo_campaign_in_demo_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(campaign_module, "paris_today", lambda: dt.date(2030, 6, 3))
    monkeypatch.delenv("SCRUTIN_CAMPAIGN_CONFIG", raising=False)
    monkeypatch.delenv("SCRUTIN_DEMO", raising=False)
    assert load_campaign() == DEMO  # not in demo mode: the file as written

    monkeypatch.setenv("SCRUTIN_DEMO", "1")
    moved = load_campaign()
    assert moved.retention_ends_at.date() > dt.date(2030, 6, 3)
    assert moved.campaign_id == DEMO.campaign_id and moved.k_min == DEMO.k_min
    assert (moved.election_date - DEMO.election_date).days % 7 == 0

    other = tmp_path / "campaign.yml"
    other.write_text(DEFAULT_CAMPAIGN_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_campaign(other) == DEMO  # a real campaign's file is never moved


def test_moved_sample_is_regenerated_with_its_dates_moved(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shift = dt.timedelta(weeks=190)
    monkeypatch.setattr(campaign_module, "paris_today", lambda: dt.date(2030, 6, 3))
    monkeypatch.setenv("SCRUTIN_DEMO", "1")
    monkeypatch.setenv("SCRUTIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(campaign_module, "demo_clock_shift", lambda c, today: shift)

    files = dropzone._demo_sample_files()
    bundled = sorted(p.name for p in sample.SAMPLE_DIR.iterdir() if p.suffix != ".md")
    assert [name for _, name in files] == [
        f"{Path(n).stem}+{shift.days}d{Path(n).suffix}" for n in bundled
    ]
    qomon = next(path for path, name in files if name.startswith("qomon_"))
    with qomon.open(encoding="utf-8", newline="") as handle:
        days = sorted(row["Date"][:10] for row in csv.DictReader(handle, delimiter=";"))
    with (sample.SAMPLE_DIR / "qomon_actions_2026-11.csv").open(encoding="utf-8") as handle:
        before = sorted(row["Date"][:10] for row in csv.DictReader(handle, delimiter=";"))
    assert len(days) == len(before)
    assert days[0] == (dt.date.fromisoformat(before[0]) + shift).isoformat()
    # The future-dated knock stays in the future: it is quarantined whatever the date.
    assert dt.date.fromisoformat(days[-1]) > dt.date(2034, 1, 1)
    # Seeded once: a second call reuses the generated folder.
    assert dropzone._demo_sample_files() == files
