"""The 2024 results parser on the real Brest files (README 1.1, 1.2) and on broken copies of them.

No database: these pin what the parser reads (counts, codes, candidates) and how it refuses
bad files (file, line, column and what was expected), which is what a user relies on.
"""

from __future__ import annotations

import pickle
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from ingestion.errors import SourceFormatError
from ingestion.sources.elections import (
    BLOCK_FIELDS,
    FIXED_COLUMNS,
    LAYOUT_MININT_2024,
    ParsedRow,
    detect_file_layout,
    detect_layout,
    iter_results_2024,
    normalise_code_bv,
)
from tests.conftest import TOUR1, TOUR2

TURNOUT = ("inscrits", "votants", "abstentions", "exprimes", "blancs", "nuls")


@pytest.fixture(scope="module")
def tour1() -> list[ParsedRow]:
    return list(iter_results_2024(TOUR1))


@pytest.fixture(scope="module")
def tour2() -> list[ParsedRow]:
    return list(iter_results_2024(TOUR2))


def _sums(rows: list[ParsedRow]) -> dict[str, int]:
    return {name: sum(getattr(r.bureau, name) for r in rows) for name in TURNOUT}


def _voix_by_candidate(rows: list[ParsedRow]) -> dict[tuple[int, str, str], int]:
    totals: dict[tuple[int, str, str], int] = defaultdict(int)
    for row in rows:
        for c in row.candidates:
            totals[(c.numero_panneau, c.nuance, c.nom)] += c.voix
    return dict(totals)


# ---------------------------------------------------------------- 1st round (README 1.1)


def test_tour1_bureaux_communes_and_brest(tour1: list[ParsedRow]) -> None:
    assert len(tour1) == 201
    assert len({r.bureau.code_commune for r in tour1}) == 35
    assert len({r.bureau.bureau_id for r in tour1}) == 201
    brest = sorted(r.bureau.code_bv for r in tour1 if r.bureau.code_commune == "29019")
    assert brest == [f"{n:04d}" for n in range(1, 105)]
    assert {r.bureau.code_departement for r in tour1} == {"29"}
    assert {r.bureau.libelle_departement for r in tour1} == {"Finistère"}


def test_tour1_turnout_sums(tour1: list[ParsedRow]) -> None:
    assert _sums(tour1) == {
        "inscrits": 172019,
        "votants": 123580,
        "abstentions": 48439,
        "exprimes": 120586,
        "blancs": 2580,
        "nuls": 414,
    }
    brest = [r for r in tour1 if r.bureau.code_commune == "29019"]
    assert (_sums(brest)["inscrits"], _sums(brest)["votants"], _sums(brest)["exprimes"]) == (
        85102,
        57974,
        56519,
    )


def test_tour1_votes_per_candidate(tour1: list[ParsedRow]) -> None:
    assert _voix_by_candidate(tour1) == {
        # 29-02
        (7, "UG", "CADALEN"): 18850,
        (8, "RN", "KERVELLA"): 12065,
        (3, "DVC", "LARSONNEUR"): 9874,
        (1, "ENS", "BRÉHIER"): 9105,
        (4, "LR", "HOUARD"): 1444,
        (2, "ECO", "HENRY"): 1131,
        (5, "REC", "ROUSSEAU"): 373,
        (9, "EXG", "COLLARD"): 357,
        (6, "EXG", "HITA"): 172,
        (10, "EXD", "KOFFI"): 55,
        # 29-03
        (2, "ENS", "LE GAC"): 26139,
        (3, "RN", "DONVAL"): 18627,
        (4, "UG", "SMOLARZ"): 18074,
        (8, "REG", "FAVE"): 1808,
        (7, "DSV", "THOMAS"): 1050,
        (5, "EXG", "MULLER"): 742,
        (6, "REC", "PERROT"): 427,
        (1, "DIV", "COLINET"): 293,
    }


def test_tour1_votes_per_nuance(tour1: list[ParsedRow]) -> None:
    per_nuance: Counter[str] = Counter()
    for row in tour1:
        for c in row.candidates:
            per_nuance[c.nuance] += c.voix
    assert per_nuance == {
        "UG": 18850 + 18074,
        "ENS": 9105 + 26139,
        "RN": 12065 + 18627,
        "DVC": 9874,
        "REG": 1808,
        "LR": 1444,
        "EXG": 357 + 172 + 742,
        "ECO": 1131,
        "DSV": 1050,
        "REC": 373 + 427,
        "DIV": 293,
        "EXD": 55,
    }


