"""A city's own export without nuances, read through its candidate -> nuance mapping file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingestion.errors import SourceFormatError
from ingestion.sources.elections import detect_file_layout, iter_results
from ingestion.sources.results_records import identity_issue
from scrutin.config import SAMPLE_DATA_DIR

SAMPLE = SAMPLE_DATA_DIR / "elections" / "legislatives-2022-t1-brest-circo2.csv"
MAPPING = SAMPLE.with_name(SAMPLE.name + ".nuances.yml")


def copy_sample(tmp_path: Path, mapping: str | None = None) -> Path:
    results = tmp_path / SAMPLE.name
    shutil.copyfile(SAMPLE, results)
    target = results.with_name(results.name + ".nuances.yml")
    if mapping is None:
        shutil.copyfile(MAPPING, target)
    else:
        target.write_text(mapping, encoding="utf-8")
    return results


def test_real_brest_2022_export_reads_with_its_mapping() -> None:
    assert detect_file_layout(SAMPLE) == "city_export"
    rows = list(iter_results(SAMPLE))
    # The README's known figures: 78 Brest bureaux, 64 525 registered, 30 491 valid votes.
    assert len(rows) == 78
    assert {r.bureau.code_commune for r in rows} == {"29019"}
    assert sum(r.bureau.inscrits for r in rows) == 64525
    assert sum(r.bureau.exprimes for r in rows) == 30491
    assert all(identity_issue(r) is None for r in rows)
    first = rows[0]
    assert first.bureau.bureau_id == "29019_0104"  # `Numéro` 104, zero-padded like the Ministry
    assert first.bureau.abstentions == 805 - 384
    cadalen = next(c for c in first.candidates if c.nom == "CADALEN")
    assert (cadalen.nuance, cadalen.prenom, cadalen.voix) == ("NUP", "Pierre-Yves", 103)
    le_corre = next(c for c in first.candidates if c.prenom == "Jean-Yves")
    assert le_corre.nom == "LE CORRE"
    totals: dict[str, int] = {}
    for row in rows:
        for c in row.candidates:
            totals[c.nom or ""] = totals.get(c.nom or "", 0) + c.voix
    assert totals["CADALEN"] == 10310 and totals["LARSONNEUR"] == 4389


def test_an_unmapped_candidate_is_refused_naming_file_line_and_candidate(tmp_path: Path) -> None:
    text = MAPPING.read_text(encoding="utf-8")
    results = copy_sample(
        tmp_path, "\n".join(line for line in text.splitlines() if "SALAMI" not in line)
    )
    with pytest.raises(SourceFormatError) as excinfo:
        list(iter_results(results))
    error = excinfo.value
    assert error.path == results and error.line == 1
    assert error.column == "M. SALAMI Réza - votes"
    assert "'M. SALAMI Réza' has no nuance" in error.reason
    assert results.name + ".nuances.yml" in error.reason


def test_a_missing_mapping_file_is_refused(tmp_path: Path) -> None:
    results = tmp_path / SAMPLE.name
    shutil.copyfile(SAMPLE, results)
    with pytest.raises(SourceFormatError, match=r"mapping .* is missing"):
        list(iter_results(results))


def test_a_mapping_without_commune_is_refused(tmp_path: Path) -> None:
    results = copy_sample(tmp_path, 'code_departement: "29"\ncandidates: {"M. X Y": NC}\n')
    with pytest.raises(SourceFormatError, match="code_commune"):
        list(iter_results(results))
