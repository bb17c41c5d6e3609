"""The hostile corpus: malformed files of the five sources, generated from the bundled sample.

Why generated: 60-odd binary blobs would hide what each one breaks, and drift from the sample
when its layout changes. Each case is one small function that copies a real sample file and
breaks one thing in it, so a reader sees the fault in one line, and the table `CASES` says what
the loader must answer: the error fragment, the line and column it must name, and whether the
file is refused whole (`refused`: nothing loaded, a `failed` ledger row) or loaded with the bad
row quarantined (`quarantined`), or loaded (`loaded`: a correct file that must not be refused).

`xfail` names the item of issue 14 a case reproduces while another helper fixes it: the test is
then marked `xfail(strict=True)`, so the mark has to go once the fix is merged.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
CANVASS_FIXTURES = ROOT / "tests" / "fixtures" / "canvass"

TOUR1 = SAMPLE / "elections" / "circos23-tour1.csv"
REU_BV = SAMPLE / "reu" / "table-bv-reu-synthetic.csv"
REU_ADDRESSES = SAMPLE / "reu" / "table-adresses-reu-synthetic.csv.gz"
ROLL = SAMPLE / "roll" / "ListesElecteursActifs-com29084-10-06-2024-09h31.csv"
CENSUS_POP = SAMPLE / "census" / "base-ic-evol-struct-pop-2021_csv.zip"
CENSUS_POP_MEMBER = "base-ic-evol-struct-pop-2021.CSV"
FILOSOFI = SAMPLE / "census" / "revenus-2015-extract.csv"
IRIS_CONTOURS = SAMPLE / "geo" / "contours-iris-synthetic.geojson"
BREST_BUREAUX = SAMPLE / "geo" / "BureauxVoteBrest.geojson"
QOMON = CANVASS_FIXTURES / "qomon_small.csv"
ECANVASSER = CANVASS_FIXTURES / "ecanvasser_small.csv"
PAP = CANVASS_FIXTURES / "pap_small.csv"
OSDI = CANVASS_FIXTURES / "osdi_small.jsonl"

# The election id the results cases load as: one the bundled sample does not use.
HOSTILE_ELECTION = "2017_legi_t1"
# A long line, far past any sane CSV field: the probe used 200 MB; 16 MB shows the same
# failure (the reader's field limit) without holding 200 MB in memory on a 2-core CI runner.
LONG_LINE_BYTES = 16 << 20

Source = Literal["results", "reu", "roll", "census", "geo", "canvass"]
Outcome = Literal["refused", "quarantined", "loaded"]


@dataclass(frozen=True)
class Case:
    """One crafted file and what its loader must answer.

    `error`: a stable fragment of the error (refused) or of the quarantine reason; `line` and
    `column`: what the error must name (None where the fault has no line, e.g. a corrupt zip).
    `options`: keyword arguments of the source's loader (the contour kind, the census theme).
    """

    id: str
    source: Source
    make: Callable[[Path], Path]
    error: str = ""
    line: int | None = None
    column: str | None = None
    outcome: Outcome = "refused"
    xfail: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


# ---- editing helpers --------------------------------------------------------------------------


def _text(path: Path) -> str:
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    return path.read_text(encoding="utf-8")


def _lines(path: Path) -> list[str]:
    return _text(path).splitlines(keepends=True)


def _write(target: Path, lines: list[str] | str | bytes) -> Path:
    if isinstance(lines, bytes):
        target.write_bytes(lines)
    else:
        target.write_text(lines if isinstance(lines, str) else "".join(lines), encoding="utf-8")
    return target


def _set_field(
    source: Path, target: Path, line: int, column: str, value: str, *, sep: str = ";"
) -> Path:
    """`source` with the field `column` of physical `line` (header = 1) set to `value`."""
    lines = _lines(source)
    header = lines[0].lstrip("\ufeff").rstrip("\r\n").split(sep)
    names = [h.strip('"') for h in header]
    fields = lines[line - 1].rstrip("\r\n").split(sep)
    fields[names.index(column)] = value
    lines[line - 1] = sep.join(fields) + "\n"
    return _write(target, lines)


def _insert_bytes(source: Path, target: Path, line: int, data: bytes, at: int = 5) -> Path:
    """`source` with `data` spliced into physical `line`, `at` bytes from its start."""
    raw = [s.encode("utf-8") for s in _lines(source)]
    raw[line - 1] = raw[line - 1][:at] + data + raw[line - 1][at:]
    return _write(target, b"".join(raw))


def _head(source: Path, target: Path, n: int) -> Path:
    return _write(target, _lines(source)[:n])


def _gzip(target: Path, text: str | bytes, *, truncate_to: float = 1.0) -> Path:
    data = gzip.compress(text.encode("utf-8") if isinstance(text, str) else text)
    return _write(target, data[: int(len(data) * truncate_to)])


def _zip(target: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return target


def _census_members() -> dict[str, bytes]:
    with zipfile.ZipFile(CENSUS_POP) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _census(target: Path, edit: Callable[[list[str]], list[str]]) -> Path:
    """The sample population zip with its data member's lines (header = index 0) edited."""
    members = _census_members()
    lines = members[CENSUS_POP_MEMBER].decode("utf-8").split("\n")
    members[CENSUS_POP_MEMBER] = "\n".join(edit(lines)).encode("utf-8")
    return _zip(target, members)