def test_tour1_candidate_blocks_per_constituency(tour1: list[ParsedRow]) -> None:
    """Trailing empty blocks are skipped: 10 candidates in 29-02 (95 rows), 8 in 29-03 (106)."""
    sizes = Counter(len(r.candidates) for r in tour1)
    assert sizes == {10: 95, 8: 106}
    assert sum(len(r.candidates) for r in tour1) == 95 * 10 + 106 * 8 == 1798
    circo_02 = [r for r in tour1 if any(c.nom == "CADALEN" for c in r.candidates)]
    assert len(circo_02) == 95
    assert (_sums(circo_02)["inscrits"], _sums(circo_02)["exprimes"]) == (78166, 53426)
    assert not any(c.elu for r in tour1 for c in r.candidates)


def test_tour1_rows_keep_the_published_identities(tour1: list[ParsedRow]) -> None:
    """A shifted column would break these per row; the file satisfies them everywhere."""
    for row in tour1:
        b = row.bureau
        assert b.inscrits == b.votants + b.abstentions, b.source_line
        assert b.votants == b.exprimes + b.blancs + b.nuls, b.source_line
        assert sum(c.voix for c in row.candidates) == b.exprimes, b.source_line


def test_source_lines_are_physical_lines(tour1: list[ParsedRow]) -> None:
    assert [r.bureau.source_line for r in tour1] == list(range(2, 203))


# ---------------------------------------------------------------- 2nd round (README 1.2)


def test_tour2_turnout_sums_and_elected(tour2: list[ParsedRow]) -> None:
    assert len(tour2) == 201
    assert _sums(tour2) == {
        "inscrits": 172053,
        "votants": 123363,
        "abstentions": 48690,
        "exprimes": 118213,
        "blancs": 4625,
        "nuls": 525,
    }
    assert all(sum(c.elu for c in r.candidates) == 1 for r in tour2)
    elected = Counter(c.nom for r in tour2 for c in r.candidates if c.elu)
    assert elected == {"CADALEN": 95, "LE GAC": 106}


def test_tour2_candidates(tour2: list[ParsedRow]) -> None:
    assert sum(len(r.candidates) for r in tour2) == 95 * 3 + 106 * 2 == 497
    assert _voix_by_candidate(tour2) == {
        (7, "UG", "CADALEN"): 22110,
        (3, "DVC", "LARSONNEUR"): 19239,
        (8, "RN", "KERVELLA"): 12567,
        (2, "ENS", "LE GAC"): 44449,
        (3, "RN", "DONVAL"): 19848,
    }
    # Quoted free text comes back without its quotes.
    assert {c.prenom for r in tour2 for c in r.candidates if c.nom == "LARSONNEUR"} == {
        "Jean-Charles"
    }


def test_code_bv_padding_gives_the_same_bureaux_in_both_rounds(
    tour1: list[ParsedRow], tour2: list[ParsedRow]
) -> None:
    """tour1 writes `1`, tour2 `"0001"`: both rounds must join on bureau_id."""
    ids1 = [r.bureau.bureau_id for r in tour1]
    ids2 = [r.bureau.bureau_id for r in tour2]
    assert ids1 == ids2
    assert "29019_0104" in ids1
    assert all(len(r.bureau.code_bv) == 4 for r in tour1)


def test_layout_is_detected_from_either_header() -> None:
    assert detect_file_layout(TOUR1) == LAYOUT_MININT_2024
    assert detect_file_layout(TOUR2) == LAYOUT_MININT_2024
    header = list(FIXED_COLUMNS) + [f"{name} 1" for name in BLOCK_FIELDS]
    assert detect_layout(header) == LAYOUT_MININT_2024


def test_parser_streams() -> None:
    rows = iter_results_2024(TOUR1)
    assert iter(rows) is rows
    first = next(rows)
    assert first.bureau.bureau_id == "29011_0001"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", "0001"), ("0001", "0001"), (" 104 ", "0104"), ("12345", "12345"), ("a12 ", "A12")],
)
def test_normalise_code_bv(raw: str, expected: str) -> None:
    assert normalise_code_bv(raw) == expected


