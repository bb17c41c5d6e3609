"""The roll aggregation decides each distinct categorical cell once: the answers and the errors
(file, line, column, no value) stay those of deciding every line; the mapping YAML is parsed once
per content."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.errors import SourceFormatError
from ingestion.sources.reu import normalise_address
from ingestion.sources.roll import aggregate_roll, load_mapping
from tests.fixtures.roll.roll_layout import elector, write_extract

NAME = "ListesElecteursActifs-com29999-10-06-2024-09h30.csv"


@pytest.mark.parametrize(
    "parts",
    [
        ["3", "Rue de la Paix", "", "29999", "VILLE-TEST"],
        ["3 bis", "  rue  d'Œillet ", "Lieu-dit Kerß", "29999", "Brélès"],
        ["", "", "", "", ""],
        ["½", "Straße", "—", "29 999", "Ville"],
        ["12", "Пушкина", "", "", "ÉCOLE"],
    ],
)
def test_door_parts_normalised_apart_join_to_the_whole(parts: list[str]) -> None:
    whole = normalise_address(" ".join(parts))
    apart = " ".join(n for n in (normalise_address(p) for p in parts) if n)
    assert apart == whole


def test_a_later_bad_list_type_is_still_refused_on_its_line(tmp_path: Path) -> None:
    path = write_extract(
        tmp_path / NAME,
        [
            elector("0001", "F", "01/01/1980", street="Rue A"),
            elector("0001", "M", "01/01/1981", street="Rue A"),
            elector("0001", "M", "01/01/1982", street="Rue A", list_type="Liste bizarre"),
        ],
    )
    with pytest.raises(SourceFormatError) as info:
        aggregate_roll(path)
    assert (info.value.line, info.value.column) == (4, "libellé du type de liste")
    assert "bizarre" not in str(info.value)


def test_every_line_of_an_unknown_bureau_is_rejected_with_its_own_number(tmp_path: Path) -> None:
    path = write_extract(
        tmp_path / NAME,
        [
            elector("0001", "F", "01/01/1980", street="Rue A"),
            elector("0009", "M", "01/01/1981", street="Rue A"),
            elector("0001", "M", "01/01/1982", street="Rue B"),
            elector("0009", "F", "01/01/1983", street="Rue B"),
            elector("", "F", "01/01/1984", street="Rue B"),
        ],
    )
    result = aggregate_roll(path, known_bureaux={"29999_0001"})
    assert [(r.line, r.column) for r in result.rejected] == [
        (3, "code du bureau de vote"),
        (5, "code du bureau de vote"),
        (6, "code du bureau de vote"),
    ]
    assert result.electors_counted == 2
    assert result.doors == {("29999", "0001"): 2}


def test_the_mapping_is_parsed_once_per_content(tmp_path: Path) -> None:
    import yaml

    from ingestion.sources.roll import DEFAULT_MAPPING

    path = tmp_path / "mapping.yml"
    document = {**DEFAULT_MAPPING, "fields": dict(DEFAULT_MAPPING["fields"])}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    first = load_mapping(path)
    assert load_mapping(path) is first
    document["separator"] = ";"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    changed = load_mapping(path)
    assert (first.separator, changed.separator) == ("auto", ";")
