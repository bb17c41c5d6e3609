"""Loading every results layout into `raw`: exact totals, new columns, quarantine, the ledger
reconciling (rows read = loaded + quarantined), refusals that load nothing, data.gouv pairs.

Election ids: year 2098 with registered types (`2098_legi_t1` …), reserved to this module and
cleaned after each test, so the layout <-> type check runs while other modules' ids stay intact.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingestion.errors import SourceFormatError
from ingestion.loaders.elections import load_datagouv_files, load_results_file
from ingestion.sources.elections import iter_results

pytestmark = pytest.mark.db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results"
DATAGOUV = FIXTURES / "datagouv"

# file -> (layout, election id)
FILES = {
    "pres2022_t1_burvot.txt": ("minint_2017_pres", "2098_pres_t1"),
    "legi2022_t1_burvot.txt": ("minint_2017_legi", "2098_legi_t1"),
    "euro2019_burvot.txt": ("minint_2019_euro", "2098_euro_t1"),
    "muni2020_t1_burvot.txt": ("minint_2020_muni", "2098_muni_t1"),
    "dep2021_t1_burvot.txt": ("minint_2021_dep", "2098_dep_t1"),
    "reg2021_t1_burvot.txt": ("minint_2021_reg", "2098_reg_t1"),
    "legi2024_t1_burvot.csv": ("minint_2024", "2098_legi_t2"),
    "euro2024_burvot.csv": ("minint_2024_listes", "2098_euro_t1"),
}


@pytest.fixture(autouse=True)
def clean(conn: psycopg.Connection) -> Iterator[None]:
    yield
    for table in ("election_results_candidate", "election_results_bureau"):
        conn.execute(f"delete from raw.{table} where election_id like '2098\\_%%'")
    conn.execute(
        "delete from quarantine.rejected_rows where batch_id in "
        "(select batch_id from raw.batch_ledger where dataset_key like '2098\\_%%')"
    )
    conn.execute("delete from raw.batch_ledger where dataset_key like '2098\\_%%'")


def _one(conn: psycopg.Connection, sql: str, *params: Any) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def _totals(conn: psycopg.Connection, eid: str) -> tuple[int, int, int, int]:
    return _one(
        conn,
        "select (select count(*) from raw.election_results_bureau where election_id = %s), "
        "(select coalesce(sum(exprimes), 0) from raw.election_results_bureau "
        " where election_id = %s), "
        "(select count(*) from raw.election_results_candidate where election_id = %s), "
        "(select coalesce(sum(voix), 0) from raw.election_results_candidate "
        " where election_id = %s)",
        eid,
        eid,
        eid,
        eid,
    )


def _ledger(conn: psycopg.Connection, eid: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select status, rows_read, rows_loaded, rows_rejected, error from raw.batch_ledger "
        "where dataset_key = %s order by batch_id",
        (eid,),
    ).fetchall()


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_layout_loads_with_its_exact_totals(
    warehouse_url: str, conn: psycopg.Connection, name: str
) -> None:
    layout, eid = FILES[name]
    path = FIXTURES / name
    rows = list(iter_results(path))
    report = load_results_file(warehouse_url, path, eid)

    assert (report.status, report.layout, report.rows_rejected) == ("loaded", layout, 0)
    assert _totals(conn, eid) == (
        len(rows),
        sum(r.bureau.exprimes for r in rows),
        sum(len(r.candidates) for r in rows),
        sum(c.voix for r in rows for c in r.candidates),
    )
    assert _ledger(conn, eid) == [("loaded", len(rows), len(rows), 0, None)]
    assert (
        _one(
            conn,
            "select count(distinct layout) || ':' || min(layout) from raw.election_results_bureau "
            "where election_id = %s",
            eid,
        )
        == f"1:{layout}"
    )
    assert (
        _one(
            conn,
            "select count(*) from raw.election_results_bureau "
            "where election_id = %s and id_brut_miom is null",
            eid,
        )
        == 0
    )


def test_new_columns_land_for_lists_binomes_and_sectors(
    warehouse_url: str, conn: psycopg.Connection
) -> None:
    load_results_file(warehouse_url, FIXTURES / "muni2020_t1_burvot.txt", "2098_muni_t1")
    load_results_file(warehouse_url, FIXTURES / "dep2021_t1_burvot.txt", "2098_dep_t1")
    load_results_file(warehouse_url, FIXTURES / "euro2019_burvot.txt", "2098_euro_t1")
    assert (
        _one(
            conn,
            "select code_commune || '|' || code_secteur || '|' || id_brut_miom "
            "from raw.election_results_bureau where election_id = '2098_muni_t1' "
            "and bureau_id = '75056_0101'",
        )
        == "75056|SR01|75056SR01_0101"
    )
    assert (
        _one(
            conn,
            "select sieges || '|' || sieges_cc || '|' || elu || '|' || liste_libelle "
            "from raw.election_results_candidate where election_id = '2098_muni_t1' "
            "and bureau_id = '01001_0001' and numero_panneau = 1",
        )
        == "3|2|true|LISTE N'DIAYE 1"
    )
    assert (
        _one(
            conn,
            "select code_canton || '|' || code_departement from raw.election_results_bureau "
            "where election_id = '2098_dep_t1' and bureau_id = '97801_0001'",
        )
        == "01|978"
    )
    assert _one(
        conn,
        "select tete_de_liste || '|' || liste_libelle_abrege from raw.election_results_candidate "
        "where election_id = '2098_euro_t1' and bureau_id = '2A004_0001' and numero_panneau = 2",
    ).endswith("|LISTE LEFÈVRE 2")


def _edit(tmp_path: Path, name: str, edit) -> Path:
    raw = (FIXTURES / name).read_bytes().decode("cp1252")
    lines = raw.split("\r\n")
    path = tmp_path / name
    path.write_bytes("\r\n".join(edit(lines)).encode("cp1252"))
    return path


def _set(line: str, index: int, value: str) -> str:
    fields = line.split(";")
    fields[index] = value
    return ";".join(fields)


def test_bureau_whose_votes_do_not_add_up_is_quarantined_and_the_ledger_reconciles(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    # Line 3 (01004_0001): voix of candidate 1 +1; line 6 (97101_0001): votants off by 2.
    path = _edit(
        tmp_path,
        "legi2022_t1_burvot.txt",
        lambda ls: [
            *ls[:2],
            _set(ls[2], 26, str(int(ls[2].split(";")[26]) + 1)),
            *ls[3:5],
            _set(ls[5], 10, str(int(ls[5].split(";")[10]) + 2)),
            *ls[6:],
        ],
    )
    report = load_results_file(warehouse_url, path, "2098_legi_t1")

    assert (report.rows_read, report.bureau_rows, report.rows_rejected) == (7, 5, 2)
    assert _ledger(conn, "2098_legi_t1") == [("loaded", 7, 5, 2, None)]
    quarantined = conn.execute(
        "select q.line_no, q.column_name, q.reason, q.file_name, q.source "
        "from quarantine.rejected_rows q join raw.batch_ledger l using (batch_id) "
        "where l.dataset_key = '2098_legi_t1' order by q.line_no"
    ).fetchall()
    assert [(q[0], q[1]) for q in quarantined] == [(3, "Voix"), (6, "Inscrits")]
    assert "bureau 01004_0001: the candidates' votes add up to" in quarantined[0][2]
    assert quarantined[0][3:] == ("legi2022_t1_burvot.txt", "elections")
    assert (
        _one(
            conn,
            "select count(*) from raw.election_results_bureau where election_id = '2098_legi_t1' "
            "and bureau_id in ('01004_0001', '97101_0001')",
        )
        == 0
    )
    assert (
        _one(
            conn,
            "select count(*) from raw.election_results_candidate "
            "where election_id = '2098_legi_t1' and bureau_id in ('01004_0001', '97101_0001')",
        )
        == 0
    )


def test_too_many_broken_bureaux_refuse_the_file_and_load_nothing(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    load_results_file(warehouse_url, FIXTURES / "reg2021_t1_burvot.txt", "2098_reg_t1")
    before = _totals(conn, "2098_reg_t1")
    path = _edit(
        tmp_path,
        "reg2021_t1_burvot.txt",
        lambda ls: [
            ls[0],
            *(_set(x, 5, str(int(x.split(";")[5]) + 1)) if x else x for x in ls[1:]),
        ],
    )
    with pytest.raises(SourceFormatError, match=r"7 of 7 bureau rows break .* \(limit 3\)"):
        load_results_file(warehouse_url, path, "2098_reg_t1", max_rejected=3)
    assert _totals(conn, "2098_reg_t1") == before  # the previous version stays
    assert [r[0] for r in _ledger(conn, "2098_reg_t1")] == ["loaded", "failed"]
    assert (
        _one(
            conn,
            "select count(*) from quarantine.rejected_rows q join raw.batch_ledger l "
            "using (batch_id) where l.dataset_key = '2098_reg_t1'",
        )
        == 0
    )


def test_structural_error_deep_in_the_file_loads_nothing(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = _edit(tmp_path, "muni2020_t1_burvot.txt", lambda ls: [*ls[:9], _set(ls[9], 0, "")])
    with pytest.raises(SourceFormatError) as info:
        load_results_file(warehouse_url, path, "2098_muni_t1", chunk_rows=2)
    assert (info.value.line, info.value.column) == (10, "Code du département")
    assert _totals(conn, "2098_muni_t1") == (0, 0, 0, 0)
    (failed,) = _ledger(conn, "2098_muni_t1")
    assert failed[:2] == ("failed", 8)  # 8 rows were read, and rolled back
    assert "line 10, column 'Code du département'" in failed[4]


def test_truncated_file_is_refused_or_its_last_bureau_quarantined(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    """A download cut mid-block is refused; one cut exactly between two blocks reads as a row
    with fewer candidates, whose votes then no longer add up: quarantined, never loaded."""
    lines = (FIXTURES / "pres2022_t1_burvot.txt").read_bytes().split(b"\r\n")
    last = lines[-2].split(b";")
    path = tmp_path / "pres2022_t1_burvot.txt"
    path.write_bytes(b"\r\n".join([*lines[:-2], b";".join(last[:-2])]))
    with pytest.raises(SourceFormatError) as info:
        load_results_file(warehouse_url, path, "2098_pres_t1")
    assert (info.value.line, info.value.column) == (8, "% Voix/Ins (block 4)")
    assert _totals(conn, "2098_pres_t1") == (0, 0, 0, 0)

    path.write_bytes(b"\r\n".join([*lines[:-2], b";".join(last[:-7])]))
    report = load_results_file(warehouse_url, path, "2098_pres_t1")
    assert (report.bureau_rows, report.rows_rejected) == (6, 1)
    assert _one(
        conn,
        "select line_no || ' ' || reason from quarantine.rejected_rows where batch_id = %s",
        report.batch_id,
    ).startswith("8 bureau ZZ001_0001: the candidates' votes add up to")


def test_file_of_another_election_type_is_refused(
    warehouse_url: str, conn: psycopg.Connection
) -> None:
    with pytest.raises(SourceFormatError, match="holds legi results, not presidential ones"):
        load_results_file(warehouse_url, FIXTURES / "legi2022_t1_burvot.txt", "2098_pres_t1")
    assert _ledger(conn, "2098_pres_t1")[0][0] == "failed"


def test_layout_override_loads_and_unknown_layout_is_refused(
    warehouse_url: str, conn: psycopg.Connection
) -> None:
    report = load_results_file(
        warehouse_url, FIXTURES / "dep2021_t1_burvot.txt", "2098_dep_t1", layout="minint_2021_dep"
    )
    assert report.status == "loaded"
    with pytest.raises(ValueError, match="unknown layout"):
        load_results_file(
            warehouse_url, FIXTURES / "dep2021_t1_burvot.txt", "2098_dep_t1", layout="x"
        )


def test_datagouv_file_alone_is_refused(warehouse_url: str) -> None:
    with pytest.raises(SourceFormatError, match="companion"):
        load_results_file(warehouse_url, DATAGOUV / "general_results.csv", "2098_pres_t1")


# ------------------------------------------------------------------------------- data.gouv


def _datagouv_copy(tmp_path: Path, edit_general=None, edit_candidats=None) -> tuple[Path, Path]:
    """The fixture pair with ids moved to 2098 (and optional edits of the lines)."""
    folder = tmp_path / uuid.uuid4().hex[:8]
    folder.mkdir()
    out = []
    for name, edit in (
        ("general_results.csv", edit_general),
        ("candidats_results.csv", edit_candidats),
    ):
        text = (DATAGOUV / name).read_text(encoding="utf-8").replace("2022_pres", "2098_pres")
        text = text.replace("2021_dpmt", "2098_dpmt")
        lines = text.splitlines(keepends=True)
        if edit is not None:
            lines = edit(lines)
        (folder / name).write_text("".join(lines), encoding="utf-8")
        out.append(folder / name)
    return out[0], out[1]


def test_datagouv_pair_loads_one_batch_per_election(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    general, candidats = _datagouv_copy(tmp_path)
    reports = load_datagouv_files(warehouse_url, candidats, general)  # either order

    assert {(r.election_id, r.status, r.bureau_rows, r.candidate_rows) for r in reports} == {
        ("2098_pres_t1", "loaded", 8, 24),
        ("2098_dep_t1", "loaded", 8, 24),
    }
    lines = general.read_text(encoding="utf-8").splitlines()[1:]
    pres = [x.split(";") for x in lines if x.startswith("2098_pres")]
    assert _totals(conn, "2098_pres_t1")[:2] == (8, sum(int(f[16]) for f in pres))
    assert _ledger(conn, "2098_dep_t1") == [("loaded", 32, 32, 0, None)]
    assert (
        _one(
            conn,
            "select layout || '|' || id_brut_miom || '|' || coalesce(code_circonscription, '-') "
            "from raw.election_results_bureau where election_id = '2098_pres_t1' "
            "and bureau_id = '97801_0001'",
        )
        == "datagouv_general|97801_0001|01"
    )

    again = load_datagouv_files(warehouse_url, general, candidats)
    assert {r.status for r in again} == {"skipped"}
    assert [r[0] for r in _ledger(conn, "2098_dep_t1")] == ["loaded", "skipped"]


def test_datagouv_selection_loads_only_the_chosen_election(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    general, candidats = _datagouv_copy(tmp_path)
    reports = load_datagouv_files(warehouse_url, general, candidats, only=["2098_dep_t1"])
    assert [r.election_id for r in reports] == ["2098_dep_t1"]
    assert _totals(conn, "2098_pres_t1") == (0, 0, 0, 0)


def test_datagouv_broken_and_orphan_rows_are_quarantined(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    def break_votes(lines: list[str]) -> list[str]:
        fields = lines[1].split(";")  # 2098_pres_t1, bureau 01001_0001, panel 1
        fields[6] = str(int(fields[6]) + 5)
        lines[1] = ";".join(fields)
        orphan = lines[2].replace("01001_0001", "01999_0001").replace(";01001;", ";01999;")
        return [*lines, orphan]

    general, candidats = _datagouv_copy(tmp_path, edit_candidats=break_votes)
    reports = {r.election_id: r for r in load_datagouv_files(warehouse_url, general, candidats)}
    pres = reports["2098_pres_t1"]
    # Bureau 01001_0001 (1 general + 3 candidate lines) and the orphan line: 5 rows.
    assert (pres.rows_read, pres.bureau_rows, pres.candidate_rows, pres.rows_rejected) == (
        33,
        7,
        21,
        5,
    )
    assert _ledger(conn, "2098_pres_t1") == [("loaded", 33, 28, 5, None)]
    reasons = conn.execute(
        "select q.file_name, q.column_name, q.reason from quarantine.rejected_rows q "
        "join raw.batch_ledger l using (batch_id) where l.dataset_key = '2098_pres_t1' "
        "order by q.file_name desc, q.line_no"
    ).fetchall()
    assert reasons[0][:2] == ("general_results.csv", "voix")
    assert "add up to" in reasons[0][2]
    assert any("no such bureau in general_results.csv" in r[2] for r in reasons)
    assert reports["2098_dep_t1"].rows_rejected == 0


def test_datagouv_duplicate_bureau_refuses_the_pair(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    general, candidats = _datagouv_copy(tmp_path, edit_general=lambda ls: [*ls, ls[2]])
    with pytest.raises(SourceFormatError) as info:
        load_datagouv_files(warehouse_url, general, candidats)
    assert (info.value.line, info.value.column) == (18, "id_brut_miom")
    assert "already appears on line 3" in info.value.reason
    assert _totals(conn, "2098_pres_t1") == (0, 0, 0, 0)
    assert _totals(conn, "2098_dep_t1") == (0, 0, 0, 0)
    assert {r[0] for r in _ledger(conn, "2098_pres_t1")} == {"failed"}


def test_datagouv_unsupported_election_refuses_unless_selected(
    warehouse_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    general, candidats = _datagouv_copy(
        tmp_path,
        edit_general=lambda ls: [*ls, ls[1].replace("2098_pres_t1", "2098_sena_t1")],
    )
    with pytest.raises(SourceFormatError, match="senatorial"):
        load_datagouv_files(warehouse_url, general, candidats)
    reports = load_datagouv_files(
        warehouse_url, general, candidats, only=["2098_pres_t1", "2098_dep_t1"]
    )
    assert len(reports) == 2
