"""Hostile bytes across every line-oriented reader: each refusal names the file and the line.

Issue 14: a NUL byte, a truncated .gz, an empty census zip and a 200 MB line failed with a
library error (`EOFError`, a PostgreSQL `DataError`), or after reading the whole line into
memory. Each reader now refuses them through `ingestion.textlines.guarded_lines`, on the line,
with bounded memory. The loaders' ledger rows are checked in
tests/integration/test_hostile_loads.py.
"""

from __future__ import annotations

import gzip
import io
import shutil
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ingestion.canvass.fields import timestamp
from ingestion.canvass.model import RowRejected
from ingestion.canvass.readers import open_export
from ingestion.census.reader import open_census_source
from ingestion.errors import SourceFormatError
from ingestion.sources.elections import iter_results
from ingestion.sources.results_city import iter_city_export
from ingestion.sources.reu import iter_reu_rows
from ingestion.sources.roll import aggregate_roll
from ingestion.textlines import MAX_LINE_BYTES, guarded_lines
from scrutin.config import SAMPLE_DATA_DIR
from tests.fixtures.canvass import support

RESULTS = SAMPLE_DATA_DIR / "elections" / "circos23-tour1.csv"
CITY = SAMPLE_DATA_DIR / "elections" / "legislatives-2022-t1-brest-circo2.csv"
REU_BV = SAMPLE_DATA_DIR / "reu" / "table-bv-reu-synthetic.csv"
REU_ADDRESSES = SAMPLE_DATA_DIR / "reu" / "table-adresses-reu-synthetic.csv.gz"
ROLL = SAMPLE_DATA_DIR / "roll" / "ListesElecteursActifs-com29061-10-06-2024-09h30.csv"
CENSUS_ZIP = SAMPLE_DATA_DIR / "census" / "base-ic-evol-struct-pop-2021_csv.zip"


def _drain(iterable: object) -> None:
    for _ in iterable:  # type: ignore[attr-defined]
        pass


def _census(path: Path) -> None:
    with open_census_source(path) as source:
        _drain(source.stream)


def _canvass(path: Path) -> None:
    _drain(open_export(path).records)


def _city(path: Path) -> None:
    _drain(iter_city_export(path))


def _roll(path: Path) -> None:
    aggregate_roll(path)


# name -> (sample file, how to read it all, the file name a copy must keep)
READERS: dict[str, tuple[Path, Callable[[Path], None], str]] = {
    "results": (RESULTS, lambda p: _drain(iter_results(p)), RESULTS.name),
    "results-city": (CITY, _city, CITY.name),
    "reu": (REU_BV, lambda p: _drain(iter_reu_rows(p)), REU_BV.name),
    "roll": (ROLL, _roll, ROLL.name),
    "census": (CENSUS_ZIP, _census, "base-ic-evol-struct-pop-2021.csv"),
    "canvass-csv": (support.QOMON, _canvass, support.QOMON.name),
    "canvass-jsonl": (support.OSDI, _canvass, support.OSDI.name),
}


def _sample_bytes(name: str) -> bytes:
    source = READERS[name][0]
    if source.suffix == ".zip":
        with zipfile.ZipFile(source) as archive:
            (member,) = [n for n in archive.namelist() if not n.startswith("meta_")]
            return archive.read(member)
    return source.read_bytes()


def _copy(name: str, tmp_path: Path, data: bytes) -> Path:
    source, _read, file_name = READERS[name]
    target = tmp_path / file_name
    target.write_bytes(data)
    mapping = source.with_name(source.name + ".nuances.yml")
    if mapping.exists():  # the city export's nuance mapping travels beside it
        shutil.copy(mapping, tmp_path / mapping.name)
    return target


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_nul_byte_is_refused_on_its_line(name: str, tmp_path: Path) -> None:
    lines = _sample_bytes(name).splitlines(keepends=True)
    lines[2] = lines[2][:6] + b"\x00" + lines[2][6:]
    path = _copy(name, tmp_path, b"".join(lines))
    with pytest.raises(SourceFormatError, match="NUL byte at byte 7") as err:
        READERS[name][1](path)
    assert err.value.line == 3
    assert err.value.path is not None and err.value.path.name == path.name


