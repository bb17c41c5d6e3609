"""Raw suites run once per change of their data (issue 15, expectations/validations.py).

On a warehouse of its own: the results fixture (ZZ and overseas bureaux included) loaded through
the real loader, then the results suites validated, reused while nothing moved, rerun after any
write (a new batch, a hand-made UPDATE), and never reused after a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from expectations.validations import run_suites_once
from tests.conftest import TEST_DB, drop_warehouse, fresh_warehouse

pytestmark = pytest.mark.db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results"
SUITES = ["raw_election_results", "raw_election_candidates"]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    from ingestion.loaders.elections import load_results_file

    name = f"{TEST_DB}_raw_validations"
    url = fresh_warehouse(name)
    load_results_file(url, FIXTURES / "legi2024_t1_burvot.csv", "2024_legi_t1")
    yield url
    drop_warehouse(name)


def _ran(url: str, run_id: str) -> tuple[list[str], dict[str, str], bool]:
    done = run_suites_once(url, SUITES, run_id)
    summary = done.summary()
    return sorted(summary["ran"]), dict(summary["reused"]), done.success  # type: ignore[arg-type]


def test_a_suite_runs_once_per_change_of_its_tables(url: str) -> None:
    from ingestion.loaders.elections import load_results_file

    assert _ran(url, "v-first") == (sorted(SUITES), {}, True)
    # Nothing written since: both validations are reused, nothing recomputed.
    assert _ran(url, "v-again") == ([], dict.fromkeys(SUITES, "v-first"), True)
    with psycopg.connect(url) as conn:
        bureaux = conn.execute("select count(*) from raw.election_results_bureau").fetchone()
        assert bureaux is not None and bureaux[0] > 0
        assert conn.execute(
            "select count(*) from ops.raw_validations where run_id = 'v-again'"
        ).fetchone() == (0,)
        # The validation says up to which batch of the ledger it covered.
        covered = conn.execute(
            "select last_batch_id = (select max(batch_id) from raw.batch_ledger) "
            "from ops.raw_validations where run_id = 'v-first' and suite = 'raw_election_results'"
        ).fetchone()
        assert covered == (True,)
    # A new batch of another election moves both tables: both run again.
    load_results_file(url, FIXTURES / "pres2022_t1_burvot.txt", "2022_pres_t1")
    assert _ran(url, "v-new-batch") == (sorted(SUITES), {}, True)


def test_a_write_to_a_validated_batch_is_validated_again_and_refused(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        bureau = conn.execute(
            "select bureau_id from raw.election_results_bureau "
            "where election_id = '2024_legi_t1' and bureau_id like 'ZZ%' limit 1"
        ).fetchone()
        assert bureau is not None, "the fixture holds a bureau of French people abroad"
        assert _ran(url, "v-before")[2] is True
        conn.execute(
            "update raw.election_results_bureau set nuls = nuls + 1 "
            "where election_id = '2024_legi_t1' and bureau_id = %s",
            bureau,
        )
        try:
            # Both suites read the bureau table (the candidates' sums are checked against it):
            # both run again, and the results suite refuses the row.
            ran, reused, ok = _ran(url, "v-broken")
            assert (ran, reused, ok) == (sorted(SUITES), {}, False)
            # A failed validation is never reused: the next build runs it again, and refuses;
            # the candidates' suite passed on these very tables and is reused.
            ran, reused, ok = _ran(url, "v-still-broken")
            assert ran == ["raw_election_results"] and ok is False
            assert reused == {"raw_election_candidates": "v-broken"}
        finally:
            conn.execute(
                "update raw.election_results_bureau set nuls = nuls - 1 "
                "where election_id = '2024_legi_t1' and bureau_id = %s",
                bureau,
            )
        assert _ran(url, "v-repaired") == (sorted(SUITES), {}, True)


def test_an_untracked_table_is_never_trusted(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "delete from ops.raw_table_writes where table_name = 'raw.election_results_bureau'"
        )
        try:
            assert _ran(url, "v-untracked-1")[0] == sorted(SUITES)
            assert _ran(url, "v-untracked-2")[0] == sorted(SUITES)
        finally:
            conn.execute("select ops.track_raw_table('raw.election_results_bureau')")


def test_two_writers_of_one_table_never_wait_for_each_other(url: str) -> None:
    """Parallel loads (the mapped load tasks of a DAG) are not serialised by the versioning."""
    noop = "delete from raw.election_results_bureau where false"  # fires the statement trigger
    with psycopg.connect(url) as first, psycopg.connect(url) as second:
        first.execute(noop)  # transaction left open
        second.execute("set lock_timeout = '2s'")
        second.execute(noop)
        second.commit()
        first.commit()


def test_a_write_committed_during_a_validation_is_validated_next_time(url: str) -> None:
    assert _ran(url, "v-settled")[2] is True
    with psycopg.connect(url) as writer:
        writer.execute("delete from raw.election_results_bureau where false")  # not committed
        # A validation now cannot see the write: it reuses the last one ...
        assert _ran(url, "v-during")[0] == []
        writer.commit()
    # ... and once the write commits, both suites run again.
    assert _ran(url, "v-after")[0] == sorted(SUITES)


def test_a_suite_whose_checks_changed_runs_again(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from expectations import validations
    from expectations.suites import not_null

    _ran(url, "v-before-change")
    assert _ran(url, "v-unchanged")[0] == []
    # A check added to one suite: that suite runs again on the same data, the other is reused.
    suites = dict(validations.all_suites())
    spec = suites["raw_election_results"]
    suites[spec.name] = dataclasses.replace(spec, checks=(*spec.checks, not_null("code_bv")))
    monkeypatch.setattr(validations, "all_suites", lambda: suites)
    ran, reused, success = _ran(url, "v-changed")
    assert (ran, success) == (["raw_election_results"], True)
    assert list(reused) == ["raw_election_candidates"]
    # Validated with its new checks: reused from then on.
    assert _ran(url, "v-changed-again")[0] == []
