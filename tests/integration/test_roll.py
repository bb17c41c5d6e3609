"""Roll extracts aggregated at ingestion: counts, doors, mapping, errors, replacement."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from ingestion.errors import SourceFormatError
from ingestion.loaders.roll import load_roll_file, roll_files
from ingestion.sources.roll import (
    DEFAULT_MAPPING,
    MappingError,
    RollMapping,
    age_at,
    aggregate_roll,
    load_mapping,
    parse_birth_date,
    reference_date_from_name,
)
from tests.conftest import ROOT, SAMPLE, TEST_DB, TOUR1, drop_warehouse, fresh_warehouse
from tests.fixtures.roll.roll_layout import (
    HAND_FIXTURE,
    HAND_ROWS,
    elector,
    render,
    write_extract,
)
from tests.fixtures.roll.warehouse import clean_roll, seed_reference

pytestmark = pytest.mark.db

SAMPLE_ROLL = sorted((SAMPLE / "roll").glob("*.csv"))

# The hand-computed expectation of tests/fixtures/roll (ages at 10/06/2024, see roll_layout.py).
HAND_COUNTS = {
    ("29999_0001", "LP", "18-24", "F"): 1,  # 18 on the reference date
    ("29999_0001", "LP", "18-24", "M"): 2,  # 17 (turns 18 the next day) and 24
    ("29999_0001", "LP", "25-34", "F"): 1,  # 25 on the reference date
    ("29999_0001", "LP", "35-49", "X"): 1,  # sex left empty
    ("29999_0001", "LP", "65-74", "F"): 1,  # 00/00/1949: 1 July -> still 74
    ("29999_0001", "LP", "75+", "M"): 2,  # 75 on the reference date; 29/02/1944 ('Masculin')
    ("29999_0002", "LP", "25-34", "F"): 1,
    ("29999_0002", "LP", "50-64", "F"): 1,
    ("29999_0002", "LCM", "35-49", "M"): 1,  # one EU national on both complementary lists
    ("29999_0002", "LCE", "35-49", "M"): 1,
}
# 3 rue de la Paix (4 spellings, a flat), 5 rue de la Paix (2 spellings), 7 rue de la Paix,
# the hamlet; 1 place Publique (3 people, 2 spellings).
HAND_DOORS = {"29999_0001": 4, "29999_0002": 1}


@pytest.fixture
def clean(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    with clean_roll(conn) as c:
        yield c


def _counts(conn: psycopg.Connection) -> dict[tuple[str, str, str, str], int]:
    rows = conn.execute(
        "select bureau_id, list_type, age_band, sex, voters from raw.roll_bureau_counts"
    ).fetchall()
    return {(b, lt, a, s): n for b, lt, a, s, n in rows}


def _doors(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute("select bureau_id, doors from raw.roll_bureau_doors").fetchall())


def _ledger(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select batch_id, status, rows_read, rows_loaded, rows_rejected, error "
        "from raw.batch_ledger where source = 'roll' order by batch_id"
    ).fetchall()


# ---- aggregation on the hand-computed fixture ------------------------------------------------


def test_fixture_file_is_what_its_generator_writes() -> None:
    assert HAND_FIXTURE.read_text(encoding="utf-8") == render(HAND_ROWS)


def test_hand_computed_counts_doors_and_quarantine(clean: psycopg.Connection) -> None:
    report = load_roll_file(clean, HAND_FIXTURE)
    assert report.status == "loaded"
    assert (report.reference_date, report.reference_date_source) == (
        dt.date(2024, 6, 10),
        "file name",
    )
    assert (report.electors_read, report.electors_counted, report.rows_rejected) == (13, 12, 1)
    assert _counts(clean) == HAND_COUNTS
    assert _doors(clean) == HAND_DOORS
    assert clean.execute(
        "select distinct code_commune, code_commune_results, reference_date "
        "from raw.roll_bureau_counts"
    ).fetchall() == [("29999", "29999", dt.date(2024, 6, 10))]
    quarantined = clean.execute(
        "select file_name, line_no, column_name, reason from quarantine.rejected_rows "
        "where source = 'roll'"
    ).fetchall()
    assert quarantined == [
        (HAND_FIXTURE.name, 13, "code du bureau de vote", "no bureau code: not counted")
    ]
    assert _ledger(clean)[0][1:5] == ("loaded", 13, 12, 1)


def test_as_of_moves_people_between_bands(clean: psycopg.Connection) -> None:
    """One day later, the man born 11/06/1999 turns 25: he leaves 18-24 for 25-34."""
    load_roll_file(clean, HAND_FIXTURE, as_of=dt.date(2024, 6, 11))
    counts = _counts(clean)
    assert counts[("29999_0001", "LP", "18-24", "M")] == 1  # the one who just turned 18
    assert counts[("29999_0001", "LP", "25-34", "M")] == 1
    assert counts[("29999_0001", "LP", "25-34", "F")] == 1
    assert clean.execute(
        "select distinct reference_date from raw.roll_bureau_counts"
    ).fetchall() == [(dt.date(2024, 6, 11),)]


def test_birth_date_forms_and_ages() -> None:
    assert parse_birth_date("29/02/1944") == (1944, 2, 29)
    assert parse_birth_date("1944-02-29") == (1944, 2, 29)
    assert parse_birth_date("00/00/1953") == (1953, None, None)
    assert parse_birth_date("00/05/1953") == (1953, 5, None)
    assert parse_birth_date("1961") == (1961, None, None)
    for bad in ("31/02/1950", "1950/01/01", "01/13/1950", "00/13/1950", "", "Dupont"):
        assert parse_birth_date(bad) is None, bad
    ref = dt.date(2024, 6, 10)
    assert age_at((2006, 6, 10), ref) == 18
    assert age_at((2006, 6, 11), ref) == 17
    assert age_at((1949, None, None), ref) == 74  # counted as born on 1 July
    assert age_at((1949, 6, None), ref) == 74  # counted as born on the 15th
    assert reference_date_from_name("ListesElecteursActifs-com85194-13-02-2026-08h44.csv") == (
        dt.date(2026, 2, 13)
    )
    assert reference_date_from_name("roll-2024-06-10.csv") == dt.date(2024, 6, 10)
    assert reference_date_from_name("extract.csv") is None


# ---- mapping, separators, encodings ----------------------------------------------------------


def test_default_mapping_file_equals_the_built_in_default() -> None:
    on_disk = yaml.safe_load((ROOT / "config" / "roll_mapping.yml").read_text(encoding="utf-8"))
    assert on_disk == dict(DEFAULT_MAPPING)
    assert load_mapping().fields == RollMapping.from_dict(DEFAULT_MAPPING, "x").fields


def test_custom_layout_with_a_mapping_file(clean: psycopg.Connection, tmp_path: Path) -> None:
    mapping = tmp_path / "mairie.yml"
    mapping.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "separator": ",",
                "fields": {
                    "commune_code": ["Commune INSEE"],
                    "bureau_code": ["N° BV"],
                    "sex": ["Genre"],
                    "birth_date": ["Né(e) le"],
                    "street": ["Adresse"],
                },
                "required": ["bureau_code", "sex", "birth_date"],
                "door_key": ["street"],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    path = tmp_path / "export-mairie.csv"
    path.write_text(
        "Nom,Prénom,Genre,Né(e) le,Adresse,N° BV,Commune INSEE\n"
        "FICTIF,Une,F,02/03/1970,3 rue du Port,1,29999\n"
        'FICTIF,Deux,M,02/03/1971,"3, rue du port",1,29999\n'
        "FICTIF,Trois,F,02/03/2000,8 rue du Port,2,29999\n",
        encoding="utf-8",
    )
    load_roll_file(clean, path, mapping=mapping, as_of=dt.date(2024, 1, 1))
    assert _counts(clean) == {
        ("29999_0001", "LP", "50-64", "F"): 1,
        ("29999_0001", "LP", "50-64", "M"): 1,
        ("29999_0002", "LP", "18-24", "F"): 1,
    }
    assert _doors(clean) == {"29999_0001": 1, "29999_0002": 1}


def test_cp1252_and_comma_separated_extract_gives_the_same_counts(tmp_path: Path) -> None:
    path = write_extract(tmp_path / HAND_FIXTURE.name, HAND_ROWS, separator=",", encoding="cp1252")
    result = aggregate_roll(path)
    by_bureau = {(f"{c}_{bv}", lt, a, s): n for (c, bv, lt, a, s), n in result.counts.items()}
    assert by_bureau == HAND_COUNTS


def test_bad_mapping_names_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("fields:\n  nom: [nom de naissance]\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"bad\.yml: fields\.nom: unknown field"):
        load_mapping(path)


# ---- refused files: file, line, column, never the value ----------------------------------------


def _refused(conn: psycopg.Connection, path: Path, **kwargs: Any) -> SourceFormatError:
    with pytest.raises(SourceFormatError) as info:
        load_roll_file(conn, path, **kwargs)
    assert _ledger(conn)[-1][1] == "failed" and _ledger(conn)[-1][5] == str(info.value)
    assert _counts(conn) == {}
    return info.value


def test_unreadable_birth_date_names_line_and_column_not_the_value(
    clean: psycopg.Connection, tmp_path: Path
) -> None:
    rows = list(HAND_ROWS)
    rows[3] = rows[3] | {"date de naissance": "31/02/1931"}
    path = write_extract(tmp_path / HAND_FIXTURE.name, rows)
    error = _refused(clean, path)
    assert (error.line, error.column) == (5, "date de naissance")
    assert "31/02/1931" not in str(error) and "1931" not in str(error)
    assert "value not shown" in str(error)


def _truncate_line_13(text: str) -> str:
    lines = text.split("\n")
    lines[12] = lines[12][:-5]  # drops the last fields of the 12th elector (file line 13)
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("mutate", "line", "column", "words"),
    [
        (lambda t: t.replace('"sexe"', '"genre"', 1), 1, None, "required field 'sex'"),
        (_truncate_line_13, 13, None, "fields as in the header"),
        (lambda t: t.split("\n", 1)[0] + "\n", 2, None, "no data row"),
        (lambda t: "", 1, None, "empty"),
        (
            lambda t: t.replace('"Liste principale"', '"Liste spéciale"', 1),
            2,
            "libellé du type de liste",
            "LP/LCM/LCE",
        ),
    ],
)
def test_structural_errors(  # noqa: PLR0917 -- pytest passes parameters positionally
    clean: psycopg.Connection,
    tmp_path: Path,
    mutate: Any,
    line: int,
    column: str | None,
    words: str,
) -> None:
    path = tmp_path / HAND_FIXTURE.name
    path.write_text(mutate(render(HAND_ROWS)), encoding="utf-8")
    error = _refused(clean, path)
    assert (error.line, error.column) == (line, column)
    assert words in str(error)


def test_no_reference_date_and_implausible_age(clean: psycopg.Connection, tmp_path: Path) -> None:
    undated = write_extract(tmp_path / "extract.csv", HAND_ROWS)
    error = _refused(clean, undated)
    assert "--as-of" in str(error)
    error = _refused(clean, undated, as_of=dt.date(2005, 1, 1))  # before some births
    assert error.column == "date de naissance" and "age outside" in str(error)


# ---- idempotence and replacement by commune --------------------------------------------------


def test_same_file_skipped_new_extract_replaces_its_commune(
    clean: psycopg.Connection, tmp_path: Path
) -> None:
    seed_reference(clean, {"29998_0001", "29999_0003"})
    first = load_roll_file(clean, HAND_FIXTURE)
    again = load_roll_file(clean, HAND_FIXTURE)
    assert again.status == "skipped" and again.loaded_batch_id == first.batch_id
    other = write_extract(
        tmp_path / "ListesElecteursActifs-com29998-10-06-2024-08h00.csv",
        [elector("0001", "F", "01/01/1990", number="1", street="Rue X", commune="29998")],
    )
    other_report = load_roll_file(clean, other)
    newer = write_extract(
        tmp_path / "ListesElecteursActifs-com29999-01-09-2024-08h00.csv",
        [elector("0003", "M", "01/01/1960", number="2", street="Rue Y")],
    )
    newer_report = load_roll_file(clean, newer)
    assert newer_report.superseded == (first.batch_id,)
    assert _counts(clean) == {
        ("29998_0001", "LP", "25-34", "F"): 1,
        ("29999_0003", "LP", "50-64", "M"): 1,
    }
    statuses = {r[0]: r[1] for r in _ledger(clean)}
    assert statuses[first.batch_id] == "superseded"
    assert statuses[other_report.batch_id] == "loaded"
    # The same bytes with another reference date are a new load (ages differ).
    assert load_roll_file(clean, other, as_of=dt.date(2030, 1, 1)).status == "loaded"


# ---- the bundled synthetic extracts ----------------------------------------------------------


def test_sample_extracts_match_the_registered_voters(clean: psycopg.Connection) -> None:
    for path in SAMPLE_ROLL:
        assert load_roll_file(clean, path).status == "loaded"
    principal = dict(
        clean.execute(
            "select bureau_id, sum(voters) from raw.roll_bureau_counts where list_type = 'LP' "
            "group by 1"
        ).fetchall()
    )
    with TOUR1.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        expected = {
            f"{r[2]}_{int(r[4]):04d}": int(r[5]) for r in reader if r[2] in ("29061", "29084")
        }
    assert principal == expected
    doors = _doors(clean)
    assert set(doors) == set(expected)
    assert all(0.25 * expected[b] < doors[b] < expected[b] for b in doors)


def test_sample_roll_generator_is_deterministic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_sample_roll", ROOT / "scripts" / "generate_sample_roll.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT_DIR", tmp_path)
    module.main()
    for path in SAMPLE_ROLL:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_cli_and_landing_folder(
    clean: psycopg.Connection, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.cli import main

    assert [p.name for p in roll_files()] == [p.name for p in SAMPLE_ROLL]
    assert main(["ingest", "roll", str(HAND_FIXTURE), "--as-of", "2024-06-10"]) == 0
    out = capsys.readouterr().out
    assert "12 counted in 2 bureaux of 29999" in out and "1 rejected" in out
    assert main(["ingest", "roll", str(HAND_FIXTURE)]) == 0
    assert "skipped" in capsys.readouterr().out


# ---- quality suites and the DAG --------------------------------------------------------------


@pytest.mark.slow
def test_roll_suites_pass_and_catch_bad_cells(
    clean: psycopg.Connection, warehouse_url: str
) -> None:
    from expectations.checkpoint import run_suites
    from expectations.suites_roll import ROLL_SUITES

    load_roll_file(clean, HAND_FIXTURE)
    outcome = run_suites(warehouse_url, ROLL_SUITES, "test_roll_ok")
    assert outcome.success, outcome.failed_checks
    batch = clean.execute("select max(batch_id) from raw.roll_bureau_counts").fetchone()
    assert batch is not None
    clean.execute("alter table raw.roll_bureau_counts drop constraint roll_bureau_counts_sex_check")
    try:
        clean.execute(
            "insert into raw.roll_bureau_counts (batch_id, reference_date, code_commune, "
            "code_commune_results, code_bv, bureau_id, list_type, age_band, sex, voters) values "
            "(%s, '2024-06-10', '29999', '29999', '0002', '29999_0002', 'LP', '25-34', 'Z', -1)",
            (batch[0],),
        )
        clean.execute("update raw.roll_bureau_doors set doors = 99 where bureau_id = '29999_0002'")
        outcome = run_suites(warehouse_url, ROLL_SUITES, "test_roll_bad")
    finally:
        clean.execute("delete from raw.roll_bureau_counts where sex = 'Z'")
        clean.execute(
            "alter table raw.roll_bureau_counts add constraint roll_bureau_counts_sex_check "
            "check (sex in ('F', 'M', 'X'))"
        )
    failed = "\n".join(outcome.failed_checks)
    assert "expect_column_values_to_be_in_set(sex)" in failed
    assert "expect_column_values_to_be_between(voters)" in failed
    assert "doors <= electors counted in the bureau" in failed


def test_a_mapping_pointing_at_the_postcode_is_refused_and_keeps_the_commune(
    clean: psycopg.Connection, tmp_path: Path
) -> None:
    """A wrong mapping must not replace a commune's bureaux with a made-up one (review finding)."""
    sample = SAMPLE / "roll" / "ListesElecteursActifs-com29061-10-06-2024-09h30.csv"
    load_roll_file(clean, sample)
    before = clean.execute(
        "select count(*), sum(doors) from raw.roll_bureau_doors where code_commune = '29061'"
    ).fetchone()
    mapping = yaml.safe_load((ROOT / "config" / "roll_mapping.yml").read_text(encoding="utf-8"))
    mapping["fields"]["bureau_code"] = ["code postal"]
    wrong = tmp_path / "wrong.yml"
    wrong.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    copy = tmp_path / "ListesElecteursActifs-com29061-11-06-2024-09h30.csv"
    copy.write_bytes(sample.read_bytes())

    with pytest.raises(SourceFormatError, match=r"polling-station key.*column mapping") as err:
        load_roll_file(clean, copy, mapping=wrong)
    assert err.value.line == 2
    assert "29850" not in str(err.value)  # the postcode, a value of the roll, is not quoted
    after = clean.execute(
        "select count(*), sum(doors) from raw.roll_bureau_doors where code_commune = '29061'"
    ).fetchone()
    assert after == before
    assert before is not None and before[0] == 6


