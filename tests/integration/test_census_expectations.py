"""The raw census suites with Great Expectations against the real warehouse: they pass on the
sample and catch each kind of broken row (inserted under vintage 2098, removed afterwards)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from expectations.registry import all_suites, raw_suite_names
from expectations.suites_census import (
    COUNT_BOUND_LABEL,
    INCOME_BOUND_LABEL,
    OTHER_BOUND_LABEL,
    RAW_SUITES,
    SHARE_BOUND_LABEL,
    SUITES,
)
from ingestion.census.pipeline import load_entry, registry_entries
from tests.unit.test_census_parser import SAMPLE

pytestmark = [pytest.mark.db, pytest.mark.slow]

BROKEN_VINTAGE = 2098


@pytest.fixture(scope="module")
def loaded(warehouse_url: str) -> str:
    for spec in registry_entries(SAMPLE / "manifest.yml"):
        load_entry(warehouse_url, spec)
    return warehouse_url


@pytest.fixture
def broken_batch(loaded: str) -> Iterator[int]:
    """A `loaded` batch holding one row of each defect the suites must catch."""
    with psycopg.connect(loaded, autocommit=True) as conn:
        row = conn.execute(
            "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
            "values ('census', 'broken.CSV', %s, %s, 'loaded') returning batch_id",
            ("0" * 64, f"population:{BROKEN_VINTAGE}"),
        ).fetchone()
        assert row is not None
        batch = int(row[0])
        head = (batch, BROKEN_VINTAGE, 2100, "population")
        with conn.cursor() as cur:
            with cur.copy(
                "copy raw.census_iris (batch_id, vintage, geo_year, theme, source_line, "
                "code_iris, code_commune) from stdin"
            ) as copy:
                copy.write_row((*head, 2, "290190103", "29019"))
                copy.write_row((*head, 3, "290190103", "29019"))  # the same IRIS twice
                copy.write_row((*head, 4, "290190999", "29020"))  # outside its commune
                copy.write_row((*head, 5, "2901901", "29019"))  # 7 characters
            with cur.copy(
                "copy raw.census_iris_values (batch_id, vintage, geo_year, theme, code_iris, "
                "code_commune, prefix, indicator, value, masked, mask_code) from stdin"
            ) as copy:
                keys = (*head, "290190103", "29019", "P")
                copy.write_row((*keys, "POP", -5.0, False, None))  # negative count
                copy.write_row((*keys, "POP0002", 3.0, True, "s"))  # masked with a value
                copy.write_row((*keys, "POP0305", None, False, None))  # a gap not masked
                copy.write_row((*head, "290191111", "29019", "P", "POP", 1.0, False, None))
        yield batch
        conn.execute("delete from raw.census_iris_values where batch_id = %s", (batch,))
        conn.execute("delete from raw.census_iris where batch_id = %s", (batch,))
        conn.execute("update raw.batch_ledger set status = 'failed' where batch_id = %s", (batch,))


def test_census_suites_are_registered_for_the_gate() -> None:
    assert set(RAW_SUITES) <= set(raw_suite_names())
    assert {name: all_suites()[name] for name in RAW_SUITES} == dict(SUITES)


def test_raw_census_suites_pass_on_the_sample(loaded: str) -> None:
    from expectations.checkpoint import run_suites

    outcome = run_suites(loaded, list(RAW_SUITES), "test-census-gx-pass")
    assert outcome.success, outcome.failed_checks
    with psycopg.connect(loaded) as conn:
        recorded = conn.execute(
            "select suite, count(*) from ops.quality_results where run_id = %s "
            "group by suite order by suite",
            ("test-census-gx-pass",),
        ).fetchall()
    assert [suite for suite, _ in recorded] == sorted(RAW_SUITES)


def test_raw_census_suites_catch_each_broken_row(broken_batch: int, loaded: str) -> None:
    from expectations.checkpoint import run_suites

    outcome = run_suites(loaded, list(RAW_SUITES), "test-census-gx-broken")
    assert not outcome.success
    failed = "\n".join(outcome.failed_checks)
    for expected in (
        "raw_census_iris: expect_column_values_to_match_regex(code_iris)",
        "raw_census_iris: unexpected_rows_expectation(code_iris, code_commune) "
        "[code_iris starts with code_commune]",
        "[one row per (vintage, theme, code_iris)]",
        "[counts (prefix P or C) are not negative]",
        "[a masked cell has no value]",
        "[a cell that is not masked has a value and no mask code]",
        "[every value's IRIS is in raw.census_iris (same batch)]",
    ):
        assert expected in failed, f"{expected!r} not in:\n{failed}"
    assert "290190999" in failed and "290191111" in failed


@pytest.fixture
def impossible_values(loaded: str) -> Iterator[int]:
    """A `loaded` batch of one IRIS whose values are each beyond a physical bound (and one
    plausible value of each kind, which must not be reported)."""
    with psycopg.connect(loaded, autocommit=True) as conn:
        row = conn.execute(
            "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
            "values ('census', 'impossible.CSV', %s, %s, 'loaded') returning batch_id",
            ("1" * 64, f"revenus:{BROKEN_VINTAGE}"),
        ).fetchone()
        assert row is not None
        batch = int(row[0])
        head = (batch, BROKEN_VINTAGE, 2100, "revenus")
        with conn.cursor() as cur:
            cur.execute(
                "insert into raw.census_iris (batch_id, vintage, geo_year, theme, source_line, "
                "code_iris, code_commune) values (%s, %s, %s, %s, 2, '290190103', '29019')",
                head,
            )
            with cur.copy(
                "copy raw.census_iris_values (batch_id, vintage, geo_year, theme, code_iris, "
                "code_commune, prefix, indicator, value, masked, mask_code) from stdin"
            ) as copy:
                for prefix, indicator, value in (
                    ("P", "POP", 1e308),  # the probe's value, published on main
                    ("C", "MEN", float("nan")),
                    ("P", "POP1529", 18_183.0),  # the sample's largest count: plausible
                    ("DISP", "MED", 5_000_000.0),
                    ("DISP", "D9", 205_661.0),  # real 2015 maximum: plausible
                    ("DISP", "PACT", 500.0),
                    ("DISP", "PIMPOT", -48.9),  # real 2015 minimum: plausible
                    ("DISP", "GI", 1.5),
                    ("DEC", "RD", float("inf")),
                ):
                    copy.write_row(
                        (*head, "290190103", "29019", prefix, indicator, value, False, None)
                    )
        yield batch
        conn.execute("delete from raw.census_iris_values where batch_id = %s", (batch,))
        conn.execute("delete from raw.census_iris where batch_id = %s", (batch,))
        conn.execute("update raw.batch_ledger set status = 'failed' where batch_id = %s", (batch,))


def test_raw_census_values_refuse_values_beyond_physical_bounds(
    impossible_values: int, loaded: str
) -> None:
    """Issue 14: a census value of 1e308 was published. Each bound is a named failure that
    shows the IRIS, the indicator and the value; the plausible extremes pass."""
    from expectations.checkpoint import run_suites

    outcome = run_suites(loaded, ["raw_census_values"], "test-census-gx-bounds")
    assert not outcome.success
    by_label = {
        label: [c for c in outcome.failed_checks if f"[{label}]" in c]
        for label in (COUNT_BOUND_LABEL, INCOME_BOUND_LABEL, SHARE_BOUND_LABEL, OTHER_BOUND_LABEL)
    }
    assert all(len(found) == 1 for found in by_label.values()), outcome.failed_checks
    count, income, share, other = (found[0] for found in by_label.values())
    assert "2 unexpected rows" in count and '"indicator": "POP"' in count
    assert "POP1529" not in count
    assert "1 unexpected rows" in income and '"indicator": "MED"' in income
    assert "2 unexpected rows" in share and "PACT" in share and '"GI"' in share
    assert "PIMPOT" not in share
    assert "1 unexpected rows" in other and '"indicator": "RD"' in other
