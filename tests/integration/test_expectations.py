"""The election checks against a real PostgreSQL warehouse: the raw suites through their
Great Expectations Checkpoints, and the dbt data tests of `polling_station_results`.

Rows are inserted under election ids `2099_gx_*` and removed at the end of the module. Other
modules may have loaded real elections (`2024_legi_t*`) into the same database: the checks must
pass on any correct data, so the "valid" assertions hold with or without them, and corruptions
are only ever applied to this module's rows. The audit mart is created here with plain SQL from
the raw rows (any real dbt-built table is set aside and put back afterwards); its dbt data tests
run as compiled SQL (tests/compiled_dbt_tests.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from expectations.suites import (
    BUREAU_ID_REGEX,
    COMMUNE_IN_DEPARTEMENT_LABEL,
    RAW_ELECTION_CANDIDATES,
    RAW_ELECTION_RESULTS,
    RAW_SUITES,
    REGISTERED_LABEL,
    SQL_EXPECTATION,
    SUITES,
    Check,
    no_rows,
)
from tests.compiled_dbt_tests import data_tests_of, ensure_staging_views, failing

if TYPE_CHECKING:
    import psycopg

    from expectations.results import GateOutcome, SuiteOutcome

ROOT = Path(__file__).resolve().parents[2]
ELECTION = "2099_gx_t1"
SOURCE = "test_expectations"
MART = "mart_audit.polling_station_results"
MART_SAVED = "polling_station_results__saved_by_test_expectations"
# What the mart's tests read beside the mart: the loaded bureaux, as staging renames them.
STAGING = "stg_elections__bureau_results"

# (code_departement, code_commune, code_bv, inscrits, votants, abstentions, exprimes, blancs, nuls)
BUREAUX = [
    ("29", "29019", "0001", 1000, 700, 300, 680, 15, 5),
    ("29", "29019", "0002", 900, 600, 300, 585, 10, 5),
    ("2A", "2A004", "0001", 800, 500, 300, 490, 6, 4),
    ("75", "75056", "B12", 500, 400, 100, 390, 7, 3),
]
# Votes per panel (nuance), summing to `exprimes` of each bureau above.
VOTES = {
    "29019_0001": [("UG", 400), ("RN", 200), ("ENS", 80)],
    "29019_0002": [("UG", 300), ("RN", 185), ("ENS", 100)],
    "2A004_0001": [("UG", 90), ("RN", 300), ("ENS", 100)],
    "75056_B12": [("UG", 200), ("RN", 90), ("ENS", 100)],
}

MART_DDL = f"""
create schema if not exists mart_audit;
create table {MART} (
    election_id text,
    bureau_id text,
    code_departement text,
    code_commune text,
    commune_name text,
    code_bv text,
    registered integer,
    voters integer,
    abstentions integer,
    blank_votes integer,
    null_votes integer,
    valid_votes integer,
    turnout_rate numeric,
    blank_rate numeric,
    null_rate numeric,
    valid_rate numeric,
    candidates_count integer,
    votes_by_nuance jsonb,
    leading_nuance text
);
"""

# What dbt builds, in plain SQL: one row per loaded bureau (this module's and any real data).
MART_FILL = f"""
insert into {MART}
select
    b.election_id,
    b.bureau_id,
    b.code_departement,
    b.code_commune,
    b.libelle_commune,
    b.code_bv,
    b.inscrits,
    b.votants,
    b.abstentions,
    b.blancs,
    b.nuls,
    b.exprimes,
    b.votants::numeric / nullif(b.inscrits, 0),
    b.blancs::numeric / nullif(b.votants, 0),
    b.nuls::numeric / nullif(b.votants, 0),
    b.exprimes::numeric / nullif(b.votants, 0),
    coalesce(v.candidates_count, 0),
    coalesce(v.votes_by_nuance, '{{}}'::jsonb),
    v.leading_nuance
from raw.election_results_bureau as b
inner join raw.batch_ledger as l
    on l.batch_id = b.batch_id
