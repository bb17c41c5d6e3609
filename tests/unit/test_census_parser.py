"""Census file parsing without a database: real Filosofi 2015 counts, masks, and bad input.

Bad files are derived from the bundled sample zips (the official layout, byte for byte) by
editing one line, so each test shows the one defect it is about.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from ingestion.census.columns import classify_header, indicator_of
from ingestion.census.detect import resolve_local_spec
from ingestion.census.parser import CensusFile, IrisRecord
from ingestion.census.registry import CensusFileSpec, spec_from_dict
from ingestion.errors import SourceFormatError
from scrutin.warehouse.ledger import file_sha256

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "census"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "census"
FILOSOFI_2015 = FIXTURES / "revenus-2015.csv.gz"
POP_2021 = SAMPLE / "base-ic-evol-struct-pop-2021_csv.zip"
POP_MEMBER = "base-ic-evol-struct-pop-2021.CSV"
POP_SPEC = spec_from_dict({"theme": "population", "vintage": 2021, "geo_year": 2023})
FILO_SPEC = spec_from_dict({"theme": "filosofi", "vintage": 2015, "format": "filosofi-reexport"})


# ---- helpers shared by the census test modules ------------------------------------------------


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(target: Path, members: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    target.write_bytes(buffer.getvalue())
    return target


def edited_sample(
    tmp_path: Path,
    edit: dict[int, str] | None = None,
    *,
    source: Path = POP_2021,
    member: str = POP_MEMBER,
    name: str | None = None,
) -> Path:
    """The sample zip with lines replaced (1-based physical line -> new text)."""
    members = zip_members(source)
    lines = members[member].decode("utf-8").split("\n")
    for number, text in (edit or {}).items():
        lines[number - 1] = text
    members[member] = "\n".join(lines).encode("utf-8")
    return write_zip(tmp_path / (name or source.name), members)


def sample_line(number: int, *, source: Path = POP_2021, member: str = POP_MEMBER) -> list[str]:
    return zip_members(source)[member].decode("utf-8").split("\n")[number - 1].split(";")


def parse_all(path: Path, spec: CensusFileSpec) -> tuple[list[IrisRecord], CensusFile]:
    with CensusFile(path, spec) as census:
        return list(census), census


def error_of(path: Path, spec: CensusFileSpec = POP_SPEC) -> SourceFormatError:
    with pytest.raises(SourceFormatError) as info:
        parse_all(path, spec)
    return info.value


# ---- real Filosofi 2015 ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def filosofi() -> tuple[list[IrisRecord], CensusFile]:
    return parse_all(FILOSOFI_2015, FILO_SPEC)


def test_real_filosofi_2015_rows_and_masks(filosofi: tuple[list[IrisRecord], CensusFile]) -> None:
    records, census = filosofi
    assert len(records) == 12_227
    assert len({r.code_iris for r in records}) == 12_227
    assert census.stats.masked == 4_324
    masked = census.stats.masked_by_column
    assert masked["DISP_TP6015"] == 2_788
    assert {masked[c] for c in ("DISP_PTSA15", "DISP_PCHO15", "DISP_PBEN15")} == {396}
    assert {masked[c] for c in ("DISP_PPFAM15", "DISP_PPMINI15", "DISP_PPLOGT15")} == {16}
    assert masked["DISP_MED15"] == 15
    assert "DISP_NOTE15" not in masked
    assert sum(1 for r in records if any(v[3] for v in r.values)) == 3_084


def test_real_filosofi_2015_note_and_decimal_commas(
    filosofi: tuple[list[IrisRecord], CensusFile],
) -> None:
    records, census = filosofi
    assert census.header is not None and len(census.header.indicators) == 28

    def value(record: IrisRecord, indicator: str) -> float | None:
        return next(v[2] for v in record.values if v[1] == indicator)

    notes = Counter(value(r, "NOTE") for r in records)
    assert notes == {0.0: 11_958, 1.0: 254, 2.0: 15}
    for record in records:
        if value(record, "NOTE") == 2.0:
            assert sum(v[3] for v in record.values) == 27  # every indicator but the note
    first = records[0]
    assert first.code_iris == "010040101"
    assert value(first, "TP60") == pytest.approx(22.6)
    assert value(first, "PIMPOT") == pytest.approx(-13.9)
    assert value(first, "MED") == 18_689
    assert first.attributes[0] == "Les Perouses-Triangle d'Activite"
    assert first.attributes[1] == "Ambérieu-en-Bugey"
    pimpot = [value(r, "PIMPOT") for r in records]
    assert all(v < 0 for v in pimpot if v is not None)
    brest = [r for r in records if r.code_commune == "29019"]
    assert len(brest) == 58


def test_masked_cells_are_null_and_keep_their_token(tmp_path: Path) -> None:
    fields = sample_line(2)
    fields[4], fields[5], fields[6], fields[7], fields[8] = "s", "ns", "nd", "", "."
    path = edited_sample(tmp_path, {2: ";".join(fields)})
    records, census = parse_all(path, POP_SPEC)
    values = {v[1]: v for v in records[0].values}
    assert values["POP"] == ("P", "POP", None, True, "s")
    assert values["POP0002"][2:] == (None, True, "ns")
    assert values["POP0305"][2:] == (None, True, "nd")
    assert values["POP0610"][2:] == (None, True, "")
    assert values["POP1117"][2:] == (None, True, ".")
    assert census.stats.masked == 5
    assert not any(v[3] for r in records[1:] for v in r.values)


def test_sample_population_is_read_by_name(tmp_path: Path) -> None:
    records, census = parse_all(POP_2021, POP_SPEC)
    assert census.header is not None
    assert census.header.width == 76
    assert len(census.header.indicators) == 72
    assert len(records) == 96
    assert census.source is not None and census.source.meta_member is not None
    # Reordering the columns does not change what is read.
    members = zip_members(POP_2021)
    rows = [line.split(";") for line in members[POP_MEMBER].decode().strip().split("\n")]
    order = [0, 1, 2, 3, *reversed(range(4, 76))]
    members[POP_MEMBER] = (
        "\n".join(";".join(row[i] for i in order) for row in rows) + "\n"
    ).encode()
    shuffled, _ = parse_all(write_zip(tmp_path / "shuffled.zip", members), POP_SPEC)
    assert [sorted(r.values) for r in shuffled] == [sorted(r.values) for r in records]


def _parts(name: str) -> tuple[str, int, str] | None:
    column = indicator_of(name)
    return None if column is None else (column.prefix, column.year2, column.indicator)


def test_header_names_decide_prefix_indicator_and_year() -> None:
    assert _parts("P21_POP1529") == ("P", 21, "POP1529")
    assert _parts("C22_POP15P_STAT_GSEC13_23") == ("C", 22, "POP15P_STAT_GSEC13_23")
    assert _parts("DISP_S80S2015") == ("DISP", 15, "S80S20")
    assert _parts("DISP_D115") == ("DISP", 15, "D1")
    assert _parts("DEC_MED21") == ("DEC", 21, "MED")
    assert _parts("LIBIRIS") is None
    header = classify_header(
        ["IRIS", "REG", "COM", "LIBIRIS", "P19_POP", "P13_POP", "C19_MEN", "REG2016"],
        Path("x.CSV"),
        2019,
    )
    assert [c.name for c in header.indicators] == ["P19_POP", "C19_MEN"]
    assert header.other_years == ("P13_POP",)
    assert header.ignored == ("REG2016",)
    assert header.id_index == {"code_iris": 0, "reg": 1, "code_commune": 2, "libiris": 3}
    with pytest.raises(SourceFormatError, match="column appears twice"):
        classify_header(["IRIS", "COM", "P19_POP", "P19_POP"], Path("x.CSV"), 2019)


def test_bom_crlf_and_no_final_newline_are_read(tmp_path: Path) -> None:
    data = zip_members(POP_2021)[POP_MEMBER].replace(b"\n", b"\r\n").rstrip(b"\r\n")
    plain = tmp_path / "base-ic-evol-struct-pop-2021.CSV"
    plain.write_bytes(b"\xef\xbb\xbf" + data)
    records, census = parse_all(plain, POP_SPEC)
    reference, _ = parse_all(POP_2021, POP_SPEC)
    assert census.header is not None and census.header.names[0] == "IRIS"
    assert records == reference


# ---- bad input: refused whole, with file, line and column -------------------------------------


def test_missing_key_column_is_named(tmp_path: Path) -> None:
    header = sample_line(1)
    header[1] = "CODGEO"
    error = error_of(edited_sample(tmp_path, {1: ";".join(header)}))
    assert error.line == 1 and error.column == "COM"
    assert "missing key column 'COM'" in str(error)
    header = sample_line(1)
    header[0] = "CODE"
    error = error_of(edited_sample(tmp_path, {1: ";".join(header)}))
    assert error.column == "IRIS" and "base-ic-evol-struct-pop-2021.CSV" in str(error)


def test_duplicated_iris_names_both_lines(tmp_path: Path) -> None:
    path = edited_sample(tmp_path, {40: ";".join(sample_line(39))})
    error = error_of(path)
    assert (error.line, error.column) == (40, "IRIS")
    assert "appears twice (first on line 39)" in error.reason


def test_iris_outside_its_commune_is_refused(tmp_path: Path) -> None:
    fields = sample_line(10)
    fields[1] = "29020"
    error = error_of(edited_sample(tmp_path, {10: ";".join(fields)}))
    assert (error.line, error.column) == (10, "IRIS")
    assert "does not start with its commune code 29020" in error.reason


def test_iris_code_that_lost_its_leading_zero_is_refused(tmp_path: Path) -> None:
    fields = sample_line(5)
    fields[0] = fields[0][1:]
    error = error_of(edited_sample(tmp_path, {5: ";".join(fields)}))
    assert (error.line, error.column) == (5, "IRIS")
    assert "leading zero lost" in error.reason


def test_zip_without_its_data_member(tmp_path: Path) -> None:
    members = zip_members(POP_2021)
    del members[POP_MEMBER]
    path = write_zip(tmp_path / "only-meta.zip", members)
    error = error_of(path)
    assert "no usable data member" in str(error) and "meta_base-ic" in str(error)
    assert "only-meta.zip" in str(error)
    members = zip_members(POP_2021)
    members["base-ic-logement-2021.CSV"] = members[POP_MEMBER]
    error = error_of(write_zip(tmp_path / "two.zip", members))
    assert "found 2" in error.reason
    # The registry's member pattern picks the right one.
    spec = spec_from_dict({**POP_SPEC.as_dict(), "member": r"base-ic-evol-struct-pop-2021\.CSV"})
    records, _ = parse_all(tmp_path / "two.zip", spec)
    assert len(records) == 96


def test_decimal_comma_in_a_base_ic_file_is_refused(tmp_path: Path) -> None:
    fields = sample_line(50)
    fields[6] = fields[6].replace(".", ",")
    error = error_of(edited_sample(tmp_path, {50: ";".join(fields)}))
    assert (error.line, error.column) == (50, "P21_POP0305")
    assert "decimal comma" in error.reason


def test_decimal_point_in_a_filosofi_file_is_refused(tmp_path: Path) -> None:
    lines = gzip.decompress(FILOSOFI_2015.read_bytes()).decode("utf-8").split("\n")
    lines[3] = lines[3].replace('"22,6"', "22.6", 1) if '"22,6"' in lines[3] else lines[3]
    lines[1] = lines[1].replace('"22,6"', "22.6", 1)
    path = tmp_path / "revenus-2015.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    error = error_of(path, FILO_SPEC)
    assert (error.line, error.column) == (2, "DISP_TP6015")
    assert "decimal point" in error.reason


def test_filosofi_reexport_read_as_semicolon_csv_is_refused() -> None:
    spec = spec_from_dict({"theme": "filosofi", "vintage": 2015, "format": "filosofi-csv"})
    error = error_of(FILOSOFI_2015, spec)
    assert error.line == 1 and "separated by ','" in error.reason


def test_short_row_and_text_value_are_refused(tmp_path: Path) -> None:
    fields = sample_line(20)
    error = error_of(edited_sample(tmp_path, {20: ";".join(fields[:-1])}))
    assert error.line == 20 and "expected 76 fields, found 75" in error.reason
    fields[10] = "beaucoup"
    error = error_of(edited_sample(tmp_path, {20: ";".join(fields)}))
    assert (error.line, error.column) == (20, "P21_POP2539")


def test_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    members = zip_members(POP_2021)
    data = members[POP_MEMBER].split(b"\n")
    data[30] = data[30].replace(b";H;", b";\xe9;", 1)
    members[POP_MEMBER] = b"\n".join(data)
    error = error_of(write_zip(tmp_path / "latin1.zip", members))
    assert error.line == 31 and "not valid utf-8" in error.reason


def test_header_only_file_is_refused(tmp_path: Path) -> None:
    members = zip_members(POP_2021)
    members[POP_MEMBER] = members[POP_MEMBER].split(b"\n", 1)[0] + b"\n"
    error = error_of(write_zip(tmp_path / "empty.zip", members))
    assert error.line == 2 and "no data row" in error.reason


def test_vintage_absent_from_the_header_is_refused() -> None:
    spec = spec_from_dict({"theme": "population", "vintage": 2019})
    error = error_of(POP_2021, spec)
    assert error.line == 1 and "no indicator column for vintage 2019" in error.reason


# ---- what a file is, when nobody said ----------------------------------------------------------


def test_detection_from_name_and_header(tmp_path: Path) -> None:
    spec = resolve_local_spec(POP_2021, sha256=file_sha256(POP_2021))
    assert (spec.theme, spec.vintage, spec.geo_year, spec.source_format, spec.decimal) == (
        "population",
        2021,
        2023,
        "insee-csv",
        ".",
    )
    filo = resolve_local_spec(FILOSOFI_2015, sha256="0" * 64)
    assert (filo.theme, filo.vintage, filo.source_format, filo.decimal) == (
        "filosofi",
        2015,
        "filosofi-reexport",
        ",",
    )
    anonymous = edited_sample(tmp_path, name="export.zip")
    spec = resolve_local_spec(anonymous, sha256="0" * 64, theme="population")
    assert spec.vintage == 2021  # from the P21_ columns
    with pytest.raises(ValueError, match="cannot tell the census theme"):
        resolve_local_spec(anonymous, sha256="0" * 64)


def test_registry_entry_pinned_by_sha_wins(tmp_path: Path) -> None:
    plain = tmp_path / "anything.csv"
    plain.write_bytes(gzip.decompress(FILOSOFI_2015.read_bytes()))
    from ingestion.census.registry import read_registry

    spec = resolve_local_spec(plain, sha256=file_sha256(plain), registry=read_registry())
    assert spec.key == "filosofi-2015-reexport"
    assert (spec.theme, spec.vintage, spec.geo_year) == ("filosofi", 2015, 2016)
    assert spec.path == plain