def test_a_mapping_that_is_not_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    from ingestion.sources.roll import MappingError

    path = tmp_path / "broken.yml"
    path.write_text('fields:\n  bureau_code: ["code du bureau"\n  sex: x\n', encoding="utf-8")
    with pytest.raises(MappingError) as err:
        load_mapping(path)
    message = str(err.value)
    assert message.startswith(f"{path}, line ")
    assert "column" in message and "not valid YAML" in message
    assert "<unicode string>" not in message


# ---- bureau codes checked against the bureau reference (hostile input, issue 14) --------------


def test_a_surname_in_the_bureau_column_is_quarantined_not_published(
    clean: psycopg.Connection, tmp_path: Path
) -> None:
    """Before: any 1-8 letters or digits made a bureau, so `29999_DUPONTEL` was published with
    that voter's sex and age band."""
    rows = [*HAND_ROWS, elector("DUPONTEL", "M", "02/03/1961", number="9", street="Rue Haute")]
    path = write_extract(tmp_path / HAND_FIXTURE.name, rows)
    report = load_roll_file(clean, path)
    assert report.status == "loaded"
    assert _counts(clean) == HAND_COUNTS  # the hand-computed counts, nothing more
    assert "29999_DUPONTEL" not in _doors(clean)
    quarantined = clean.execute(
        "select line_no, column_name, reason from quarantine.rejected_rows "
        "where source = 'roll' and reason like '%%bureau reference%%'"
    ).fetchall()
    assert quarantined == [
        (
            len(rows) + 1,  # header on line 1
            "code du bureau de vote",
            "bureau not in the bureau reference (REU, results): not counted "
            "(value not shown: the roll holds personal data)",
        )
    ]
    every_text = clean.execute(
        "select string_agg(coalesce(reason, '') || coalesce(column_name, ''), ' ') "
        "from quarantine.rejected_rows"
    ).fetchone()
    assert every_text is not None and "DUPONTEL" not in (every_text[0] or "")


