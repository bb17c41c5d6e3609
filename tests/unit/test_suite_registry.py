"""The quality layer's shape: the gate runs every source's raw suite, Great Expectations holds
raw-data suites only, and the suites check the vocabularies of their one definition. (That the
quality layer imports nothing above it is import-linter's contract, pyproject.toml.)"""

from __future__ import annotations

import sys
import types

import pytest

from expectations import registry
from expectations.suites import SUITES as ELECTION_SUITES
from scrutin import vocabulary


def test_election_suites_are_in_the_gate() -> None:
    raw = registry.raw_suite_names()
    assert {"raw_election_results", "raw_election_candidates"} <= set(raw)
    assert set(ELECTION_SUITES) <= set(registry.all_suites())


def test_every_named_suite_exists_and_names_are_unique() -> None:
    names = registry.raw_suite_names()
    assert len(names) == len(set(names))
    assert set(names) == set(registry.all_suites())


def test_great_expectations_holds_raw_data_suites_only() -> None:
    """The marts' invariants are dbt tests and the score audit, not GX suites."""
    for spec in registry.all_suites().values():
        assert spec.name.startswith("raw_"), spec.name
        assert spec.schema_name == "raw", spec.table


def test_a_suite_defined_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    clash = types.ModuleType("expectations.suites_clash")
    clash.SUITES = {"raw_election_results": ELECTION_SUITES["raw_election_results"]}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "expectations.suites_clash", clash)
    real_modules = registry._modules
    monkeypatch.setattr(registry, "_modules", lambda: [*real_modules(), clash])
    registry.all_suites.cache_clear()
    try:
        with pytest.raises(ValueError, match="defined twice"):
            registry.all_suites()
    finally:
        registry.all_suites.cache_clear()


def test_registry_import_does_not_import_great_expectations() -> None:
    import subprocess

    code = (
        "import sys, expectations.registry as r; r.all_suites(); "
        "print('great_expectations' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _in_set(suite: str, column: str) -> list[str]:
    (check,) = (
        c
        for c in registry.all_suites()[suite].checks
        if c.expectation == "ExpectColumnValuesToBeInSet" and c.column == column
    )
    return list(check.kwargs["value_set"])


def test_the_suites_check_the_shared_vocabulary() -> None:
    """Age bands, outcomes and topics are the dbt vars' (scrutin.vocabulary), not copies."""
    assert _in_set("raw_roll_counts", "age_band") == list(vocabulary.AGE_BANDS)
    assert _in_set("raw_canvass_knocks", "outcome") == list(vocabulary.OUTCOMES)
    (topics,) = (
        c
        for c in registry.all_suites()["raw_canvass_knocks"].checks
        if c.label == "topics are in the controlled vocabulary"
    )
    query = topics.kwargs["unexpected_rows_query"]
    assert all(f"'{topic}'" in query for topic in vocabulary.TOPICS)
