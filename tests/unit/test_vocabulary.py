"""The shared vocabulary is read from dbt_project.yml once, and refuses a broken definition."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scrutin import vocabulary
from scrutin.vocabulary import DBT_PROJECT_FILE


def test_python_reads_the_lists_dbt_builds_from() -> None:
    dbt_vars = yaml.safe_load(DBT_PROJECT_FILE.read_text(encoding="utf-8"))["vars"]
    assert tuple(dbt_vars["blocs"]) == vocabulary.BLOCS
    assert tuple(dbt_vars["roll_age_bands"]) == vocabulary.AGE_BANDS
    assert tuple(dbt_vars["canvass_topics"]) == vocabulary.TOPICS
    assert tuple(dbt_vars["canvass_outcomes"]) == vocabulary.OUTCOMES
    assert dbt_vars["k_min"] == vocabulary.DEFAULT_K_MIN


def test_the_roll_age_band_follows_the_vocabulary() -> None:
    from ingestion.sources.roll import age_band

    assert [age_band(a) for a in (17, 18, 24, 25, 49, 50, 74, 75, 104)] == [
        "18-24", "18-24", "18-24", "25-34", "35-49", "50-64", "65-74", "75+", "75+",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("canvass_topics", [], "vars.canvass_topics must be a non-empty list"),
        ("blocs", ["left", "left"], "vars.blocs lists a name twice"),
        ("roll_age_bands", "18-24", "vars.roll_age_bands must be a non-empty list"),
        ("canvass_outcomes", ["moved", 3], "vars.canvass_outcomes must be a non-empty list"),
    ],
)
def test_a_broken_list_is_refused_naming_the_file_and_var(
    key: str, value: object, message: str
) -> None:
    source = Path("/somewhere/dbt_project.yml")
    with pytest.raises(vocabulary.VocabularyError, match=f"^{source}: {message}"):
        vocabulary.names({key: value}, key, source)


@pytest.mark.parametrize("value", [0, -3, True, "11", None])
def test_k_min_must_be_a_whole_number_of_at_least_one(value: object) -> None:
    with pytest.raises(vocabulary.VocabularyError, match=r"vars\.k_min must be a whole number"):
        vocabulary.k_min({"k_min": value})
    assert vocabulary.k_min({"k_min": 5}) == 5
