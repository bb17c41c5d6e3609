"""The gate runs every source's suites: discovery, no duplicates, no unknown names."""

from __future__ import annotations

import sys
import types

import pytest

from expectations import registry
from expectations.suites import SUITES as ELECTION_SUITES


def test_election_suites_are_in_the_gate() -> None:
    raw = registry.raw_suite_names()
    audit = registry.audit_suite_names()
    assert {"raw_election_results", "raw_election_candidates"} <= set(raw)
    assert "audit_polling_station_results" in audit
    assert set(ELECTION_SUITES) <= set(registry.all_suites())


def test_every_named_suite_exists_and_names_are_unique() -> None:
    names = [*registry.raw_suite_names(), *registry.audit_suite_names()]
    assert len(names) == len(set(names))
    assert set(names) <= set(registry.all_suites())


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