left join lateral (
    select
        count(*) as candidates_count,
        jsonb_object_agg(coalesce(c.nuance, '?'), c.voix) as votes_by_nuance,
        (array_agg(c.nuance order by c.voix desc))[1] as leading_nuance
    from raw.election_results_candidate as c
    where c.election_id = b.election_id
        and c.bureau_id = b.bureau_id
) as v on true
where l.status = 'loaded'
"""


def _run_id() -> str:
    return f"test_gx_{uuid.uuid4().hex[:10]}"


def _ledger(conn: psycopg.Connection, status: str, election: str) -> int:
    row = conn.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
        "values (%s, %s, %s, %s, %s) returning batch_id",
        (SOURCE, f"{election}.csv", uuid.uuid4().hex, election, status),
    ).fetchone()
    assert row is not None
    return int(row[0])


def _insert_bureau(
    conn: psycopg.Connection,
    batch_id: int,
    election: str,
    bureau: tuple[str, str, str, int, int, int, int, int, int],
    *,
    bureau_id: str | None = None,
    source_line: int = 1,
) -> None:
    dep, commune, bv, *counts = bureau
    conn.execute(
        "insert into raw.election_results_bureau (batch_id, election_id, source_line, "
        "code_departement, libelle_departement, code_commune, libelle_commune, code_bv, "
        "bureau_id, inscrits, votants, abstentions, exprimes, blancs, nuls) "
        "values (%s, %s, %s, %s, 'Dep', %s, 'Commune', %s, %s, %s, %s, %s, %s, %s, %s)",
        (batch_id, election, source_line, dep, commune, bv,
         bureau_id or f"{commune}_{bv}", *counts),
    )  # fmt: skip


def _insert_candidates(
    conn: psycopg.Connection,
    batch_id: int,
    bureau_id: str,
    votes: list[tuple[str, int]],
    *,
    election: str = ELECTION,
) -> None:
    """One candidate row per (nuance, voix), panels numbered from 1."""
    commune, bv = bureau_id.split("_")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.election_results_candidate (batch_id, election_id, source_line, "
            "code_commune, code_bv, bureau_id, numero_panneau, nuance, nom, voix) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    batch_id,
                    election,
                    1,
                    commune,
                    bv,
                    bureau_id,
                    panel,
                    nuance,
                    f"CAND {panel}",
                    voix,
                )
                for panel, (nuance, voix) in enumerate(votes, start=1)
            ],
        )


def _delete_test_rows(conn: psycopg.Connection) -> None:
    with conn.transaction():
        for table in ("raw.election_results_candidate", "raw.election_results_bureau"):
            conn.execute(f"delete from {table} where election_id like %s", ("2099\\_gx\\_%",))
        conn.execute("delete from raw.batch_ledger where source = %s", (SOURCE,))
        conn.execute("delete from ops.quality_results where run_id like %s", ("test\\_gx\\_%",))


def _table_exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()
    return bool(row and row[0])


@pytest.fixture(scope="module")
def gx_url(warehouse_url: str) -> Iterator[str]:
    """The warehouse with this module's valid election and an audit mart built from raw."""
    from scrutin.db import connect

    with connect(warehouse_url, autocommit=True) as conn:
        _delete_test_rows(conn)
        saved = _table_exists(conn, MART)
        with conn.transaction():
            if saved:
                conn.execute(f"alter table {MART} rename to {MART_SAVED}")
            batch_id = _ledger(conn, "loaded", ELECTION)
            for line, bureau in enumerate(BUREAUX, start=2):
                _insert_bureau(conn, batch_id, ELECTION, bureau, source_line=line)
            for bureau_id, votes in VOTES.items():
                _insert_candidates(conn, batch_id, bureau_id, votes)
            conn.execute(MART_DDL)
            conn.execute(MART_FILL)
        ensure_staging_views(conn, warehouse_url, STAGING)
        try:
            yield warehouse_url
        finally:
            with conn.transaction():
                conn.execute(f"drop table if exists {MART}")
                if saved:
                    conn.execute(
                        f"alter table mart_audit.{MART_SAVED} rename to {MART.split('.')[1]}"
                    )
            _delete_test_rows(conn)


@pytest.fixture
def db(gx_url: str) -> Iterator[psycopg.Connection]:
    from scrutin.db import connect

    with connect(gx_url, autocommit=True) as conn:
        yield conn


@contextmanager
def corrupted(conn: psycopg.Connection, do: str, undo: str) -> Iterator[None]:
    """Apply a corruption to this module's rows, and take it back whatever the test does."""
    conn.execute(do)
    try:
        yield
    finally:
        conn.execute(undo)


def _failures_about(outcome: SuiteOutcome | GateOutcome, needle: str) -> list[str]:
    return [d for d in outcome.failed_checks if needle in d]


def _assert_fails(outcome: SuiteOutcome, expectation: str, *mentions: str) -> str:
    """The suite is refused, by a failure naming `expectation(column)` and each mention."""
    assert not outcome.success
    matching = _failures_about(outcome, expectation)
    assert matching, f"no failure names {expectation}: {outcome.failed_checks}"
    description = matching[0]
    assert description.startswith(f"{outcome.suite}: ")
    for mention in mentions:
        assert mention in description, description
    return description


# ---- specs (no database) -------------------------------------------------------------------