def test_without_any_bureau_reference_the_roll_is_refused() -> None:
    """In a warehouse of its own: no REU table and no results loaded at all."""
    from scrutin.db import connect

    name = f"{TEST_DB}_roll_noref"
    try:
        with connect(fresh_warehouse(name), autocommit=True) as empty:
            error = _refused(empty, HAND_FIXTURE)
        assert "no bureau reference is loaded" in str(error)
        assert "scrutin ingest reu" in str(error)
    finally:
        drop_warehouse(name)


def test_a_group_of_extracts_loads_around_a_refused_one(
    clean: psycopg.Connection, warehouse_url: str, tmp_path: Path
) -> None:
    """What each roll task of the DAG does with its group: every extract in its own
    transaction over one connection; a refused file is reported with its line and column and
    does not stop the files after it."""
    from ingestion.loaders.roll import load_roll_files

    rows = list(HAND_ROWS)
    rows[3] = rows[3] | {"date de naissance": "31/02/1931"}
    bad = write_extract(tmp_path / HAND_FIXTURE.name, rows)
    group = [SAMPLE_ROLL[0], bad, *SAMPLE_ROLL[1:]]
    reports, refused = load_roll_files(warehouse_url, group)
    assert [r.status for r in reports] == ["loaded"] * len(SAMPLE_ROLL)
    assert [path for path, _ in refused] == [str(bad)]
    assert "line 5" in refused[0][1] and "1931" not in refused[0][1]
    loaded = {row[0] for row in clean.execute("select bureau_id from raw.roll_bureau_counts")}
    assert loaded and not any(b.startswith("29999_") for b in loaded)
    assert [status for _, status, *_ in _ledger(clean)].count("failed") == 1
    # The same group again: the loaded files are skipped, the refused one refused again.
    again, refused_again = load_roll_files(warehouse_url, group)
    assert [r.status for r in again] == ["skipped"] * len(SAMPLE_ROLL)
    assert len(refused_again) == 1


