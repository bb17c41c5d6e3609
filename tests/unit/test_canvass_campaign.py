"""Campaign configuration: validated with errors naming the file and the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scrutin.campaign import (
    DEFAULT_CAMPAIGN_CONFIG,
    Campaign,
    CampaignConfigError,
    campaign_config_path,
    load_campaign,
)

GOOD = "campaign_id: brest_2027\nelection_date: 2027-04-11\ncampaign_start: 2026-09-01\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campaign.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_config_loads() -> None:
    campaign = load_campaign(DEFAULT_CAMPAIGN_CONFIG)
    assert campaign.retention_days == 30
    assert campaign.k_min == 11
    assert campaign.campaign_start < campaign.election_date


def test_defaults_and_derived_instants(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, GOOD))
    assert (campaign.retention_days, campaign.k_min) == (30, 11)
    # Retention ends at midnight Paris at the end of 2027-05-11 (election + 30 days).
    assert campaign.retention_ends_at == dt.datetime(2027, 5, 11, 22, 0, tzinfo=dt.UTC)
    assert campaign.window_start == dt.datetime(2026, 8, 31, 22, 0, tzinfo=dt.UTC)
    assert campaign.window_end == dt.datetime(2027, 4, 11, 22, 0, tzinfo=dt.UTC)


def test_env_variable_points_at_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, GOOD + "k_min: 15\n")
    monkeypatch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(path))
    assert campaign_config_path() == path
    assert load_campaign().k_min == 15


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("election_date: 2027-04-11\ncampaign_start: 2026-09-01\n", "campaign_id", "required"),
        (GOOD.replace("brest_2027", "Brest 2027"), "campaign_id", "lower-case"),
        (GOOD.replace("2027-04-11", "11/04/2027"), "election_date", "YYYY-MM-DD"),
        (GOOD.replace("2026-09-01", "2027-05-01"), "campaign_start", "after election_date"),
        (GOOD + "retention_days: -1\n", "retention_days", "out of range"),
        (GOOD + "retention_days: thirty\n", "retention_days", "whole number"),
        (GOOD + "k_min: true\n", "k_min", "whole number"),
        (GOOD + "kmin: 11\n", "kmin", "unknown key"),
    ],
)
def test_invalid_values_name_file_and_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CampaignConfigError) as err:
        load_campaign(path)
    assert err.value.key == key
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignConfigError, match="SCRUTIN_CAMPAIGN_CONFIG"):
        load_campaign(tmp_path / "nope.yml")


def test_params_hash_is_stable_and_sensitive() -> None:
    base = Campaign("c1", dt.date(2027, 4, 11), dt.date(2026, 9, 1))
    same = Campaign("c1", dt.date(2027, 4, 11), dt.date(2026, 9, 1), 30, 11)
    other = Campaign("c1", dt.date(2027, 4, 11), dt.date(2026, 9, 1), 30, 12)
    assert base.params_hash() == same.params_hash()
    assert len(base.params_hash()) == 64
    assert base.params_hash() != other.params_hash()
