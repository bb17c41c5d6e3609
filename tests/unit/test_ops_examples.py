"""Examples of failed checks on personal tables are keyed before they reach `ops` (issue 14)."""

from __future__ import annotations

import pytest

from expectations.results import WITHHELD, describe, scrub_examples

OBSERVED = {
    "unexpected_count": 2,
    "partial_unexpected_list": ["jean.dupont@example.org", "06 12 34 56 78"],
    "partial_unexpected_index_list": [{"knock_id": "Q1", "line_no": 4, "canvasser_key": "x y"}],
}


def test_personal_examples_are_keyed_numbers_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRUTIN_CANVASS_SECRET", "s" * 32)
    scrubbed = scrub_examples(OBSERVED, "raw.canvass_knocks")
    assert scrubbed["unexpected_count"] == 2
    values = scrubbed["partial_unexpected_list"]
    assert all(v.startswith("k:") and len(v) == 18 for v in values)
    (row,) = scrubbed["partial_unexpected_index_list"]
    assert row["line_no"] == 4 and row["knock_id"].startswith("k:")
    text = describe("raw_canvass_knocks", "check", None, False, scrubbed)
    assert "dupont" not in text and "06 12" not in text and "k:" in text
    # Keyed, not random: the same value gives the same key (an engineer can find the row).
    assert scrub_examples(OBSERVED, "raw.roll_bureau_counts") == scrubbed


def test_without_a_secret_the_values_are_withheld(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRUTIN_CANVASS_SECRET", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SCRUTIN_CANVASS_SECRET", raising=False)
    monkeypatch.delenv("SCRUTIN_DEMO", raising=False)
    scrubbed = scrub_examples(OBSERVED, "quarantine.canvass_rows")
    assert scrubbed["partial_unexpected_list"] == [WITHHELD, WITHHELD]


def test_public_tables_keep_their_examples() -> None:
    observed = {"unexpected_count": 1, "partial_unexpected_list": ["29019_0001"]}
    assert scrub_examples(observed, "raw.election_results_bureau") == observed
