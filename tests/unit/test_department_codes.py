"""Every official département code is accepted everywhere a commune or a bureau is checked.

Issue 15: a national presidential or legislative file holds bureaux of every département,
overseas (971..978, 986..988) and French people abroad (`ZZ`). Each place that checks a commune
code or a bureau key (loaders, GX suites, dbt tests, campaign territory) must accept all of them,
or the whole national file is refused somewhere. The patterns live once, in the vars of
dbt/dbt_project.yml; this test pins that every checker reads them and accepts every code.
"""

from __future__ import annotations

import re

import pytest

from expectations import suites, suites_geo, suites_roll
from ingestion.canvass import fields
from ingestion.geo import layouts
from ingestion.sources import reu, roll
from ingestion.sources.results_codes import normalise_insee_commune
from scrutin import campaign, vocabulary
from scrutin.config import DBT_PROJECT_DIR

# INSEE départements: 01-19, 2A, 2B, 21-95; overseas departments and collectivities; abroad.
DEPARTEMENTS = (
    *(f"{n:02d}" for n in range(1, 20)),
    "2A",
    "2B",
    *(f"{n:02d}" for n in range(21, 96)),
    *(str(n) for n in range(971, 979)),
    "986",
    "987",
    "988",
    "ZZ",
)


def commune_of(dep: str) -> str:
    """A 5-character commune code of `dep` (its first commune: 29001, 2A001, 97101, ZZ001)."""
    return (dep + "001")[:5] if len(dep) == 2 else dep + "01"


COMMUNES = tuple(commune_of(d) for d in DEPARTEMENTS)


def test_the_list_is_the_official_one() -> None:
    assert len(DEPARTEMENTS) == 96 + 8 + 3 + 1  # metropolitan, 971-978, 986-988, abroad
    assert "20" not in DEPARTEMENTS


@pytest.mark.parametrize("commune", COMMUNES)
def test_every_commune_code_checker_accepts_every_departement(commune: str) -> None:
    anchored = (
        vocabulary.COMMUNE_CODE_REGEX,
        suites_roll.CODE_COMMUNE_REGEX,
        suites_geo.CODE_COMMUNE_REGEX,
    )
    for pattern in anchored:
        assert re.match(pattern, commune), pattern
    for compiled in (
        fields._COMMUNE,
        layouts.CODE_COMMUNE_REGEX,
        reu._CODE_COMMUNE,
        roll._CODE_COMMUNE,
        campaign.COMMUNE_PATTERN,
    ):
        assert compiled.fullmatch(commune), compiled.pattern
    assert normalise_insee_commune(commune) == commune


@pytest.mark.parametrize("commune", COMMUNES)
def test_every_bureau_key_checker_accepts_every_departement(commune: str) -> None:
    for code in ("0001", "A12"):
        bureau_id = f"{commune}_{code}"
        assert re.match(vocabulary.BUREAU_ID_REGEX, bureau_id)
        assert re.match(suites.BUREAU_ID_REGEX, bureau_id)
        assert roll._BUREAU_ID.fullmatch(bureau_id)
        assert re.match(suites_roll.REU_ID_REGEX, f"{commune}_{code}")
    assert fields.bureau(f"{commune}_1", "bureau") == f"{commune}_0001"
    assert fields.bureau_from_parts(commune, "2", ("c", "b")) == f"{commune}_0002"


@pytest.mark.parametrize("bad", ["2C001_0001", "ZZ01_0001", "29001_1", "29001_", "za001_0001"])
def test_the_bureau_key_still_refuses_what_no_source_writes(bad: str) -> None:
    assert not re.match(vocabulary.BUREAU_ID_REGEX, bad)


def test_no_dbt_model_spells_the_patterns_out() -> None:
    """dbt tests read vars.bureau_id_pattern / commune_code_pattern: none hard-codes its own."""
    models = DBT_PROJECT_DIR / "models"
    spelled = [
        str(path.relative_to(DBT_PROJECT_DIR))
        for path in sorted(models.rglob("*"))
        if path.suffix in {".yml", ".sql"} and "2[AB][0-9]{3}" in path.read_text(encoding="utf-8")
    ]
    assert spelled == []


def test_a_pattern_var_must_be_anchored() -> None:
    with pytest.raises(vocabulary.VocabularyError, match="bureau_id_pattern"):
        vocabulary.anchored_pattern({"bureau_id_pattern": "[0-9]{5}"}, "bureau_id_pattern")
    with pytest.raises(vocabulary.VocabularyError, match="not a valid pattern"):
        vocabulary.anchored_pattern({"p": "^([0-9]$"}, "p")