# ---------------------------------------------------------------- broken copies of tour1


def _tour1_lines() -> list[str]:
    return TOUR1.read_text(encoding="utf-8").splitlines(keepends=True)


def _set_field(line: str, index: int, value: str) -> str:
    """tour1 has no quotes at all, so splitting on `;` is exact."""
    fields = line.rstrip("\n").split(";")
    fields[index] = value
    return ";".join(fields) + "\n"


def _write(tmp_path: Path, lines: list[str], name: str = "circos23-tour1.csv") -> Path:
    path = tmp_path / name
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _error(path: Path) -> SourceFormatError:
    with pytest.raises(SourceFormatError) as info:
        for _ in iter_results_2024(path):
            pass
    return info.value


HEADER = _tour1_lines()[0].rstrip("\n").split(";")


def test_unknown_header_names_line_1_and_the_first_unexpected_column(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines[0] = _set_field(lines[0], 6, "Votantz")
    err = _error(_write(tmp_path, lines))
    assert (err.line, err.column) == (1, "Votantz")
    assert "expected 'Votants'" in str(err)
    assert str(err).startswith("circos23-tour1.csv, line 1, column 'Votantz': unknown")


def test_truncated_older_layout_header_names_the_missing_column() -> None:
    """2017–2022 headers are a known layout now: a truncated one names what is missing."""
    header = ["Code du département", "Libellé du département", "Code de la circonscription"]
    with pytest.raises(SourceFormatError) as info:
        detect_layout(header)
    assert (info.value.line, info.value.column) == (1, "Libellé de la circonscription")
    assert "header ends after 3 fields" in info.value.reason


def test_header_of_no_known_layout_is_refused_naming_its_first_field() -> None:
    with pytest.raises(SourceFormatError) as info:
        detect_layout(["Numéro", "Bureau", "Inscrits"])
    assert (info.value.line, info.value.column) == (1, "Numéro")
    assert "unknown results layout" in info.value.reason
    assert "minint_2017_legi" in info.value.reason  # the known layouts are listed


def test_header_ending_inside_a_block_is_refused(tmp_path: Path) -> None:
    lines = [";".join(HEADER[:-1]) + "\n", *_tour1_lines()[1:3]]
    err = _error(_write(tmp_path, lines))
    assert (err.line, err.column) == (1, "Elu 19")
    assert "inside candidate block 19" in err.reason


def test_latin1_file_is_refused_at_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "circos23-tour1.csv"
    path.write_bytes(TOUR1.read_text(encoding="utf-8").encode("latin-1"))
    err = _error(path)
    assert err.line == 1
    assert "not valid UTF-8" in str(err)


def test_latin1_data_line_is_named(tmp_path: Path) -> None:
    """Line 7 is Brélès: a data line re-saved in latin-1 inside a UTF-8 file."""
    lines = _tour1_lines()
    assert "Brélès" in lines[6]
    path = tmp_path / "circos23-tour1.csv"
    path.write_bytes(
        b"".join(line.encode("latin-1" if n == 7 else "utf-8") for n, line in enumerate(lines, 1))
    )
    read: list[ParsedRow] = []
    with pytest.raises(SourceFormatError) as info:
        read.extend(iter_results_2024(path))
    assert info.value.line == 7
    assert info.value.column == "Libellé département"  # `Finistère` comes first on the line
    assert "0xe8" in str(info.value)
    assert str(info.value).startswith("circos23-tour1.csv, line 7, column 'Libellé département'")


def test_truncated_row_names_its_line(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines[149] = ";".join(lines[149].split(";")[:100]) + "\n"
    err = _error(_write(tmp_path, lines))
    assert err.line == 150
    assert err.column == HEADER[100]
    assert "truncated" in err.reason
    assert "expected 190 fields" in err.reason


def test_extra_fields_name_their_line(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines[9] = lines[9].rstrip("\n") + ";1\n"
    err = _error(_write(tmp_path, lines))
    assert err.line == 10
    assert "extra fields" in err.reason


def test_non_numeric_count_names_line_and_column(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines[56] = _set_field(lines[56], 6, "abc")
    path = _write(tmp_path, lines)
    read: list[ParsedRow] = []
    with pytest.raises(SourceFormatError) as info:
        read.extend(iter_results_2024(path))
    assert str(info.value) == (
        "circos23-tour1.csv, line 57, column 'Votants': expected a non-negative integer, got 'abc'"
    )
    assert (info.value.path, info.value.line, info.value.column) == (path, 57, "Votants")
    assert len(read) == 55  # lines 2..56 were streamed before the refusal


def test_negative_vote_count_is_refused(tmp_path: Path) -> None:
    lines = _tour1_lines()
    voix_3 = HEADER.index("Voix 3")
    lines[19] = _set_field(lines[19], voix_3, "-5")
    err = _error(_write(tmp_path, lines))
    assert (err.line, err.column) == (20, "Voix 3")
    assert "non-negative integer, got '-5'" in err.reason


def test_count_too_large_for_the_warehouse_is_refused(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines[1] = _set_field(lines[1], 5, "99999999999")
    err = _error(_write(tmp_path, lines))
    assert (err.line, err.column) == (2, "Inscrits")


def test_partially_filled_block_is_refused(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines[19] = _set_field(lines[19], HEADER.index("Nom candidat 2"), "")
    err = _error(_write(tmp_path, lines))
    assert (err.line, err.column) == (20, "Nom candidat 2")
    assert "partially filled" in err.reason


def test_value_in_an_unused_block_is_refused(tmp_path: Path) -> None:
    """Line 2 is in 29-02 (10 candidates): block 15 must be empty or complete."""
    lines = _tour1_lines()
    lines[1] = _set_field(lines[1], HEADER.index("Voix 15"), "3")
    err = _error(_write(tmp_path, lines))
    assert (err.line, err.column) == (2, "Numéro de panneau 15")
    assert "'Voix 15' is '3'" in err.reason


def test_unknown_elected_marker_is_refused(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines[3] = _set_field(lines[3], HEADER.index("Elu 1"), "oui")
    err = _error(_write(tmp_path, lines))
    assert (err.line, err.column) == (4, "Elu 1")


def test_bad_commune_code_is_refused(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines[4] = _set_field(lines[4], 2, "2901")
    err = _error(_write(tmp_path, lines))
    assert (err.line, err.column) == (5, "Code commune")
    assert "5-character" in err.reason


def test_duplicate_bureau_is_refused(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines.append(lines[1])
    err = _error(_write(tmp_path, lines))
    assert err.line == 203
    assert "29011_0001 already appears on line 2" in err.reason


def test_malformed_quoting_names_its_line(tmp_path: Path) -> None:
    lines = _tour1_lines()
    lines[30] = _set_field(lines[30], 3, '"Brest"x')
    err = _error(_write(tmp_path, lines))
    assert err.line == 31


def test_empty_file_is_refused(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, []))
    assert err.line == 1
    assert "empty" in err.reason


def test_windows_line_endings_bom_and_blank_lines_read_the_same(
    tmp_path: Path, tour1: list[ParsedRow]
) -> None:
    """A spreadsheet re-save (BOM, CRLF, trailing blank line) must not change a single value."""
    text = TOUR1.read_text(encoding="utf-8").replace("\n", "\r\n") + "\r\n"
    path = tmp_path / "resaved.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert list(iter_results_2024(path)) == tour1


def test_quoted_fields_may_contain_the_separator(tmp_path: Path) -> None:
    lines = TOUR2.read_text(encoding="utf-8").splitlines(keepends=True)[:2]
    lines[1] = lines[1].replace(";Bohars;", ';"Bohars; centre";', 1)
    rows = list(iter_results_2024(_write(tmp_path, lines, "circos23-tour2.csv")))
    assert rows[0].bureau.libelle_commune == "Bohars; centre"
    assert rows[0].bureau.inscrits == 997


def test_error_survives_pickling() -> None:
    """Airflow and multiprocessing pickle exceptions: the location must cross with them."""
    err = SourceFormatError(Path("/x/f.csv"), 3, "Voix 1", "expected a non-negative integer")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.path, copy.line, copy.column, str(copy)) == (
        err.path,
        3,
        "Voix 1",
        "f.csv, line 3, column 'Voix 1': expected a non-negative integer",
    )