def _census_cell(target: Path, line: int, column: str, value: str) -> Path:
    def edit(lines: list[str]) -> list[str]:
        header = lines[0].split(";")
        fields = lines[line - 1].split(";")
        fields[header.index(column)] = value
        lines[line - 1] = ";".join(fields)
        return lines

    return _census(target, edit)


def _contours(n: int = 3) -> dict[str, Any]:
    """The first `n` IRIS features of the sample (Lambert-93, `crs` member first)."""
    data = json.loads(IRIS_CONTOURS.read_text(encoding="utf-8"))
    data["features"] = data["features"][:n]
    return data


def _geojson(target: Path, data: dict[str, Any] | str) -> Path:
    text = data if isinstance(data, str) else json.dumps(data, allow_nan=True)
    return _write(target, text)


def _with_feature(edit: Callable[[list[dict[str, Any]]], None]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        data = _contours()
        edit(data["features"])
        return _geojson(tmp / "contours.geojson", data)

    return make


def _crs_last(data: dict[str, Any]) -> str:
    """The collection serialised with its `crs` member after `features` (valid JSON; RFC 7946
    puts no order on members)."""
    crs = data.pop("crs")
    return json.dumps({**data, "crs": crs})


def _points(feature: dict[str, Any]) -> list[list[float]]:
    """Every vertex of a Polygon or MultiPolygon feature, as mutable [x, y] lists."""
    geometry = feature["geometry"]
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    return [point for polygon in polygons for ring in polygon for point in ring]


def _lonlat(features: list[dict[str, Any]]) -> None:
    """Rewrite Lambert-93 rings as lon/lat degrees around Brest (same shape, wrong unit)."""
    for feature in features:
        for point in _points(feature):
            point[0] = -4.5 + (point[0] - 145000) / 100000
            point[1] = 48.4 + (point[1] - 6840000) / 100000


# ---- results (the real Brest 2024 first round) ------------------------------------------------


def results_empty(tmp: Path) -> Path:
    return _write(tmp / "empty.csv", b"")


def results_header_only(tmp: Path) -> Path:
    return _head(TOUR1, tmp / "header_only.csv", 1)


def results_votants_text(tmp: Path) -> Path:
    return _set_field(TOUR1, tmp / "votants_text.csv", 100, "Votants", "douze")


def results_inscrits_negative(tmp: Path) -> Path:
    return _set_field(TOUR1, tmp / "inscrits_negative.csv", 57, "Inscrits", "-12")


def results_missing_column(tmp: Path) -> Path:
    lines = _lines(TOUR1)
    out = []
    for line in lines:
        fields = line.rstrip("\n").split(";")
        del fields[6]  # Votants
        out.append(";".join(fields) + "\n")
    return _write(tmp / "missing_votants.csv", out)


def results_duplicate_bureau(tmp: Path) -> Path:
    lines = _lines(TOUR1)
    lines.insert(42, lines[41])
    return _write(tmp / "duplicate_bureau.csv", lines)


def results_comma_delimited(tmp: Path) -> Path:
    return _write(tmp / "commas.csv", _text(TOUR1).replace(";", ","))


def results_latin1(tmp: Path) -> Path:
    return _write(tmp / "latin1.csv", _text(TOUR1).encode("latin-1", errors="replace"))


def results_nul_byte(tmp: Path) -> Path:
    return _insert_bytes(TOUR1, tmp / "nul.csv", 50, b"\x00")


def results_cut_mid_line(tmp: Path) -> Path:
    text = _text(TOUR1)
    cut = text.rstrip("\n").rfind("\n") + 40  # 40 bytes into the last line
    return _write(tmp / "cut_mid_line.csv", text[:cut])


def results_truncated_gz(tmp: Path) -> Path:
    return _gzip(tmp / "truncated.csv.gz", _text(TOUR1), truncate_to=0.5)


def results_binary(tmp: Path) -> Path:
    return _write(tmp / "garbage.csv", bytes(range(256)) * 64)


def results_extra_fields(tmp: Path) -> Path:
    lines = _lines(TOUR1)
    lines[30] = lines[30].rstrip("\n") + ";x;y;z;w;v;u;t;s;r;q;p\n"
    return _write(tmp / "extra_fields.csv", lines)


def results_short_line(tmp: Path) -> Path:
    lines = _lines(TOUR1)
    lines[70] = ";".join(lines[70].split(";")[:5]) + "\n"
    return _write(tmp / "short_line.csv", lines)


def results_unknown_header(tmp: Path) -> Path:
    return _write(tmp / "unknown_layout.csv", "a;b;c\n1;2;3\n")


def results_long_line(tmp: Path) -> Path:
    lines = [s.encode("utf-8") for s in _lines(TOUR1)[:20]]
    fields = lines[10].split(b";")
    fields[3] = b"B" * LONG_LINE_BYTES
    lines[10] = b";".join(fields)
    return _write(tmp / "long_line.csv", b"".join(lines))


def results_voix_overflow(tmp: Path) -> Path:
    return _set_field(TOUR1, tmp / "voix_overflow.csv", 12, "Voix 1", "99999999999999999999")


def results_code_bv_injection(tmp: Path) -> Path:
    return _set_field(TOUR1, tmp / "code_bv_sql.csv", 20, "Code BV", "1'); drop table raw.x;--")


# ---- REU tables (synthetic table-bv-reu, synthetic table-adresses-reu.gz) ----------------------


def reu_bv_empty(tmp: Path) -> Path:
    return _write(tmp / "table-bv-reu.csv", b"")


def reu_bv_missing_column(tmp: Path) -> Path:
    out = [",".join(line.rstrip("\n").split(",")[:3]) + "\n" for line in _lines(REU_BV)]
    return _write(tmp / "table-bv-reu.csv", out)


def reu_bv_bad_commune(tmp: Path) -> Path:
    return _set_field(REU_BV, tmp / "table-bv-reu.csv", 15, "code_commune", "2A0XX", sep=",")


def reu_bv_nul_byte(tmp: Path) -> Path:
    return _insert_bytes(REU_BV, tmp / "table-bv-reu.csv", 8, b"\x00")


def reu_bv_long_line(tmp: Path) -> Path:
    return _set_field(
        REU_BV, tmp / "table-bv-reu.csv", 9, "libelle_reu", "L" * LONG_LINE_BYTES, sep=","
    )


def reu_addresses_truncated_gz(tmp: Path) -> Path:
    return _gzip(tmp / "table-adresses-reu.csv.gz", _text(REU_ADDRESSES), truncate_to=0.6)


def reu_addresses_bad_latitude(tmp: Path) -> Path:
    lines = _lines(REU_ADDRESSES)[:200]
    target = tmp / "table-adresses-reu.csv"
    _write(target, lines)
    return _set_field(target, target, 77, "latitude", "north", sep=",")


def reu_addresses_not_gzip(tmp: Path) -> Path:
    return _write(tmp / "table-adresses-reu.csv.gz", _text(REU_ADDRESSES)[:5000])


# ---- the campaign's roll extract (synthetic, fake people) -------------------------------------


def _roll_name(tmp: Path) -> Path:
    return tmp / ROLL.name


def roll_surname_in_bureau_code(tmp: Path) -> Path:
    return _set_field(ROLL, _roll_name(tmp), 40, "code du bureau de vote", '"DUPONTEL"')


def roll_missing_column(tmp: Path) -> Path:
    out = [";".join(line.split(";")[:20]) + "\n" for line in _lines(ROLL)]
    return _write(_roll_name(tmp), out)


def roll_bad_birth_date(tmp: Path) -> Path:
    return _set_field(ROLL, _roll_name(tmp), 25, "date de naissance", '"31/02/1980"')


def roll_empty(tmp: Path) -> Path:
    return _write(_roll_name(tmp), b"")


def roll_nul_byte(tmp: Path) -> Path:
    return _insert_bytes(ROLL, _roll_name(tmp), 30, b"\x00")


def roll_unknown_bureau_only(tmp: Path) -> Path:
    lines = _lines(ROLL)
    out = [lines[0]]
    for line in lines[1:]:
        out.append(line.replace('"0001";"BUREAU 1"', '"0099";"BUREAU 99"'))
    return _write(_roll_name(tmp), out)


def roll_long_line(tmp: Path) -> Path:
    return _set_field(
        ROLL, _roll_name(tmp), 33, "libellé de voie", '"' + "V" * LONG_LINE_BYTES + '"'
    )


def roll_binary(tmp: Path) -> Path:
    return _write(_roll_name(tmp), b"\xff\xfe" + bytes(range(256)) * 32)


def roll_year_0001_birth(tmp: Path) -> Path:
    return _set_field(ROLL, _roll_name(tmp), 60, "date de naissance", '"01/01/0001"')


# ---- INSEE census (the sample population zip, the Filosofi re-export) -------------------------


def census_empty_zip(tmp: Path) -> Path:
    return _zip(tmp / "base-ic-evol-struct-pop-2021_csv.zip", {})


def census_zip_without_csv(tmp: Path) -> Path:
    return _zip(tmp / "base-ic-evol-struct-pop-2021_csv.zip", {"README.txt": b"nothing here\n"})


def census_corrupt_zip(tmp: Path) -> Path:
    data = CENSUS_POP.read_bytes()
    return _write(tmp / "base-ic-evol-struct-pop-2021_csv.zip", data[: len(data) // 2])


def census_duplicate_iris(tmp: Path) -> Path:
    def edit(lines: list[str]) -> list[str]:
        lines[59] = lines[58]
        return lines

    return _census(tmp / "base-ic-evol-struct-pop-2021_csv.zip", edit)


def census_value_text(tmp: Path) -> Path:
    return _census_cell(tmp / "base-ic-evol-struct-pop-2021_csv.zip", 30, "P21_POP", "beaucoup")


def census_bad_iris_code(tmp: Path) -> Path:
    return _census_cell(tmp / "base-ic-evol-struct-pop-2021_csv.zip", 40, "IRIS", "29019ABCD")


def census_missing_iris_column(tmp: Path) -> Path:
    def edit(lines: list[str]) -> list[str]:
        return [";".join(line.split(";")[1:]) for line in lines]

    return _census(tmp / "base-ic-evol-struct-pop-2021_csv.zip", edit)


def census_short_line(tmp: Path) -> Path:
    def edit(lines: list[str]) -> list[str]:
        lines[20] = ";".join(lines[20].split(";")[:6])
        return lines

    return _census(tmp / "base-ic-evol-struct-pop-2021_csv.zip", edit)


def census_nul_byte(tmp: Path) -> Path:
    def edit(lines: list[str]) -> list[str]:
        lines[44] = lines[44][:3] + "\x00" + lines[44][3:]
        return lines

    return _census(tmp / "base-ic-evol-struct-pop-2021_csv.zip", edit)


def census_long_line(tmp: Path) -> Path:
    return _census_cell(
        tmp / "base-ic-evol-struct-pop-2021_csv.zip", 25, "LAB_IRIS", "L" * LONG_LINE_BYTES
    )


def census_header_only(tmp: Path) -> Path:
    return _census(tmp / "base-ic-evol-struct-pop-2021_csv.zip", lambda lines: lines[:1])


def filosofi_bad_decimal(tmp: Path) -> Path:
    return _set_field(FILOSOFI, tmp / "revenus-2015.csv", 9, "DISP_MED15", "12.345.678", sep=",")


def filosofi_missing_iris(tmp: Path) -> Path:
    return _set_field(FILOSOFI, tmp / "revenus-2015.csv", 14, "IRIS", "", sep=",")


# ---- contours (GeoJSON) ----------------------------------------------------------------------


def geo_truncated_json(tmp: Path) -> Path:
    text = json.dumps(_contours())
    return _geojson(tmp / "contours.geojson", text[: len(text) // 2])


def geo_not_a_collection(tmp: Path) -> Path:
    return _geojson(tmp / "contours.geojson", {"type": "Topology", "objects": {}})


def geo_empty_collection(tmp: Path) -> Path:
    data = _contours()
    data["features"] = []
    return _geojson(tmp / "contours.geojson", data)


def geo_binary(tmp: Path) -> Path:
    return _write(tmp / "contours.geojson", bytes(range(256)) * 16)


def geo_crs_after_features(tmp: Path) -> Path:
    return _geojson(tmp / "contours.geojson", _crs_last(_contours()))


def geo_lambert_declared_lonlat(tmp: Path) -> Path:
    data = _contours()
    _lonlat(data["features"])
    return _geojson(tmp / "contours.geojson", _crs_last(data))


def geo_lambert_declared_lonlat_first(tmp: Path) -> Path:
    data = _contours()
    _lonlat(data["features"])
    return _geojson(tmp / "contours.geojson", data)


def _null_geometry(features: list[dict[str, Any]]) -> None:
    features[1]["geometry"] = None


def _missing_code(features: list[dict[str, Any]]) -> None:
    del features[2]["properties"]["CODE_IRIS"]


def _duplicate_code(features: list[dict[str, Any]]) -> None:
    for key in ("CODE_IRIS", "INSEE_COM", "IRIS"):
        features[1]["properties"][key] = features[0]["properties"][key]


def _nan_coordinate(features: list[dict[str, Any]]) -> None:
    _points(features[1])[2][0] = float("nan")


def _huge_coordinate(features: list[dict[str, Any]]) -> None:
    _points(features[2])[3][1] = 1e308


def _point_geometry(features: list[dict[str, Any]]) -> None:
    features[0]["geometry"] = {"type": "Point", "coordinates": [145000.0, 6840000.0]}


def _bad_iris_code(features: list[dict[str, Any]]) -> None:
    features[1]["properties"]["CODE_IRIS"] = "ABCDEFGHI"


def _brest_bureaux(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], Path]:
    """The first 5 features of Brest's real bureau layer (lon/lat, no `crs` member), edited."""

    def make(tmp: Path) -> Path:
        data = json.loads(BREST_BUREAUX.read_text(encoding="utf-8"))
        data["features"] = data["features"][:5]
        edit(data)
        return _geojson(tmp / "BureauxVoteBrest.geojson", data)

    return make


def _no_bureau_number(data: dict[str, Any]) -> None:
    data["features"][3]["properties"]["BVOTE"] = None


def _declared_lambert(data: dict[str, Any]) -> None:
    data["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}}


# ---- canvass app exports (the hand fixtures: invented people) ---------------------------------


def canvass_unknown_layout(tmp: Path) -> Path:
    return _write(tmp / "export.csv", "foo;bar;baz\n1;2;3\n")


def canvass_empty(tmp: Path) -> Path:
    return _write(tmp / "qomon_export.csv", b"")


def canvass_year_0001(tmp: Path) -> Path:
    return _set_field(QOMON, tmp / "qomon_export.csv", 3, "Date", "0001-01-01 00:00:00")


def canvass_future_date(tmp: Path) -> Path:
    return _set_field(QOMON, tmp / "qomon_export.csv", 8, "Date", "2031-01-01 10:00:00")


def canvass_bad_date(tmp: Path) -> Path:
    return _set_field(QOMON, tmp / "qomon_export.csv", 5, "Date", "hier soir")


def canvass_bad_status(tmp: Path) -> Path:
    return _set_field(
        QOMON, tmp / "qomon_export.csv", 6, "Statut", "Enlevé par des extraterrestres"
    )


def canvass_nul_byte(tmp: Path) -> Path:
    return _set_field(QOMON, tmp / "qomon_export.csv", 3, "Bureau de vote", "29019\x00_0001")


def canvass_email_record_id(tmp: Path) -> Path:
    return _set_field(QOMON, tmp / "qomon_export.csv", 2, "ID", "maelle.kerbrat@example.org")


def canvass_missing_column(tmp: Path) -> Path:
    out = [";".join(line.split(";")[:5]) + "\n" for line in _lines(QOMON)]
    return _write(tmp / "qomon_export.csv", out)


def canvass_bad_latitude(tmp: Path) -> Path:
    return _set_field(QOMON, tmp / "qomon_export.csv", 2, "Latitude", "9999")


def canvass_osdi_broken_json(tmp: Path) -> Path:
    lines = _lines(OSDI)
    lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
    return _write(tmp / "osdi_export.jsonl", lines)


def canvass_osdi_not_object(tmp: Path) -> Path:
    lines = _lines(OSDI)
    lines[1] = "[1, 2, 3]\n"
    return _write(tmp / "osdi_export.jsonl", lines)


def canvass_ecanvasser_bad_date(tmp: Path) -> Path:
    return _set_field(
        ECANVASSER, tmp / "ecanvasser_export.csv", 3, "Created At", "32/13/2026", sep=","
    )


def canvass_pap_bad_date(tmp: Path) -> Path:
    return _set_field(PAP, tmp / "pap_export.csv", 2, "Date de début", "99/99/2026 25:61")


def canvass_long_line(tmp: Path) -> Path:
    return _set_field(QOMON, tmp / "qomon_export.csv", 3, "Commentaire", "C" * LONG_LINE_BYTES)


def canvass_binary(tmp: Path) -> Path:
    return _write(tmp / "qomon_export.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)


def canvass_latin1(tmp: Path) -> Path:
    return _write(tmp / "qomon_export.csv", _text(QOMON).encode("latin-1", errors="replace"))


# ---- the table --------------------------------------------------------------------------------

FILOSOFI_OPTIONS = {
    "theme": "filosofi",
    "vintage": 2015,
    "source_format": "filosofi-reexport",
    "decimal": ",",
}
ROLL_BUREAU = "code du bureau de vote"
BREST_OPTIONS = {"kind": "bureau", "id_field": "BVOTE", "commune_field": "DEPCO"}

CASES: list[Case] = [
    # results: every refusal names the file and the physical line
    Case("results-empty", "results", results_empty, "empty", line=1),
    Case("results-header-only", "results", results_header_only, "no data row", line=2),
    Case("results-votants-text", "results", results_votants_text, "douze", 100, "Votants"),
    Case("results-inscrits-negative", "results", results_inscrits_negative, "-12", 57, "Inscrits"),
    Case("results-missing-column", "results", results_missing_column, "Votants", line=1),
    Case("results-duplicate-bureau", "results", results_duplicate_bureau, "line 42", 43, "Code BV"),
    Case("results-comma-delimited", "results", results_comma_delimited, "layout", line=1),
    Case("results-latin1", "results", results_latin1, "UTF-8", line=1),
    Case("results-nul-byte", "results", results_nul_byte, "NUL", line=50),
    Case("results-cut-mid-line", "results", results_cut_mid_line, "truncated", line=202),
    Case("results-truncated-gz", "results", results_truncated_gz, line=1),
    Case("results-binary", "results", results_binary, "binary", line=1),
    Case("results-extra-fields", "results", results_extra_fields, "extra fields", line=31),
    Case("results-short-line", "results", results_short_line, "truncated", 71, "Inscrits"),
    Case("results-unknown-header", "results", results_unknown_header, "unknown results layout", 1),
    Case("results-long-line", "results", results_long_line, line=11),
    Case("results-voix-overflow", "results", results_voix_overflow, "below", 12, "Voix 1"),
    Case("results-code-bv-injection", "results", results_code_bv_injection, line=20),
    # REU tables
    Case("reu-bv-empty", "reu", reu_bv_empty, "empty", line=1),
    Case("reu-bv-missing-column", "reu", reu_bv_missing_column, "not an REU table", line=1),
    Case("reu-bv-bad-commune", "reu", reu_bv_bad_commune, "2A0XX", 15, "code_commune"),
    Case("reu-bv-nul-byte", "reu", reu_bv_nul_byte, line=8),
    Case("reu-bv-long-line", "reu", reu_bv_long_line, line=9),
    Case("reu-addresses-truncated-gz", "reu", reu_addresses_truncated_gz, "truncated"),
    Case("reu-addresses-bad-latitude", "reu", reu_addresses_bad_latitude, "north", 77, "latitude"),
    Case("reu-addresses-not-gzip", "reu", reu_addresses_not_gzip, "fields", line=46),
    # the roll: refusals and quarantined rows never quote a value (it holds personal data)
    Case(
        "roll-surname-in-bureau-code",
        "roll",
        roll_surname_in_bureau_code,
        "bureau reference",
        40,
        ROLL_BUREAU,
        outcome="quarantined",
    ),
    Case("roll-missing-column", "roll", roll_missing_column, "bureau_code", line=1),
    Case("roll-bad-birth-date", "roll", roll_bad_birth_date, "birth date", 25, "date de naissance"),
    Case("roll-empty", "roll", roll_empty, "empty", line=1),
    Case("roll-nul-byte", "roll", roll_nul_byte, line=30),
    Case(
        "roll-unknown-bureaux-only", "roll", roll_unknown_bureau_only, "no elector could be counted"
    ),
    Case("roll-long-line", "roll", roll_long_line, line=33),
    Case("roll-binary", "roll", roll_binary, line=1),
    Case("roll-year-0001-birth", "roll", roll_year_0001_birth, "age", 60, "date de naissance"),
    # census (zip, Filosofi)
    Case("census-empty-zip", "census", census_empty_zip),
    Case("census-zip-without-csv", "census", census_zip_without_csv, "README.txt"),
    Case("census-corrupt-zip", "census", census_corrupt_zip),
    Case("census-duplicate-iris", "census", census_duplicate_iris, "appears twice", 60, "IRIS"),
    Case("census-value-text", "census", census_value_text, "beaucoup", 30, "P21_POP"),
    Case("census-bad-iris-code", "census", census_bad_iris_code, "29019ABCD", 40, "IRIS"),
    Case("census-missing-iris-column", "census", census_missing_iris_column, "IRIS", 1, "IRIS"),
    Case("census-short-line", "census", census_short_line, "fields", line=21),
    Case("census-nul-byte", "census", census_nul_byte, line=45),
    Case("census-long-line", "census", census_long_line, line=25),
    Case("census-header-only", "census", census_header_only, "no data row", line=2),
    Case(
        "census-filosofi-bad-decimal",
        "census",
        filosofi_bad_decimal,
        "decimal ','",
        line=9,
        options=FILOSOFI_OPTIONS,
    ),
    Case(
        "census-filosofi-missing-iris",
        "census",
        filosofi_missing_iris,
        "IRIS code",
        14,
        "IRIS",
        options=FILOSOFI_OPTIONS,
    ),
    # contours: no line in a GeoJSON, the feature and its id column instead
    Case("geo-truncated-json", "geo", geo_truncated_json, "not a readable GeoJSON"),
    Case("geo-not-a-collection", "geo", geo_not_a_collection, "not a readable GeoJSON"),
    Case("geo-empty-collection", "geo", geo_empty_collection, "id attribute"),
    Case("geo-binary", "geo", geo_binary),
    Case("geo-crs-after-features", "geo", geo_crs_after_features, outcome="loaded"),
    Case("geo-lonlat-declared-l93-crs-last", "geo", geo_lambert_declared_lonlat, "longitude"),
    Case(
        "geo-lonlat-declared-l93-crs-first", "geo", geo_lambert_declared_lonlat_first, "EPSG:2154"
    ),
    Case(
        "geo-null-geometry", "geo", _with_feature(_null_geometry), "feature 2", column="CODE_IRIS"
    ),
    Case("geo-missing-id", "geo", _with_feature(_missing_code), "feature 3", column="CODE_IRIS"),
    Case(
        "geo-duplicate-id",
        "geo",
        _with_feature(_duplicate_code),
        "already used",
        column="CODE_IRIS",
    ),
    Case("geo-nan-vertex", "geo", _with_feature(_nan_coordinate), "feature 2"),
    Case(
        "geo-huge-vertex", "geo", _with_feature(_huge_coordinate), "feature 3", column="CODE_IRIS"
    ),
    Case("geo-point-geometry", "geo", _with_feature(_point_geometry), "Point", column="CODE_IRIS"),
    Case(
        "geo-bad-iris-code", "geo", _with_feature(_bad_iris_code), "ABCDEFGHI", column="CODE_IRIS"
    ),
    Case(
        "geo-brest-bureau-without-number",
        "geo",
        _brest_bureaux(_no_bureau_number),
        "feature 4",
        column="BVOTE",
        options=BREST_OPTIONS,
    ),
    Case(
        "geo-brest-lonlat-declared-l93",
        "geo",
        _brest_bureaux(_declared_lambert),
        "longitude",
        options=BREST_OPTIONS,
    ),
    # canvass exports: a bad file is refused, a bad row quarantined with its line and column
    Case("canvass-unknown-layout", "canvass", canvass_unknown_layout, "unrecognised header", 1),
    Case("canvass-empty", "canvass", canvass_empty, "empty", line=1),
    Case(
        "canvass-year-0001",
        "canvass",
        canvass_year_0001,
        "",
        3,
        "Date",
        outcome="quarantined",
    ),
    Case("canvass-future-date", "canvass", canvass_future_date, "future", 8, "Date", "quarantined"),
    Case("canvass-bad-date", "canvass", canvass_bad_date, "unreadable", 5, "Date", "quarantined"),
    Case(
        "canvass-bad-status", "canvass", canvass_bad_status, "outcome", 6, "Statut", "quarantined"
    ),
    Case(
        "canvass-nul-in-bureau",
        "canvass",
        canvass_nul_byte,
        "NUL",
        line=3,
    ),
    Case(
        "canvass-email-as-record-id",
        "canvass",
        canvass_email_record_id,
        "never stored",
        2,
        "ID",
        "quarantined",
    ),
    Case("canvass-missing-column", "canvass", canvass_missing_column, "unrecognised header", 1),
    Case(
        "canvass-bad-latitude",
        "canvass",
        canvass_bad_latitude,
        "degrees",
        2,
        "Latitude",
        "quarantined",
    ),
    Case(
        "canvass-osdi-broken-json",
        "canvass",
        canvass_osdi_broken_json,
        "malformed JSON",
        3,
        outcome="quarantined",
    ),
    Case(
        "canvass-osdi-not-an-object",
        "canvass",
        canvass_osdi_not_object,
        "JSON object",
        2,
        outcome="quarantined",
    ),
    Case(
        "canvass-ecanvasser-bad-date",
        "canvass",
        canvass_ecanvasser_bad_date,
        "unreadable",
        3,
        "Created At",
        "quarantined",
    ),
    Case(
        "canvass-pap-bad-date",
        "canvass",
        canvass_pap_bad_date,
        "unreadable",
        2,
        "Date de début",
        "quarantined",
    ),
    Case("canvass-binary", "canvass", canvass_binary, "UTF-8", line=1),
    Case("canvass-latin1", "canvass", canvass_latin1, "UTF-8", line=1),
    Case("canvass-long-line", "canvass", canvass_long_line, line=3),
]