def test_suites_import_without_great_expectations() -> None:
    """DAG files import the suite names: that must not cost the ~7 s GX import."""
    code = (
        "import sys, expectations.suites, expectations.checkpoint, expectations.registry, "
        "expectations.score_audit; "
        "assert 'great_expectations' not in sys.modules, 'GX imported at module import'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_suite_registry() -> None:
    assert set(SUITES) == set(RAW_SUITES)
    assert SUITES["raw_election_results"].table == "raw.election_results_bureau"
    assert SUITES["raw_election_candidates"].table == "raw.election_results_candidate"
    for spec in SUITES.values():
        assert spec.checks and all(c.severity in ("fail", "warn") for c in spec.checks)


def test_every_check_builds_into_a_gx_expectation() -> None:
    for spec in SUITES.values():
        for check in spec.checks:
            expectation = check.build(meta={"check": 0})
            if check.expectation == SQL_EXPECTATION:
                # computed by one query (expectations.unexpected_rows), still GX's expectation
                from great_expectations.expectations import UnexpectedRowsExpectation

                assert isinstance(expectation, UnexpectedRowsExpectation)
                assert expectation.expectation_type == "unexpected_rows_counted_once"
            else:
                assert expectation.expectation_type == check.expectation_type
            assert (
                expectation.severity.value
                == {"fail": "critical", "warn": "warning"}[check.severity]
            )


def test_severity_is_fail_or_warn() -> None:
    with pytest.raises(ValueError, match="severity"):
        Check("ExpectColumnValuesToNotBeNull", {"column": "x"}, severity="error")  # type: ignore[arg-type]


def test_sql_check_must_join_and_alias_batch() -> None:
    with pytest.raises(ValueError, match="JOIN"):
        no_rows("no alias", "select * from {batch} where votants < 0", columns=("votants",))


def test_bureau_id_regex() -> None:
    import re

    pattern = re.compile(BUREAU_ID_REGEX)
    # ZZ001_0001: French people abroad, in every national file (a national load was refused)
    for ok in ("29019_0001", "2A004_0001", "2B033_0012", "75056_B12", "13055_A", "ZZ001_0001"):
        assert pattern.match(ok), ok
    for bad in (
        "29019_1",
        "29019_00001",
        "2C004_0001",
        "2901_0001",
        "29019-0001",
        "29019_b12",
        "ZZ01_0001",
    ):
        assert not pattern.match(bad), bad


# ---- suites on valid data --------------------------------------------------------------------


@pytest.mark.db
def test_all_suites_pass_on_valid_data_and_record_every_result(
    gx_url: str, db: psycopg.Connection
) -> None:
    from expectations.checkpoint import run_suites

    run_id = _run_id()
    gate = run_suites(gx_url, list(RAW_SUITES), run_id)

    assert gate.success, gate.failed_checks
    assert gate.failed_checks == []
    assert [o.suite for o in gate.outcomes] == list(RAW_SUITES)
    for outcome in gate.outcomes:
        assert outcome.error is None
        assert len(outcome.results) == len(SUITES[outcome.suite].checks)

    rows = db.execute(
        "select suite, target, expectation, column_name, severity, success, observed "
        "from ops.quality_results where run_id = %s",
        (run_id,),
    ).fetchall()
    assert len(rows) == sum(len(SUITES[name].checks) for name in RAW_SUITES)
    assert all(success for *_, success, _ in rows)
    by_check = {(r[0], r[2], r[3]): r for r in rows}
    between_votants = by_check[
        ("raw_election_results", "expect_column_values_to_be_between", "votants")
    ]
    assert between_votants[1] == "raw.election_results_bureau"
    assert between_votants[4] == "fail"
    assert between_votants[6]["unexpected_count"] == 0
    assert between_votants[6]["element_count"] >= len(BUREAUX)
    warn = by_check[
        (
            "raw_election_results",
            "unexpected_rows_expectation",
            "inscrits, votants, abstentions",
        )
    ]
    assert warn[4] == "warn"


@pytest.mark.db
def test_the_checkpoints_build_data_docs(
    gx_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UpdateDataDocsAction renders each suite of the run into the local site."""
    from expectations.checkpoint import run_suites

    monkeypatch.setenv("SCRUTIN_DATA_DOCS_DIR", str(tmp_path / "docs"))
    run_id = _run_id()
    gate = run_suites(gx_url, list(RAW_SUITES), run_id)
    index = tmp_path / "docs" / "index.html"
    assert gate.data_docs == str(index)
    html = index.read_text(encoding="utf-8")
    for suite in RAW_SUITES:
        assert suite in html
        (page,) = (tmp_path / "docs" / "validations" / suite / run_id).rglob("*.html")
        rendered = page.read_text(encoding="utf-8")
        assert "Evaluated Expectations" in rendered and "Successful Expectations" in rendered
        assert (tmp_path / "docs" / "expectations" / f"{suite}.html").is_file()


@pytest.mark.db
def test_a_data_docs_folder_that_cannot_be_written_refuses_nothing(
    gx_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from expectations.checkpoint import run_suites

    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("SCRUTIN_DATA_DOCS_DIR", str(tmp_path / "a-file" / "docs"))
    gate = run_suites(gx_url, ["raw_election_results"], _run_id())
    assert gate.success, gate.failed_checks
    assert gate.data_docs is None


def test_quality_results_are_recorded_by_a_gx_checkpoint_action() -> None:
    """The recording is a Great Expectations ValidationAction, not code around the Checkpoint."""
    from great_expectations.checkpoint import ValidationAction

    from expectations.checkpoint import _action_class

    assert issubclass(_action_class(), ValidationAction)
    assert _action_class().__fields__["type"].default == "scrutin_record_quality_results"


@pytest.mark.db
def test_run_suite_single_suite(gx_url: str) -> None:
    from expectations.checkpoint import run_suite

    outcome = run_suite(gx_url, RAW_ELECTION_CANDIDATES, _run_id())
    assert outcome.success, outcome.failed_checks
    assert outcome.target == "raw.election_results_candidate"
    assert outcome.duration_s > 0


# ---- corruptions: each one refuses its suite, naming the expectation and the column ---------


@pytest.mark.db
def test_voters_above_registered_fail_raw_suite(gx_url: str, db: psycopg.Connection) -> None:
    from expectations.checkpoint import run_suite

    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0001'"
    with corrupted(
        db,
        f"update raw.election_results_bureau set votants = 1010, abstentions = 0 where {where}",
        f"update raw.election_results_bureau set votants = 700, abstentions = 300 where {where}",
    ):
        outcome = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
    _assert_fails(
        outcome,
        "expect_column_pair_values_a_to_be_greater_than_b(inscrits, votants) failed",
        "1 unexpected values",
        "29019_0001",
        '"votants": 1010',
    )


@pytest.mark.db
def test_negative_count_fails_raw_suite(gx_url: str, db: psycopg.Connection) -> None:
    from expectations.checkpoint import run_suite

    where = f"election_id = '{ELECTION}' and bureau_id = '2A004_0001'"
    with corrupted(
        db,
        f"update raw.election_results_bureau set nuls = -4, votants = 492 where {where}",
        f"update raw.election_results_bureau set nuls = 4, votants = 500 where {where}",
    ):
        outcome = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
    _assert_fails(outcome, "expect_column_values_to_be_between(nuls)", "2A004_0001", "-4")
    # Only the broken column is reported: the arithmetic still holds (492 = 490 + 6 - 4).
    assert not _failures_about(outcome, "expect_column_values_to_be_between(votants)")
    assert not _failures_about(outcome, "votants = exprimes + blancs + nuls")


@pytest.mark.db
def test_duplicate_bureau_fails_raw_suite(gx_url: str, db: psycopg.Connection) -> None:
    from expectations.checkpoint import run_suite

    batch_id = db.execute(
        "select batch_id from raw.election_results_bureau where election_id = %s limit 1",
        (ELECTION,),
    ).fetchone()[0]  # type: ignore[index]
    _insert_bureau(db, batch_id, ELECTION, BUREAUX[1], source_line=999)
    try:
        outcome = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
    finally:
        db.execute(
            "delete from raw.election_results_bureau where election_id = %s and source_line = 999",
            (ELECTION,),
        )
    _assert_fails(
        outcome, "expect_compound_columns_to_be_unique(election_id, bureau_id)", "29019_0002"
    )


@pytest.mark.db
def test_malformed_bureau_id_fails_raw_suite(gx_url: str, db: psycopg.Connection) -> None:
    from expectations.checkpoint import run_suite

    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0002'"
    with corrupted(
        db,
        f"update raw.election_results_bureau set bureau_id = '29019_2', code_bv = '2' "
        f"where {where}",
        f"update raw.election_results_bureau set bureau_id = '29019_0002', code_bv = '0002' "
        f"where election_id = '{ELECTION}' and bureau_id = '29019_2'",
    ):
        outcome = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
    _assert_fails(outcome, "expect_column_values_to_match_regex(bureau_id)", "29019_2")


@pytest.mark.db
def test_bureau_id_not_built_from_its_codes_fails_raw_suite(
    gx_url: str, db: psycopg.Connection
) -> None:
    from expectations.checkpoint import run_suite

    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0002'"
    with corrupted(
        db,
        f"update raw.election_results_bureau set code_bv = '0003' where {where}",
        f"update raw.election_results_bureau set code_bv = '0002' where {where}",
    ):
        outcome = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
    _assert_fails(outcome, "unexpected_rows_expectation(bureau_id, code_commune, code_bv)", "0003")


@pytest.mark.db
def test_votants_arithmetic_is_a_failure(gx_url: str, db: psycopg.Connection) -> None:
    from expectations.checkpoint import run_suite

    where = f"election_id = '{ELECTION}' and bureau_id = '75056_B12'"
    with corrupted(
        db,
        f"update raw.election_results_bureau set blancs = 17 where {where}",
        f"update raw.election_results_bureau set blancs = 7 where {where}",
    ):
        outcome = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
    _assert_fails(
        outcome,
        "unexpected_rows_expectation(votants, exprimes, blancs, nuls)",
        "[votants = exprimes + blancs + nuls]",
        "1 unexpected rows",
        '"bureau_id": "75056_B12"',
        '"blancs": 17',
    )


@pytest.mark.db
def test_a_bureau_without_registered_voters_fails_raw_suite(
    gx_url: str, db: psycopg.Connection
) -> None:
    """Issue 14: a bureau with 0 registered (and so no vote) went through every check."""
    from expectations.checkpoint import run_suite

    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0002'"
    with corrupted(
        db,
        "update raw.election_results_bureau set inscrits = 0, votants = 0, abstentions = 0, "
        f"exprimes = 0, blancs = 0, nuls = 0 where {where}",
        "update raw.election_results_bureau set inscrits = 900, votants = 600, "
        f"abstentions = 300, exprimes = 585, blancs = 10, nuls = 5 where {where}",
    ):
        outcome = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
    _assert_fails(
        outcome,
        "unexpected_rows_expectation(inscrits)",
        f"[{REGISTERED_LABEL}]",
        '"bureau_id": "29019_0002"',
        '"inscrits": 0',
    )


@pytest.mark.db
def test_a_commune_outside_its_departement_fails_raw_suite(
    gx_url: str, db: psycopg.Connection
) -> None:
    """Issue 14: a commune of another département inside a département's file went through.
    Saint-Brieuc (22278) in a row of département 29 is refused; Corsica (2A004), Paris and a
    Ministry overseas letter code (ZA for 971) are read right."""
    from expectations.checkpoint import run_suite

    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0002'"
    overseas = f"election_id = '{ELECTION}' and bureau_id = '2A004_0001'"
    with (
        corrupted(
            db,
            "update raw.election_results_bureau set code_commune = '22278', "
            f"bureau_id = '22278_0002' where {where}",
            "update raw.election_results_bureau set code_commune = '29019', "
            f"bureau_id = '29019_0002' where election_id = '{ELECTION}' "
            "and bureau_id = '22278_0002'",
        ),
        corrupted(
            db,
            "update raw.election_results_bureau set code_departement = 'ZA', "
            f"code_commune = '97101', bureau_id = '97101_0001' where {overseas}",
            "update raw.election_results_bureau set code_departement = '2A', "
            f"code_commune = '2A004', bureau_id = '2A004_0001' where election_id = '{ELECTION}' "
            "and bureau_id = '97101_0001'",
        ),
    ):
        outcome = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
    failure = _assert_fails(
        outcome,
        "unexpected_rows_expectation(code_departement, code_commune)",
        f"[{COMMUNE_IN_DEPARTEMENT_LABEL}]",
        "1 unexpected rows",
        '"bureau_id": "22278_0002"',
        '"code_departement": "29"',
    )
    assert "97101" not in failure


@pytest.mark.db
def test_candidate_votes_not_summing_to_valid_fail_candidate_suite(
    gx_url: str, db: psycopg.Connection
) -> None:
    from expectations.checkpoint import run_suite

    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0002' and numero_panneau = 2"
    with corrupted(
        db,
        f"update raw.election_results_candidate set voix = 192 where {where}",
        f"update raw.election_results_candidate set voix = 185 where {where}",
    ):
        outcome = run_suite(gx_url, RAW_ELECTION_CANDIDATES, _run_id())
    _assert_fails(
        outcome,
        "unexpected_rows_expectation(voix, exprimes)",
        "sum(voix)",
        '"bureau_id": "29019_0002"',
        '"sum_voix": 592',
        '"exprimes": 585',
    )


@pytest.mark.db
def test_duplicate_candidate_panel_fails_candidate_suite(
    gx_url: str, db: psycopg.Connection
) -> None:
    from expectations.checkpoint import run_suite

    batch_id = db.execute(
        "select batch_id from raw.election_results_bureau where election_id = %s limit 1",
        (ELECTION,),
    ).fetchone()[0]  # type: ignore[index]
    # A second panel-1 row with 0 votes: the sums still hold, only the key is broken.
    _insert_candidates(db, batch_id, "2A004_0001", [("DIV", 0)])
    try:
        outcome = run_suite(gx_url, RAW_ELECTION_CANDIDATES, _run_id())
    finally:
        db.execute(
            "delete from raw.election_results_candidate "
            "where election_id = %s and bureau_id = '2A004_0001' and nuance = 'DIV'",
            (ELECTION,),
        )
    _assert_fails(
        outcome,
        "unexpected_rows_expectation(election_id, bureau_id, numero_panneau)",
        '"bureau_id": "2A004_0001", "numero_panneau": 1, "row_count": 2',
    )
    assert len(outcome.failed_checks) == 1, outcome.failed_checks


@pytest.mark.db
def test_negative_votes_and_orphan_candidates_fail_candidate_suite(
    gx_url: str, db: psycopg.Connection
) -> None:
    from expectations.checkpoint import run_suite

    batch_id = _ledger(db, "loaded", "2099_gx_orphan")
    _insert_candidates(db, batch_id, "29019_0009", [("UG", -3)], election="2099_gx_orphan")
    try:
        outcome = run_suite(gx_url, RAW_ELECTION_CANDIDATES, _run_id())
    finally:
        db.execute(
            "delete from raw.election_results_candidate where election_id = '2099_gx_orphan'"
        )
    _assert_fails(outcome, "expect_column_values_to_be_between(voix)", "29019_0009", "-3")
    _assert_fails(
        outcome,
        "unexpected_rows_expectation(election_id, bureau_id)",
        "exists in raw.election_results_bureau",
        "29019_0009",
    )


# ---- the mart: its dbt data tests --------------------------------------------------------------


def _mart_failures(url: str, db: psycopg.Connection) -> dict[str, int]:
    """The dbt data tests of polling_station_results that fail now (name -> failing rows)."""
    return failing(db, data_tests_of(url, ["polling_station_results"], present=(STAGING,)))


@pytest.mark.db
def test_mart_tests_pass_on_the_valid_mart(gx_url: str, db: psycopg.Connection) -> None:
    tests = data_tests_of(gx_url, ["polling_station_results"], present=(STAGING,))
    assert {
        "polling_station_results_has_rows",
        "polling_station_results_has_every_loaded_results_bureau",
        "assert_every_polling_station_result_is_a_loaded_results_bureau",
        "assert_polling_station_results_counts_equal_the_loaded_counts",
    } <= set(tests)
    assert _mart_failures(gx_url, db) == {}


@pytest.mark.db
def test_mart_rate_above_one_fails_its_range_test(gx_url: str, db: psycopg.Connection) -> None:
    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0001'"
    with corrupted(
        db,
        f"update {MART} set turnout_rate = 1.25 where {where}",
        f"update {MART} set turnout_rate = 0.7 where {where}",
    ):
        assert _mart_failures(gx_url, db) == {
            "accepted_range_polling_station_results_turnout_rate__1__0": 1
        }


@pytest.mark.db
def test_raw_bureau_missing_from_mart_fails_the_mart(gx_url: str, db: psycopg.Connection) -> None:
    where = f"election_id = '{ELECTION}' and bureau_id = '2A004_0001'"
    db.execute(f"delete from {MART} where {where}")
    try:
        assert _mart_failures(gx_url, db) == {
            "polling_station_results_has_every_loaded_results_bureau": 1
        }
        test = data_tests_of(gx_url, ["polling_station_results"])[
            "polling_station_results_has_every_loaded_results_bureau"
        ]
        assert test.rows(db) == [(ELECTION, "2A004_0001")]
    finally:
        db.execute(MART_FILL + f" and b.election_id = '{ELECTION}' and b.bureau_id = '2A004_0001'")


@pytest.mark.db
def test_mart_row_unknown_to_raw_fails_the_mart(gx_url: str, db: psycopg.Connection) -> None:
    with corrupted(
        db,
        # A complete, self-consistent row: only its absence from raw is wrong.
        f"insert into {MART} select election_id, '29019_0099', code_departement, code_commune, "
        f"commune_name, '0099', registered, voters, abstentions, blank_votes, null_votes, "
        f"valid_votes, turnout_rate, blank_rate, null_rate, valid_rate, candidates_count, "
        f"votes_by_nuance, leading_nuance from {MART} "
        f"where election_id = '{ELECTION}' and bureau_id = '29019_0001'",
        f"delete from {MART} where election_id = '{ELECTION}' and bureau_id = '29019_0099'",
    ):
        assert _mart_failures(gx_url, db) == {
            "assert_every_polling_station_result_is_a_loaded_results_bureau": 1
        }


@pytest.mark.db
def test_mart_counts_differing_from_raw_fail_the_mart(gx_url: str, db: psycopg.Connection) -> None:
    where = f"election_id = '{ELECTION}' and bureau_id = '75056_B12'"
    with corrupted(
        db,
        f"update {MART} set valid_votes = 391 where {where}",
        f"update {MART} set valid_votes = 390 where {where}",
    ):
        assert _mart_failures(gx_url, db) == {
            "assert_polling_station_results_counts_equal_the_loaded_counts": 1
        }


@pytest.mark.db
def test_null_key_and_duplicate_in_mart_fail_the_mart(gx_url: str, db: psycopg.Connection) -> None:
    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0001'"
    with corrupted(
        db,
        f"insert into {MART} select * from {MART} where {where}; "
        f"update {MART} set code_commune = null where {where}",
        f"delete from {MART} where {where}; "
        + MART_FILL
        + f" and b.election_id = '{ELECTION}' and b.bureau_id = '29019_0001'",
    ):
        assert _mart_failures(gx_url, db) == {
            "not_null_polling_station_results_code_commune": 2,
            "unique_combination_of_columns_polling_station_results_election_id__bureau_id": 1,
        }


@pytest.mark.db
def test_an_empty_mart_fails_the_mart(gx_url: str, db: psycopg.Connection) -> None:
    with corrupted(
        db,
        f"alter table {MART} rename to {MART_SAVED}_empty; "
        f"create table {MART} (like mart_audit.{MART_SAVED}_empty)",
        f"drop table {MART}; alter table mart_audit.{MART_SAVED}_empty rename to "
        f"{MART.split('.')[1]}",
    ):
        failures = _mart_failures(gx_url, db)
    assert failures.pop("polling_station_results_has_rows") == 1
    # Every loaded bureau is missing too; nothing else is wrong with an empty table.
    assert set(failures) == {"polling_station_results_has_every_loaded_results_bureau"}


# ---- severity, scoping, recording, missing tables ------------------------------------------


@pytest.mark.db
def test_warn_failure_is_recorded_but_does_not_block(gx_url: str, db: psycopg.Connection) -> None:
    from expectations.checkpoint import run_suites

    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0001'"
    run_id = _run_id()
    with corrupted(
        db,
        f"update raw.election_results_bureau set abstentions = 299 where {where}",
        f"update raw.election_results_bureau set abstentions = 300 where {where}",
    ):
        gate = run_suites(gx_url, list(RAW_SUITES), run_id)

    assert gate.success, gate.failed_checks
    assert gate.failed_checks == []
    assert len(gate.warnings) == 1
    assert gate.warnings[0].startswith(
        "raw_election_results: unexpected_rows_expectation(inscrits, votants, abstentions) "
        "[inscrits = votants + abstentions] failed: 1 unexpected rows"
    )
    assert "29019_0001" in gate.warnings[0]

    rows = db.execute(
        "select severity, observed from ops.quality_results where run_id = %s and not success",
        (run_id,),
    ).fetchall()
    assert len(rows) == 1
    severity, observed = rows[0]
    assert severity == "warn"
    assert observed["unexpected_count"] == 1
    assert observed["partial_unexpected_list"][0]["abstentions"] == 299
    assert observed["query_label"] == "inscrits = votants + abstentions"


@pytest.mark.db
def test_failure_is_recorded_with_compact_observed(gx_url: str, db: psycopg.Connection) -> None:
    from expectations.checkpoint import run_suites

    where = f"election_id = '{ELECTION}' and bureau_id = '29019_0002'"
    run_id = _run_id()
    with corrupted(
        db,
        f"update raw.election_results_bureau set inscrits = -900 where {where}",
        f"update raw.election_results_bureau set inscrits = 900 where {where}",
    ):
        gate = run_suites(gx_url, ["raw_election_results"], run_id)

    assert not gate.success
    assert any("expect_column_values_to_be_between(inscrits)" in d for d in gate.failed_checks)
    row = db.execute(
        "select target, column_name, severity, observed from ops.quality_results "
        "where run_id = %s and expectation = 'expect_column_values_to_be_between' "
        "and column_name = 'inscrits'",
        (run_id,),
    ).fetchone()
    assert row is not None
    target, column, severity, observed = row
    assert (target, column, severity) == ("raw.election_results_bureau", "inscrits", "fail")
    assert observed["unexpected_count"] == 1
    assert observed["partial_unexpected_list"] == [-900]
    assert observed["partial_unexpected_index_list"] == [
        {"election_id": ELECTION, "bureau_id": "29019_0002", "inscrits": -900}
    ]
    assert len(json.dumps(observed)) < 2000


@pytest.mark.db
def test_a_sql_check_runs_its_query_once_and_counts_past_the_sample(
    gx_url: str, db: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Count and sample come from one execution of the check's query (GX's own expectation ran
    it twice); more offending rows than GX's 200-row sample still count in full, and the
    count column never shows in the examples."""
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    from expectations.checkpoint import run_suite
    from expectations.results import EXAMPLES_KEPT
    from expectations.suites import SuiteSpec
    from expectations.unexpected_rows import TOTAL_COLUMN

    marker = "sqlperf_once_marker"
    spec = SuiteSpec(
        name="gx_counted_once",
        table="raw.election_results_bureau",
        checks=(
            no_rows(
                "no bureau times 250",
                f"select b.election_id, b.bureau_id, g.n as {marker}\n"
                "from {batch} as b\ninner join generate_series(1, 250) as g (n) on true",
                columns=("bureau_id",),
            ),
        ),
    )
    executed: list[str] = []
    original = SqlAlchemyExecutionEngine.execute_query

    def spy(self: SqlAlchemyExecutionEngine, query: object) -> object:
        executed.append(str(query))
        return original(self, query)  # type: ignore[arg-type]

    monkeypatch.setattr(SqlAlchemyExecutionEngine, "execute_query", spy)
    outcome = run_suite(gx_url, spec, _run_id())

    (result,) = outcome.results
    bureaux = db.execute("select count(*) from raw.election_results_bureau").fetchone()
    assert bureaux is not None and bureaux[0] > 1
    assert not result.success
    assert result.observed["unexpected_count"] == 250 * bureaux[0]
    examples = result.observed["partial_unexpected_list"]
    assert len(examples) == EXAMPLES_KEPT
    assert all(TOTAL_COLUMN not in row and marker in row for row in examples)
    assert len([q for q in executed if marker in q]) == 1, executed


@pytest.mark.db
def test_sql_checks_ignore_batches_not_loaded(gx_url: str, db: psycopg.Connection) -> None:
    """Rows of a batch still `running` (or `superseded`) do not decide the arithmetic checks."""
    from expectations.checkpoint import run_suite

    batch_id = _ledger(db, "running", "2099_gx_running")
    # Column checks pass on it; the arithmetic (votants = exprimes + blancs + nuls) does not.
    _insert_bureau(db, batch_id, "2099_gx_running", ("29", "29019", "0001", 100, 90, 10, 50, 1, 1))
    try:
        outcome = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
        db.execute("update raw.batch_ledger set status = 'loaded' where batch_id = %s", (batch_id,))
        loaded = run_suite(gx_url, RAW_ELECTION_RESULTS, _run_id())
    finally:
        db.execute("delete from raw.election_results_bureau where election_id = '2099_gx_running'")
    assert outcome.success, outcome.failed_checks
    assert len(outcome.warnings) == 1
    assert outcome.warnings[0].startswith(
        "raw_election_results: unexpected_rows_expectation(batch_id) "
        "[every row belongs to a loaded batch of raw.batch_ledger] failed: 1 unexpected rows"
    )
    assert '"status": "running"' in outcome.warnings[0]
    _assert_fails(loaded, "votants = exprimes + blancs + nuls", "2099_gx_running")
    assert loaded.warnings == []


@pytest.mark.db
def test_missing_table_is_a_clean_failed_outcome(gx_url: str, db: psycopg.Connection) -> None:
    from expectations.checkpoint import run_suites

    run_id = _run_id()
    table = "raw.election_results_candidate"
    with corrupted(
        db,
        f"alter table {table} rename to election_results_candidate__hidden",
        "alter table raw.election_results_candidate__hidden rename to election_results_candidate",
    ):
        gate = run_suites(gx_url, list(RAW_SUITES), run_id)

    assert not gate.success
    results, candidates = gate.outcomes
    assert results.success, results.failed_checks
    assert candidates.suite == "raw_election_candidates"
    assert candidates.error is not None
    assert table in candidates.error and "does not exist" in candidates.error
    assert gate.failed_checks == [f"raw_election_candidates: {candidates.error}"]
    rows = db.execute(
        "select expectation, severity, success, observed from ops.quality_results "
        "where run_id = %s and suite = 'raw_election_candidates'",
        (run_id,),
    ).fetchall()
    assert len(rows) == 1
    assert rows[0][:3] == ("table_exists", "fail", False)
    assert table in rows[0][3]["error"]


@pytest.mark.db
def test_missing_schema_is_a_clean_failed_outcome(gx_url: str) -> None:
    from expectations.checkpoint import run_suite

    spec = dataclasses.replace(RAW_ELECTION_RESULTS, table="raw_nowhere.results")
    outcome = run_suite(gx_url, spec, _run_id())
    assert not outcome.success
    assert outcome.failed_checks == [
        "raw_election_results: table raw_nowhere.results does not exist "
        "(not loaded yet, or the build that creates it failed): nothing to validate"
    ]


@pytest.mark.db
def test_broken_column_is_reported_not_raised(gx_url: str) -> None:
    """A check on a column the table lacks fails that check only, with GX's error."""
    from expectations.checkpoint import run_suite
    from expectations.suites import between

    spec = dataclasses.replace(
        RAW_ELECTION_RESULTS,
        checks=(*RAW_ELECTION_RESULTS.checks, between("not_a_column", min_value=0)),
    )
    outcome = run_suite(gx_url, spec, _run_id())
    assert outcome.error is None
    assert len(outcome.failed_checks) == 1, outcome.failed_checks
    assert outcome.failed_checks[0].startswith(
        "raw_election_results: expect_column_values_to_be_between(not_a_column) failed: "
        "could not evaluate: "
    )


@pytest.mark.db
def test_unknown_suite_name_is_refused(gx_url: str) -> None:
    from expectations.checkpoint import run_suites

    with pytest.raises(ValueError, match="unknown suite"):
        run_suites(gx_url, ["raw_election_results", "nope"], _run_id())


@pytest.mark.db
def test_unreachable_warehouse_raises_for_a_retry(gx_url: str) -> None:
    """No server is not bad data: the error propagates so that the scheduler retries."""
    from expectations.checkpoint import run_suites

    with pytest.raises(ConnectionError, match="Connection refused"):
        run_suites("postgresql://scrutin@127.0.0.1:1/scrutin", list(RAW_SUITES), _run_id())


def test_sqlalchemy_url_uses_psycopg3() -> None:
    from expectations.checkpoint import sqlalchemy_url

    assert sqlalchemy_url("postgresql://u@h:1/d") == "postgresql+psycopg://u@h:1/d"
    assert sqlalchemy_url("postgres://u@h:1/d") == "postgresql+psycopg://u@h:1/d"
    assert sqlalchemy_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"


@pytest.mark.db
def test_the_runbook_names_dbt_tests_that_exist(warehouse_url: str) -> None:
    """docs/operations.md maps the former GX check names to dbt tests: every name it gives is
    a data test of the project, so an engineer finds it in ops.dbt_results."""
    from tests.compiled_dbt_tests import compile_data_tests

    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    named = set(re.findall(r"dbt test `([a-z0-9_]+)`", runbook))
    assert len(named) > 20
    assert named - set(compile_data_tests(warehouse_url)) == set()