@pytest.mark.parametrize("name", sorted(READERS))
def test_an_endless_line_is_refused_without_reading_it_whole(name: str, tmp_path: Path) -> None:
    lines = _sample_bytes(name).splitlines(keepends=True)
    path = _copy(name, tmp_path, b"".join(lines[:2]))
    with path.open("ab") as fh:  # a 3 MiB line, written in pieces
        for _ in range(3):
            fh.write(b"A" * MAX_LINE_BYTES)
        fh.write(b"\n" + b"".join(lines[2:]))
    tracemalloc.start()
    try:
        with pytest.raises(SourceFormatError, match="line longer than 1,048,576 bytes") as err:
            READERS[name][1](path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.value.line == 3
    assert peak < 3 * MAX_LINE_BYTES, f"{peak:,} bytes: the line was read whole"


def test_a_200_mb_line_is_refused_quickly_with_bounded_memory(tmp_path: Path) -> None:
    """The issue's case, at its size: refused after reading 1 MiB of it, not 200 MB."""
    path = tmp_path / RESULTS.name
    head = RESULTS.read_bytes().splitlines(keepends=True)[:2]
    with path.open("wb") as fh:
        fh.write(b"".join(head))
        block = b"9;" * (1 << 19)
        for _ in range(200):
            fh.write(block)
        fh.write(b"\n")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SourceFormatError, match="line longer than") as err:
            _drain(iter_results(path))
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (err.value.path.name if err.value.path else None, err.value.line) == (path.name, 3)
    assert peak < 8 << 20, f"peak {peak:,} bytes"
    assert elapsed < 5, f"{elapsed:.1f}s"


@pytest.mark.parametrize(
    ("name", "source"), [("reu", REU_ADDRESSES), ("census", None), ("roll", ROLL)]
)
def test_a_truncated_gzip_is_named_truncated(
    name: str, source: Path | None, tmp_path: Path
) -> None:
    data = source.read_bytes() if source is not None else gzip.compress(_sample_bytes(name))
    if data[:2] != b"\x1f\x8b":
        data = gzip.compress(data)
    path = tmp_path / (READERS[name][2].removesuffix(".gz") + ".gz")
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match="truncated or corrupt compressed file") as err:
        READERS[name][1](path)
    assert err.value.path is not None and err.value.path.name == path.name
    assert err.value.line is not None and err.value.line > 1  # where the stream broke


def test_a_truncated_zip_member_is_named_truncated(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("base-ic-evol-struct-pop-2021.CSV", _sample_bytes("census") * 20)
    data = bytearray(buffer.getvalue())
    # Damage the compressed member but keep the central directory: a copy cut and patched.
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    path = tmp_path / "base-ic-evol-struct-pop-2021_csv.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(SourceFormatError, match="truncated or corrupt compressed file") as err:
        _census(path)
    assert err.value.path is not None and err.value.path.name.startswith(path.name + "!")


@pytest.mark.parametrize("empty", ["no member", "zero bytes"])
def test_an_empty_census_zip_says_it_holds_no_file(empty: str, tmp_path: Path) -> None:
    path = tmp_path / "base-ic-evol-struct-pop-2021_csv.zip"
    if empty == "no member":
        zipfile.ZipFile(path, "w").close()
    else:
        path.write_bytes(b"")
    with pytest.raises(SourceFormatError, match=r"holds no file|not a readable zip") as err:
        _census(path)
    assert err.value.path == path


def test_guarded_lines_number_lines_from_where_the_reader_starts() -> None:
    lines = list(guarded_lines(io.BytesIO(b"a\nb\n"), "x.csv", first_line=5))
    assert lines == [(5, b"a\n"), (6, b"b\n")]
    with pytest.raises(SourceFormatError, match=r"x\.csv, line 2, column 'B'"):
        _drain(guarded_lines(io.BytesIO(b"a\nb\x00\n"), "x.csv", column_at=lambda _l, _p: "B"))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0001-01-01 00:00:00", "year 1 is before 2000"),
        ("0001-01-01T00:00:00+01:00", "year 1 is before 2000"),
        ("1970-01-01 00:00:00", "year 1970 is before 2000"),
        ("9999-12-31T23:59:59-05:00", "out of range"),
        ("le 3 bidule", "unreadable timestamp"),
    ],
)
def test_bad_timestamps_reject_the_row_not_the_file(value: str, reason: str) -> None:
    """Before: year 1 overflowed the UTC conversion and the whole export was refused."""
    with pytest.raises(RowRejected, match=reason) as err:
        timestamp(value, "Date")
    assert err.value.column == "Date"


def test_a_nul_byte_in_a_geojson_is_named_with_its_line(tmp_path: Path) -> None:
    """Before: GDAL's "not recognized as being in a supported file format", with the absolute
    path and no line."""
    from ingestion.geo.contours import read_contours

    source = SAMPLE_DATA_DIR / "geo" / "communes-synthetic.geojson"
    lines = source.read_bytes().splitlines(keepends=True)
    at = min(len(lines) - 1, 2)
    lines[at] = lines[at][:1] + b"\x00" + lines[at][1:]
    path = tmp_path / "communes-nul.geojson"
    path.write_bytes(b"".join(lines))
    with pytest.raises(SourceFormatError, match="NUL byte at byte") as err:
        read_contours(path, "commune", id_field="code_insee")
    assert (err.value.path, err.value.line) == (path, at + 1)