def test_one_connection_checks_the_warehouse_once_for_a_run_of_files(
    clean: psycopg.Connection,
    warehouse_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A national roll is ~35,000 extracts over one connection per group: the migration check
    and the sweep of dead loads run once per connection every CHECK_EVERY_S, not once a file;
    a new connection always checks."""
    from ingestion.loaders.roll import load_roll_files
    from scrutin.warehouse import batch

    checks: list[int] = []
    real = batch.require_migrated
    monkeypatch.setattr(batch, "require_migrated", lambda c: checks.append(1) or real(c))
    files = [
        write_extract(
            tmp_path / f"ListesElecteursActifs-com29999-0{day}-06-2024-08h00.csv",
            [elector("0001", "F", "01/01/1990", number=str(day), street="Rue X")],
        )
        for day in (1, 2, 3)
    ]
    reports, refused = load_roll_files(warehouse_url, files)
    assert refused == [] and [r.status for r in reports] == ["loaded"] * 3
    assert len(checks) == 1
    # the last extract replaced the others (one commune): the ledger says so
    assert [r.superseded for r in reports] == [(), (reports[0].batch_id,), (reports[1].batch_id,)]

    monkeypatch.setattr(batch, "CHECK_EVERY_S", 0.0)
    checks.clear()
    load_roll_files(warehouse_url, files[:2])
    assert len(checks) == 2


def test_a_group_counted_ahead_loads_what_files_loaded_one_by_one_load(
    clean: psycopg.Connection,
    warehouse_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`load_roll_files` counts the next extract in a thread while it writes this one: the
    same rows as loading each file alone; a group already loaded is only skipped, nothing is
    counted again."""
    from ingestion.loaders import roll as loader
    from ingestion.loaders.roll import load_roll_files

    def written() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        counts = clean.execute(
            "select bureau_id, list_type, age_band, sex, voters from raw.roll_bureau_counts "
            "order by 1, 2, 3, 4"
        ).fetchall()
        doors = clean.execute(
            "select bureau_id, doors from raw.roll_bureau_doors order by 1"
        ).fetchall()
        return counts, doors

    group = [*SAMPLE_ROLL, HAND_FIXTURE]
    for path in group:
        assert load_roll_file(clean, path).status == "loaded"
    alone = written()
    clean.execute("delete from raw.roll_bureau_counts; delete from raw.roll_bureau_doors")
    clean.execute("delete from quarantine.rejected_rows where source = 'roll'")
    clean.execute("delete from raw.batch_ledger where source = 'roll'")

    counted: list[str] = []
    counting_s: dict[str, float] = {}
    real = loader.aggregate_roll_fast

    def counting(path: Path, **kwargs: Any) -> Any:
        counted.append(Path(path).name)
        started = time.perf_counter()
        try:
            return real(path, **kwargs)
        finally:
            counting_s[Path(path).name] = time.perf_counter() - started

    monkeypatch.setattr(loader, "aggregate_roll_fast", counting)
    reports, refused = load_roll_files(warehouse_url, group)
    assert refused == [] and [r.status for r in reports] == ["loaded"] * len(group)
    assert written() == alone and alone[0]
    assert sorted(counted) == sorted(p.name for p in group)  # once each, ahead
    # a file's ledger duration counts its counting, though it ran before its load began
    durations = dict(
        clean.execute(
            "select file_name, duration_s from raw.batch_ledger "
            "where source = 'roll' and status = 'loaded'"
        ).fetchall()
    )
    assert all(durations[name] >= counting_s[name] for name in counting_s), (
        durations,
        counting_s,
    )
    counted.clear()
    again, _ = load_roll_files(warehouse_url, group)
    assert [r.status for r in again] == ["skipped"] * len(group)
    assert counted == []
