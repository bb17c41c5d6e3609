"""`territory:` of the campaign file: parsed, normalised, refused with the file and key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrutin.campaign import CampaignConfigError, Territory, load_campaign

BASE = "campaign_id: brest_2027\nelection_date: 2027-04-11\ncampaign_start: 2026-09-01\n"


def write(tmp_path: Path, territory_yaml: str) -> Path:
    path = tmp_path / "campaign.yml"
    path.write_text(BASE + territory_yaml, encoding="utf-8")
    return path


def test_no_territory_is_the_whole_loaded_data(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, ""))
    assert campaign.territory is None
    # The hash of a campaign without territory is the one it had before territories existed.
    assert "territory" not in campaign.as_dict()


def test_every_kind_is_parsed_and_normalised(tmp_path: Path) -> None:
    campaign = load_campaign(
        write(
            tmp_path,
            "territory:\n"
            "  constituencies: ['29-2', 2a-01, 974-05, ZZ-11, '29-02']\n"
            "  communes: ['29019', 2a004, '97411', ZZ001]\n"
            "  departements: ['01', 29, 2B, '971', zz]\n",
        )
    )
    territory = campaign.territory
    assert territory == Territory(
        communes=("29019", "2A004", "97411", "ZZ001"),
        constituencies=("29-02", "2A-01", "974-05", "ZZ-11"),
        departements=("01", "29", "2B", "971", "ZZ"),
    )
    assert ("constituency", "29-02") in territory.rows()
    assert len(territory.rows()) == 4 + 4 + 5  # duplicates (29-2 / 29-02) dropped


def test_a_single_code_may_be_written_without_a_list(tmp_path: Path) -> None:
    campaign = load_campaign(write(tmp_path, "territory:\n  constituencies: 29-02\n"))
    assert campaign.territory == Territory(constituencies=("29-02",))
    assert campaign.territory.describe() == "constituency 29-02"


def test_the_territory_changes_the_campaign_hash(tmp_path: Path) -> None:
    one = load_campaign(write(tmp_path, "territory:\n  constituencies: ['29-02']\n"))
    other = load_campaign(write(tmp_path, "territory:\n  constituencies: ['29-03']\n"))
    same = load_campaign(write(tmp_path, "territory:\n  constituencies: ['29-2']\n"))
    assert one.params_hash() != other.params_hash()
    assert one.params_hash() == same.params_hash()


@pytest.mark.parametrize(
    ("territory_yaml", "key", "fragment"),
    [
        ("territory:\n", "territory", "expected a mapping"),
        ("territory: {}\n", "territory", "expected a mapping"),
        ("territory: ['29-02']\n", "territory", "expected a mapping"),
        ("territory:\n  cantons: ['2901']\n", "territory.cantons", "unknown kind"),
        ("territory:\n  communes: []\n", "territory.communes", "non-empty list"),
        ("territory:\n  communes:\n", "territory.communes", "non-empty list"),
        ("territory:\n  communes: ['2901']\n", "territory.communes[0]", "not a commune code"),
        ("territory:\n  communes: ['29019', 29075]\n", "territory.communes[1]", "quote the code"),
        ("territory:\n  communes: ['75113']\n", "territory.communes[0]", "75056 (Paris)"),
        ("territory:\n  communes: ['69383']\n", "territory.communes[0]", "69123 (Lyon)"),
        ("territory:\n  constituencies: ['2902']\n", "territory.constituencies[0]", "29-02"),
        ("territory:\n  constituencies: ['29-00']\n", "territory.constituencies[0]", "not a"),
        ("territory:\n  constituencies: ['20-01']\n", "territory.constituencies[0]", "not a"),
        ("territory:\n  constituencies: ['29-123']\n", "territory.constituencies[0]", "not a"),
        ("territory:\n  departements: ['96']\n", "territory.departements[0]", "not a dép"),
        ("territory:\n  departements: ['20']\n", "territory.departements[0]", "2A, 2B"),
        ("territory:\n  departements: [01]\n", "territory.departements[0]", "quote the code"),
        ("territory:\n  departements: [true]\n", "territory.departements[0]", "as a string"),
        ("territory:\n  departements: [{a: 1}]\n", "territory.departements[0]", "as a string"),
    ],
)
def test_bad_territories_name_file_and_key(
    tmp_path: Path, territory_yaml: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, territory_yaml)
    with pytest.raises(CampaignConfigError) as err:
        load_campaign(path)
    assert err.value.key == key
    assert str(path) in str(err.value)
    assert fragment in str(err.value)


def test_describe_summarises_long_lists() -> None:
    territory = Territory(communes=tuple(f"290{n:02d}" for n in range(1, 8)), departements=("29",))
    assert territory.describe() == (
        "7 communes (29001, 29002, 29003, 29004, 29005, ...) + département 29"
    )
