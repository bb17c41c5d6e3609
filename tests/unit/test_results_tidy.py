"""`scrutin results tidy`: every layout in, one tidy long table out (CSV streamed, Parquet in
batches), no database. Counts are checked against the parser and, for the real Brest file,
against the published totals."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingestion.errors import SourceFormatError
from ingestion.sources.elections import iter_results
from ingestion.tidy import TIDY_COLUMNS, tidy_results
from tests.conftest import TOUR1

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results"
DATAGOUV = FIXTURES / "datagouv"
WIDE = sorted(p.name for p in FIXTURES.glob("*_burvot.*"))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == TIDY_COLUMNS
        return list(reader)


def _election_id_of(fixture: str) -> str:
    """`pres2022_t1_burvot.txt` -> `2022_pres_t1` (the fixture names say type and year)."""
    match = re.match(r"([a-z]+)(\d{4})", fixture)
    assert match is not None, fixture
    return f"{match.group(2)}_{match.group(1)}_t1"


@pytest.mark.parametrize("name", WIDE)
def test_every_layout_tidies_to_one_row_per_bureau_and_candidate(tmp_path: Path, name: str) -> None:
    source = FIXTURES / name
    parsed = list(iter_results(source))
    election_id = _election_id_of(name)
    report = tidy_results([source], tmp_path / "out.csv", election_id=election_id)
    rows = _read_csv(tmp_path / "out.csv")

    assert report.rows == len(rows) == sum(len(r.candidates) for r in parsed)
    assert report.bureaux == len(parsed)
    assert report.bureaux_with_issue == 0
    assert sum(int(r["voix"]) for r in rows) == sum(c.voix for p in parsed for c in p.candidates)
    assert {r["election_id"] for r in rows} == {election_id}
    assert {r["layout"] for r in rows} == {report.layout}
    # The bureau's turnout is repeated on each of its rows.
    first = parsed[0]
    own = [r for r in rows if r["bureau_id"] == first.bureau.bureau_id]
    assert len(own) == len(first.candidates)
    assert {r["inscrits"] for r in own} == {str(first.bureau.inscrits)}
    assert {r["code_commune"] for r in rows} >= {"01001", "2A004", "97101"}
    assert all(r["code_bv"] and r["bureau_id"] and r["voix"] for r in rows)


def test_parquet_holds_the_same_table_with_types(tmp_path: Path) -> None:
    source = FIXTURES / "muni2020_t1_burvot.txt"
    tidy_results([source], tmp_path / "out.csv", election_id="2020_muni_t1")
    report = tidy_results([source], tmp_path / "out.parquet", election_id="2020_muni_t1")
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == report.rows == 32
    assert tuple(table.schema.names) == TIDY_COLUMNS
    assert str(table.schema.field("voix").type) == "int32"
    assert str(table.schema.field("elu").type) == "bool"
    csv_rows = _read_csv(tmp_path / "out.csv")
    as_text = [
        {k: "" if v is None else ("true" if v is True else "false" if v is False else str(v))
         for k, v in row.items()}
        for row in table.to_pylist()
    ]  # fmt: skip
    assert as_text == csv_rows
    polynesia = [r for r in csv_rows if r["bureau_id"] == "98736_0001"]
    assert [r["elu"] for r in polynesia] == ["true", "false", "false", "false"]
    paris = [r for r in csv_rows if r["code_secteur"] == "SR01"]
    assert {r["code_commune"] for r in paris} == {"75056"}


def test_real_brest_file_keeps_its_published_totals(tmp_path: Path) -> None:
    report = tidy_results([TOUR1], tmp_path / "brest.parquet", election_id="2024_legi_t1")
    table = pq.read_table(tmp_path / "brest.parquet").to_pydict()
    assert report.rows == 1798 and report.bureaux == 201
    assert sum(table["voix"]) == 120586
    bureaux = {(b, e) for b, e in zip(table["bureau_id"], table["exprimes"], strict=True)}
    assert len(bureaux) == 201
    assert sum(e for _, e in bureaux) == 120586
    cadalen = sum(v for v, n in zip(table["voix"], table["nom"], strict=True) if n == "CADALEN")
    assert cadalen == 18850


def test_broken_bureau_is_written_with_its_issue(tmp_path: Path) -> None:
    raw = (FIXTURES / "dep2021_t1_burvot.txt").read_bytes().decode("cp1252").split("\r\n")
    fields = raw[2].split(";")
    fields[7] = str(int(fields[7]) + 3)  # Inscrits
    raw[2] = ";".join(fields)
    source = tmp_path / "dep.txt"
    source.write_bytes("\r\n".join(raw).encode("cp1252"))
    report = tidy_results([source], tmp_path / "out.csv", election_id="2021_dep_t1")
    rows = _read_csv(tmp_path / "out.csv")
    flagged = {r["bureau_id"]: r["issue"] for r in rows if r["issue"]}
    assert report.bureaux_with_issue == 1
    assert list(flagged) == ["01004_0001"]
    assert "inscrits" in flagged["01004_0001"]


def test_datagouv_pair_tidies_with_our_election_ids(tmp_path: Path) -> None:
    report = tidy_results(
        [DATAGOUV / "candidats_results.csv", DATAGOUV / "general_results.csv"],
        tmp_path / "dg.csv",
    )
    rows = _read_csv(tmp_path / "dg.csv")
    candidats = (DATAGOUV / "candidats_results.csv").read_text(encoding="utf-8").splitlines()
    assert report.rows == len(rows) == len(candidats) - 1
    assert report.bureaux == 16
    assert {r["election_id"] for r in rows} == {"2022_pres_t1", "2021_dep_t1"}
    assert sum(int(r["voix"]) for r in rows) == sum(int(x.split(";")[6]) for x in candidats[1:])
    dep = [r for r in rows if r["election_id"] == "2021_dep_t1"]
    assert all(r["nom"].startswith("M. ") for r in dep)
    only = tidy_results(
        [DATAGOUV / "general_results.csv", DATAGOUV / "candidats_results.csv"],
        tmp_path / "only.parquet",
        only=["2021_dep_t1"],
    )
    assert only.rows == len(dep)


def test_datagouv_orphan_candidate_is_kept_with_an_issue(tmp_path: Path) -> None:
    lines = (DATAGOUV / "candidats_results.csv").read_text(encoding="utf-8").splitlines(True)
    orphan = lines[1].replace("01001_0001", "01999_0001").replace(";01001;", ";01999;")
    (tmp_path / "candidats_results.csv").write_text("".join([*lines, orphan]), encoding="utf-8")
    report = tidy_results(
        [DATAGOUV / "general_results.csv", tmp_path / "candidats_results.csv"],
        tmp_path / "out.csv",
    )
    rows = _read_csv(tmp_path / "out.csv")
    (kept,) = [r for r in rows if r["bureau_id"] == "01999_0001"]
    assert kept["inscrits"] == "" and "no such bureau" in kept["issue"]
    assert report.bureaux_with_issue == 1


def test_bad_input_leaves_no_output(tmp_path: Path) -> None:
    raw = (FIXTURES / "legi2024_t1_burvot.csv").read_text(encoding="utf-8").splitlines(True)
    fields = raw[5].split(";")
    fields[5] = "12x"  # Inscrits
    raw[5] = ";".join(fields)
    source = tmp_path / "bad.csv"
    source.write_text("".join(raw), encoding="utf-8")
    out = tmp_path / "out.csv"
    with pytest.raises(SourceFormatError) as info:
        tidy_results([source], out, election_id="2024_legi_t1")
    assert (info.value.line, info.value.column) == (6, "Inscrits")
    assert not out.exists() and not list(tmp_path.glob("*.part"))
    with pytest.raises(ValueError, match=r"\.csv or \.parquet"):
        tidy_results([source], tmp_path / "out.xlsx", election_id="2024_legi_t1")
    with pytest.raises(SourceFormatError, match="companion"):
        tidy_results([DATAGOUV / "general_results.csv"], out)


SCRUTIN = [sys.executable, "-m", "pipeline.cli"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SCRUTIN, *args], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ},
    )  # fmt: skip


def test_cli_tidy_writes_the_table_and_names_errors(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    done = _cli(
        "results", "tidy", str(FIXTURES / "reg2021_t1_burvot.txt"), "-o", str(out),
        "--election-id", "2021_reg_t1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "23 rows, 7 bureaux (minint_2021_reg)" in done.stdout
    assert pq.read_table(out).num_rows == 23
    bad = _cli(
        "results", "tidy", str(FIXTURES / "reg2021_t1_burvot.txt"), "-o", str(out),
        "--layout", "minint_2019_euro", "--election-id", "2019_euro_t1",
    )  # fmt: skip
    assert bad.returncode == 3  # bad input
    assert "line 1, column 'N°Panneau'" in bad.stderr and "Traceback" not in bad.stderr
    listed = _cli("results", "layouts")
    assert listed.returncode == 0 and "minint_2020_muni" in listed.stdout


def test_datagouv_duplicate_bureau_is_refused_naming_both_lines(tmp_path: Path) -> None:
    lines = (DATAGOUV / "general_results.csv").read_text(encoding="utf-8").splitlines(True)
    (tmp_path / "general_results.csv").write_text("".join([*lines, lines[4]]), encoding="utf-8")
    with pytest.raises(SourceFormatError) as info:
        tidy_results(
            [tmp_path / "general_results.csv", DATAGOUV / "candidats_results.csv"],
            tmp_path / "out.csv",
        )
    assert (info.value.line, info.value.column) == (18, "id_brut_miom")
    assert "already appears on line 5" in info.value.reason
    assert not (tmp_path / "out.csv").exists()


def test_tidy_refuses_an_election_id_the_layout_cannot_hold(tmp_path: Path) -> None:
    """Same rule as the loader: a présidentielle file is not législatives (review finding)."""
    from ingestion.tidy import tidy_results

    out = tmp_path / "o.csv"
    with pytest.raises(SourceFormatError, match="holds pres results, not") as err:
        tidy_results([FIXTURES / "pres2022_t1_burvot.txt"], out, election_id="2022_legi_t1")
    assert err.value.line == 1
    assert not out.exists()
    tidy_results([FIXTURES / "pres2022_t1_burvot.txt"], out, election_id="2022_pres_t1")
    assert out.exists()
