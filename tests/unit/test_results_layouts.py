"""Every Ministry results layout parsed into the same canonical rows, and every bad input refused
with the file, the line and the column.

Fixtures (tests/fixtures/results/README.md): one small file per layout, byte for byte in the
official layout, synthetic values. Expected totals are computed here by a naive split of the raw
bytes (these fixtures hold no quoted separator), independently of the parser.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ingestion.errors import SourceFormatError
from ingestion.sources import election_types as et
from ingestion.sources.elections import (
    LAYOUT_TITLES,
    detect_file_layout,
    iter_results,
    iter_results_2024,
)
from ingestion.sources.results_codes import (
    CodeError,
    commune_from_department,
    insee_departement,
    normalise_insee_commune,
)
from ingestion.sources.results_datagouv import DatagouvCandidats, DatagouvGeneral
from ingestion.sources.results_records import identity_issue
from tests.conftest import TOUR1

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results"
DATAGOUV = FIXTURES / "datagouv"

# file -> (layout, encoding, fixed columns, block width, offset of Voix in a block)
WIDE = {
    "pres2022_t1_burvot.txt": ("minint_2017_pres", "cp1252", 21, 7, 4),
    "legi2022_t1_burvot.txt": ("minint_2017_legi", "cp1252", 21, 8, 5),
    "euro2019_burvot.txt": ("minint_2019_euro", "cp1252", 19, 7, 4),
    "muni2020_t1_burvot.txt": ("minint_2020_muni", "cp1252", 19, 12, 9),
    "dep2021_t1_burvot.txt": ("minint_2021_dep", "cp1252", 21, 6, 3),
    "reg2021_t1_burvot.txt": ("minint_2021_reg", "cp1252", 19, 8, 5),
    "legi2024_t1_burvot.csv": ("minint_2024", "utf-8", 19, 9, 5),
    "euro2024_burvot.csv": ("minint_2024_listes", "utf-8", 21, 8, 4),
}
# A bureau whose ministry codes were letters or carry a sector, and what they become.
FIXTURE_BUREAUX = [
    "01001_0001",
    "01004_0001",
    "01004_0002",
    "2A004_0001",
    "97101_0001",
    "97801_0001",
    "ZZ001_0001",
]


def naive(name: str) -> dict[str, object]:
    """Totals from the raw bytes: split lines and `;`, strip quotes, nothing clever."""
    _layout, encoding, n_fixed, width, voix = WIDE[name]
    lines = (FIXTURES / name).read_bytes().decode(encoding).splitlines()
    header = [h.strip('"') for h in lines[0].split(";")]
    rows = [[f.strip('"') for f in line.split(";")] for line in lines[1:] if line]
    col = {h: i for i, h in enumerate(header[:n_fixed])}
    blocks = [
        [r[s : s + width] for s in range(n_fixed, len(r), width) if any(r[s : s + width])]
        for r in rows
    ]
    return {
        "rows": len(rows),
        "inscrits": sum(int(r[col["Inscrits"]]) for r in rows),
        "exprimes": sum(int(r[col["Exprimés"]]) for r in rows),
        "voix": sum(int(b[voix]) for bs in blocks for b in bs),
        "candidates": [len(bs) for bs in blocks],
    }


@pytest.mark.parametrize("name", sorted(WIDE))
def test_layout_is_detected_and_rows_match_the_raw_bytes(name: str) -> None:
    layout = WIDE[name][0]
    path = FIXTURES / name
    assert detect_file_layout(path) == layout
    rows = list(iter_results(path))
    truth = naive(name)
    assert len(rows) == truth["rows"]
    assert sum(r.bureau.inscrits for r in rows) == truth["inscrits"]
    assert sum(r.bureau.exprimes for r in rows) == truth["exprimes"]
    assert sum(c.voix for r in rows for c in r.candidates) == truth["voix"]
    assert [len(r.candidates) for r in rows] == truth["candidates"]
    assert [r.bureau.source_line for r in rows] == list(range(2, 2 + len(rows)))
    # The same rows with the layout forced.
    assert list(iter_results(path, layout)) == rows


@pytest.mark.parametrize("name", sorted(set(WIDE) - {"muni2020_t1_burvot.txt"}))
def test_codes_become_insee_codes_corsica_overseas_and_abroad(name: str) -> None:
    rows = list(iter_results(FIXTURES / name))
    assert [r.bureau.bureau_id for r in rows] == FIXTURE_BUREAUX
    deps = {r.bureau.code_commune: r.bureau.code_departement for r in rows}
    assert deps == {
        "01001": "01",
        "01004": "01",
        "2A004": "2A",
        "97101": "971",
        "97801": "978",
        "ZZ001": "ZZ",
    }
    assert all(identity_issue(r) is None for r in rows)
    assert len({len(r.candidates) for r in rows}) >= 1


def test_old_layouts_keep_the_data_gouv_key_as_published() -> None:
    rows = {r.bureau.bureau_id: r.bureau for r in iter_results(FIXTURES / "legi2022_t1_burvot.txt")}
    assert rows["97101_0001"].id_brut_miom == "ZA101_0001"
    assert rows["97801_0001"].id_brut_miom == "ZX801_0001"
    assert rows["2A004_0001"].id_brut_miom == "2A004_0001"
    assert rows["01004_0002"].code_circonscription == "05"
    assert rows["01004_0002"].libelle_circonscription == "5ème circonscription"


def test_rows_of_a_local_contest_have_fewer_candidates() -> None:
    counts = [len(r.candidates) for r in iter_results(FIXTURES / "legi2022_t1_burvot.txt")]
    assert min(counts) < max(counts)  # rows of 3 and 4 blocks: not padded in the old layouts


def test_legislative_candidates_carry_nuance_and_names() -> None:
    first = next(iter(iter_results(FIXTURES / "legi2022_t1_burvot.txt")))
    c = first.candidates[0]
    assert (c.numero_panneau, c.nuance, c.nom, c.prenom, c.sexe) == (1, "ENS", "DUPRÉ", "Anne", "F")


def test_cp1252_only_characters_are_read() -> None:
    """`Œ` exists in cp1252, not in latin-1: the Ministry files are cp1252."""
    noms = {c.nom for r in iter_results(FIXTURES / "dep2021_t1_burvot.txt") for c in r.candidates}
    assert any("BŒUF" in (n or "") for n in noms)


def test_european_lists_carry_their_labels() -> None:
    row = next(iter(iter_results(FIXTURES / "euro2019_burvot.txt")))
    c = row.candidates[0]
    assert c.liste_libelle_abrege == "LISTE DUPRÉ 1"
    assert c.liste_libelle == "Liste « Noël DUPRÉ » pour l'avenir n°1"
    assert c.tete_de_liste == "DUPRÉ Noël"
    assert (c.nom, c.prenom, c.nuance) == (None, None, None)
    row24 = next(iter(iter_results(FIXTURES / "euro2024_burvot.csv")))
    assert row24.candidates[1].nuance == "LRN"
    assert row24.candidates[1].liste_libelle_abrege.startswith("LISTE ")


def test_departmental_binomes_and_cantons() -> None:
    row = next(iter(iter_results(FIXTURES / "dep2021_t1_burvot.txt")))
    assert (row.bureau.code_canton, row.bureau.libelle_canton) == ("08", "Canton n°8")
    assert row.candidates[0].nom.startswith("M. ") and " et Mme " in row.candidates[0].nom
    assert row.candidates[0].nuance == "BC-UG"


def test_municipal_sectors_seats_and_plurinominal_sections() -> None:
    rows = {r.bureau.bureau_id: r for r in iter_results(FIXTURES / "muni2020_t1_burvot.txt")}
    paris = rows["75056_0101"]
    assert (paris.bureau.code_commune, paris.bureau.code_secteur) == ("75056", "SR01")
    assert paris.bureau.id_brut_miom == "75056SR01_0101"
    ain = rows["01001_0001"].candidates[0]
    assert (ain.sieges, ain.sieges_cc, ain.elu) == (3, 2, True)
    assert ain.liste_libelle == "LISTE N'DIAYE 1"
    polynesia = rows["98736_0001"]
    assert polynesia.bureau.code_departement == "987"
    assert polynesia.single_choice is False
    assert [c.elu for c in polynesia.candidates] == [True, False, False, False]
    # Several names per ballot: the votes exceed exprimés, by law, and that is no issue.
    assert sum(c.voix for c in polynesia.candidates) > polynesia.bureau.exprimes
    assert identity_issue(polynesia) is None


def test_real_brest_file_reads_the_same_through_the_dispatcher() -> None:
    rows = list(iter_results(TOUR1))
    assert rows == list(iter_results_2024(TOUR1))
    assert sum(r.bureau.exprimes for r in rows) == 120586
    assert rows[0].bureau.id_brut_miom == "29011_1"  # the re-saved copy has unpadded bureaux


# ------------------------------------------------------------------------------- data.gouv


def test_datagouv_pair_is_read_with_our_election_ids() -> None:
    general = list(DatagouvGeneral(DATAGOUV / "general_results.csv"))
    candidats = list(DatagouvCandidats(DATAGOUV / "candidats_results.csv"))
    assert Counter(g.election_id for g in general) == {"2022_pres_t1": 8, "2021_dep_t1": 8}
    assert {g.datagouv_id for g in general} == {"2022_pres_t1", "2021_dpmt_t1"}
    b = general[0].bureau
    assert (b.bureau_id, b.id_brut_miom, b.code_commune, b.inscrits) == (
        "01001_0001",
        "01001_0001",
        "01001",
        525,
    )
    lines = (DATAGOUV / "candidats_results.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(candidats) == len(lines)
    assert sum(c.candidate.voix for c in candidats) == sum(int(x.split(";")[6]) for x in lines)
    dep = next(c for c in candidats if c.election_id == "2021_dep_t1")
    assert dep.candidate.nom.startswith("M. ")  # the binôme label


def test_datagouv_unsupported_election_is_refused_or_skipped(tmp_path: Path) -> None:
    text = (DATAGOUV / "general_results.csv").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    lines.insert(3, lines[3].replace("2022_pres_t1", "2020_sena_t1", 1))
    path = tmp_path / "general_results.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(SourceFormatError) as info:
        list(DatagouvGeneral(path))
    assert (info.value.line, info.value.column) == (4, "id_election")
    assert "senatorial" in info.value.reason
    reader = DatagouvGeneral(path, only={"2022_pres_t1"}.__contains__)
    rows = list(reader)
    assert {r.election_id for r in rows} == {"2022_pres_t1"}
    assert reader.rows_skipped == 9 and reader.rows_read == 17
    assert reader.elections.skipped == ["2020_sena_t1", "2021_dpmt_t1"]


def test_datagouv_missing_required_column_is_named(tmp_path: Path) -> None:
    text = (DATAGOUV / "candidats_results.csv").read_text(encoding="utf-8")
    path = tmp_path / "candidats_results.csv"
    path.write_text(text.replace(";voix;", ";votes;", 1), encoding="utf-8")
    assert detect_file_layout(path) == "datagouv_candidats"  # no turnout column
    with pytest.raises(SourceFormatError) as info:
        list(DatagouvCandidats(path))
    assert (info.value.line, info.value.column) == (1, "voix")


# ------------------------------------------------------------------------------- bad input


def _copy(tmp_path: Path, name: str, edit, encoding: str | None = None) -> Path:
    enc = encoding or WIDE[name][1]
    raw = (FIXTURES / name).read_bytes().decode(WIDE[name][1])
    newline = "\r\n" if "\r\n" in raw else "\n"
    lines = raw.split(newline)
    lines = edit(lines)
    path = tmp_path / name
    path.write_bytes(newline.join(lines).encode(enc))
    return path


def _error(path: Path, layout: str | None = None) -> SourceFormatError:
    with pytest.raises(SourceFormatError) as info:
        list(iter_results(path, layout))
    return info.value


def _set(line: str, index: int, value: str) -> str:
    fields = line.split(";")
    fields[index] = value
    return ";".join(fields)


def test_unknown_layout_names_line_1(tmp_path: Path) -> None:
    path = _copy(
        tmp_path, "legi2022_t1_burvot.txt", lambda ls: [_set(ls[0], 7, "Inscrit"), *ls[1:]]
    )
    err = _error(path)
    assert (err.line, err.column) == (1, "Inscrit")
    assert "expected 'Inscrits' as field 8" in err.reason


def test_layout_override_that_does_not_fit_the_header_is_refused() -> None:
    err = _error(FIXTURES / "legi2022_t1_burvot.txt", "minint_2017_pres")
    assert (err.line, err.column) == (1, "Nuance")
    assert "expected 'Voix'" in err.reason
    with pytest.raises(ValueError, match="unknown layout 'minint_1999'"):
        list(iter_results(FIXTURES / "legi2022_t1_burvot.txt", "minint_1999"))


def test_utf8_layout_in_cp1252_is_refused_at_the_first_accented_line(tmp_path: Path) -> None:
    path = tmp_path / "euro2024_burvot.csv"
    path.write_bytes((FIXTURES / "euro2024_burvot.csv").read_bytes().decode().encode("cp1252"))
    err = _error(path)
    assert err.line == 1 and err.column == "Libellé localisation"
    assert "not valid UTF-8" in err.reason


def test_old_layout_re_saved_in_utf8_reads_the_same(tmp_path: Path) -> None:
    name = "reg2021_t1_burvot.txt"
    path = tmp_path / name
    path.write_bytes((FIXTURES / name).read_bytes().decode("cp1252").encode("utf-8"))
    assert list(iter_results(path)) == list(iter_results(FIXTURES / name))


def test_mixed_encodings_are_refused_naming_the_line(tmp_path: Path) -> None:
    name = "legi2022_t1_burvot.txt"
    lines = (FIXTURES / name).read_bytes().split(b"\r\n")
    lines[3] = lines[3].decode("cp1252").encode("utf-8")  # line 4 re-saved in UTF-8
    path = tmp_path / name
    path.write_bytes(b"\r\n".join(lines))
    err = _error(path)
    assert err.line == 4
    assert "mixed encodings" in err.reason and "line 1 was cp1252" in err.reason
    assert err.column == "Libellé de la circonscription"  # `1ère` is its first accent


def test_utf16_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pres.txt"
    path.write_bytes(
        (FIXTURES / "pres2022_t1_burvot.txt").read_bytes().decode("cp1252").encode("utf-16")
    )
    with pytest.raises(SourceFormatError, match="NUL byte"):
        list(iter_results(path))


def test_second_header_line_in_the_middle_is_refused(tmp_path: Path) -> None:
    path = _copy(tmp_path, "dep2021_t1_burvot.txt", lambda ls: [*ls[:4], ls[0], *ls[4:]])
    err = _error(path)
    assert (err.line, err.column) == (5, "Code du département")
    assert "second header line" in err.reason


def test_row_of_another_layout_is_refused_by_its_width(tmp_path: Path) -> None:
    """A législatives row (8-field blocks) pasted into a présidentielle file (7-field blocks)."""
    legi = (FIXTURES / "legi2022_t1_burvot.txt").read_bytes().decode("cp1252").split("\r\n")
    path = _copy(tmp_path, "pres2022_t1_burvot.txt", lambda ls: [*ls[:3], legi[1], *ls[3:]])
    err = _error(path)
    assert err.line == 4
    assert "candidate blocks are 7 fields wide" in err.reason
    assert "row of another layout" in err.reason


def test_truncated_file_names_the_last_line_and_missing_column(tmp_path: Path) -> None:
    def cut(lines: list[str]) -> list[str]:
        last = max(i for i, line in enumerate(lines) if line)
        lines[last] = ";".join(lines[last].split(";")[:-3])
        return lines

    path = _copy(tmp_path, "euro2019_burvot.txt", cut)
    err = _error(path)
    assert err.line == 8
    assert err.column == "Voix (block 4)"
    assert "left over" in err.reason


def test_row_cut_inside_the_fixed_columns(tmp_path: Path) -> None:
    path = _copy(
        tmp_path, "muni2020_t1_burvot.txt", lambda ls: [*ls[:2], ";".join(ls[2].split(";")[:9])]
    )
    err = _error(path)
    assert (err.line, err.column) == (3, "% Vot/Ins")
    assert "truncated" in err.reason


def test_duplicated_bureau_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = _copy(tmp_path, "reg2021_t1_burvot.txt", lambda ls: [*ls[:5], ls[2], *ls[5:]])
    err = _error(path)
    assert (err.line, err.column) == (6, "Code du b.vote")
    assert "bureau 01004_0001 already appears on line 3" in err.reason


@pytest.mark.parametrize(
    ("value", "message"), [("-4", "got '-4'"), ("12a", "got '12a'"), ("", "got ''")]
)
def test_negative_or_non_numeric_count_is_refused(tmp_path: Path, value: str, message: str) -> None:
    path = _copy(
        tmp_path, "legi2022_t1_burvot.txt", lambda ls: [*ls[:3], _set(ls[3], 10, value), *ls[4:]]
    )
    err = _error(path)
    assert (err.line, err.column) == (4, "Votants")
    assert message in err.reason


def test_negative_vote_in_an_unnamed_block_names_the_block(tmp_path: Path) -> None:
    # Block 2 of line 2: 21 fixed + 8 + offset 5 (Voix).
    path = _copy(
        tmp_path,
        "legi2022_t1_burvot.txt",
        lambda ls: [ls[0], _set(ls[1], 21 + 8 + 5, "-1"), *ls[2:]],
    )
    err = _error(path)
    assert (err.line, err.column) == (2, "Voix (block 2)")


def test_partially_filled_block_is_refused(tmp_path: Path) -> None:
    path = _copy(
        tmp_path, "pres2022_t1_burvot.txt", lambda ls: [ls[0], _set(ls[1], 21 + 2, ""), *ls[2:]]
    )
    err = _error(path)
    assert (err.line, err.column) == (2, "Nom")
    assert "partially filled" in err.reason


def test_unknown_department_and_bad_overseas_commune(tmp_path: Path) -> None:
    path = _copy(
        tmp_path, "pres2022_t1_burvot.txt", lambda ls: [ls[0], _set(ls[1], 0, "ZQ"), *ls[2:]]
    )
    err = _error(path)
    assert (err.line, err.column) == (2, "Code de la commune")
    assert "unknown department 'ZQ'" in err.reason
    path = _copy(
        tmp_path, "pres2022_t1_burvot.txt", lambda ls: [*ls[:6], _set(ls[6], 4, "901"), *ls[7:]]
    )
    err = _error(path)
    assert err.line == 7 and "Saint-Barthélemy (701) and Saint-Martin (801)" in err.reason


def test_votes_not_adding_up_are_reported_not_raised(tmp_path: Path) -> None:
    """Parsing keeps the row; the identity check names it (the loader quarantines it)."""
    path = _copy(
        tmp_path, "legi2022_t1_burvot.txt", lambda ls: [ls[0], _set(ls[1], 21 + 5, "29"), *ls[2:]]
    )
    rows = list(iter_results(path))
    issue = identity_issue(rows[0])
    assert issue is not None
    assert issue[0] == "Voix"
    assert "add up to 316, exprimes is 315" in issue[1]
    assert all(identity_issue(r) is None for r in rows[1:])


# ------------------------------------------------------------------------------- codes, ids


@pytest.mark.parametrize(
    ("dep", "code", "insee", "insee_dep"),
    [
        ("01", "1", "01001", "01"),
        ("2A", "004", "2A004", "2A"),
        ("2B", "033", "2B033", "2B"),
        ("ZA", "101", "97101", "971"),
        ("ZB", "209", "97209", "972"),
        ("ZC", "302", "97302", "973"),
        ("ZD", "411", "97411", "974"),
        ("ZM", "601", "97601", "976"),
        ("ZM", "501", "97601", "976"),  # Mayotte was 501 in 2014: the last two digits count
        ("ZS", "502", "97502", "975"),
        ("ZN", "818", "98818", "988"),
        ("ZP", "736", "98736", "987"),
        ("ZW", "612", "98612", "986"),
        ("ZX", "701", "97701", "977"),
        ("ZX", "801", "97801", "978"),
        ("ZZ", "010", "ZZ010", "ZZ"),
        ("971", "101", "97101", "971"),
    ],
)
def test_ministry_codes_to_insee(dep: str, code: str, insee: str, insee_dep: str) -> None:
    commune, secteur = commune_from_department(dep, code)
    assert (commune, secteur) == (insee, None)
    assert insee_departement(dep, commune) == insee_dep


def test_sector_suffix_and_bad_codes() -> None:
    assert commune_from_department("13", "055SR03") == ("13055", "SR03")
    assert normalise_insee_commune("ZA101") == "97101"
    assert normalise_insee_commune("2a004") == "2A004"
    for dep, code in (("01", "1234"), ("01", "A1"), ("ZX", "702"), ("QQ", "001")):
        with pytest.raises(CodeError):
            commune_from_department(dep, code)
    with pytest.raises(CodeError):
        normalise_insee_commune("2904")


def test_election_type_registry() -> None:
    assert list(et.ELECTION_TYPES) == ["pres", "legi", "euro", "muni", "dep", "reg"]
    assert et.parse_election_id("2024_legi_t1") == et.ElectionId("2024_legi_t1", 2024, "legi", 1)
    assert et.parse_election_id("2099_unit_broken_t2").registered is False
    assert et.election_type("2021_dep_t2").label_fr == "départementales"
    with pytest.raises(ValueError, match="1 round"):
        et.check_round("2019_euro_t2")
    for bad in ("2024-legi-1", "2024_LEGI_t1", "2024_legi_t3", "legi_t1", ""):
        with pytest.raises(ValueError, match="election_id"):
            et.validate_election_id(bad)


@pytest.mark.parametrize(
    ("datagouv", "ours"),
    [
        ("2022_pres_t1", "2022_pres_t1"),
        ("2024_legi_t2", "2024_legi_t2"),
        ("2019_euro_t1", "2019_euro_t1"),
        ("2020_muni_t2", "2020_muni_t2"),
        ("2021_dpmt_t1", "2021_dep_t1"),
        ("2011_cant_t2", "2011_dep_t2"),
        ("2021_regi_t2", "2021_reg_t2"),
    ],
)
def test_datagouv_ids_map_to_ours(datagouv: str, ours: str) -> None:
    assert et.from_datagouv_id(datagouv) == ours


@pytest.mark.parametrize(
    ("datagouv", "reason"),
    [
        ("2020_sena_t1", "senatorial"),
        ("2016_03_legi_part_t1", "partial elections"),
        ("2022_xxxx_t1", "unknown election type"),
        ("2019_euro_t2", "1 round"),
    ],
)
def test_datagouv_ids_we_cannot_load(datagouv: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        et.from_datagouv_id(datagouv)


def test_every_layout_is_listed() -> None:
    # city_export (a city export read through a nuance mapping): tests/unit/test_results_city.py
    assert set(LAYOUT_TITLES) == {w[0] for w in WIDE.values()} | {
        "datagouv_general",
        "datagouv_candidats",
        "city_export",
    }
