"""Reading canvass exports: CSV, JSON-lines and JSON documents, streamed record by record.

Two kinds of problems, two outcomes:
- A problem with the *file* (empty, not UTF-8, unrecognised or incomplete header, wrong CSV
  delimiter, a JSON document cut short, no data row) raises `SourceFormatError`: the whole file is
  refused and nothing of it is applied.
- A problem with one *row* (a malformed JSON line, a row with too few fields — a truncated last
  line — or any value a mapper cannot read) is yielded as a `RowRejected` with its physical line
  number: the loader quarantines that row and loads the others.

Line numbers are physical lines (the CSV header is line 1). Records of a JSON *document* have no
line of their own: they are numbered 1, 2, … in document order, which is what `line_no` holds.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ingestion.canvass.mappers import Mapper, csv_mappers, detect_csv, detect_json, get_mapper
from ingestion.canvass.model import RowRejected
from ingestion.errors import SourceFormatError
from ingestion.textlines import guarded_lines

RecordOrError = tuple[int, dict[str, Any] | RowRejected]
CSV_DELIMITERS = (";", ",", "\t", "|")
_DELIMITER_NAMES = {";": "';'", ",": "','", "\t": "tab", "|": "'|'"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")


@dataclass
class Export:
    """An opened export: which app it is, and its records (read lazily, once).

    For CSV, `header` and `data_start` (byte offset of the first data line) let a loader split
    the file into ranges that worker processes parse on their own (`csv_ranges`).
    """

    path: Path
    mapper: Mapper
    layout: Literal["csv", "jsonl", "json"]
    records: Generator[RecordOrError, None, None]
    header: tuple[str, ...] = ()
    data_start: int = 0


def open_export(path: str | Path, fmt: str | None = None) -> Export:
    """Recognise the export at `path` (or trust `fmt`) and return its record stream.

    Raises SourceFormatError for file-level problems found before the first record; later ones
    (encoding, truncated JSON document, no data row) are raised while iterating.
    """
    path = Path(path)
    mapper = get_mapper(fmt) if fmt else None
    head = _head(path)
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise SourceFormatError(path, 1, None, "empty file: expected a header line or JSON records")
    layout = _layout(path, head)
    if layout == "csv":
        if mapper is not None and mapper.kind != "csv":
            raise SourceFormatError(path, 1, None, f"{mapper.name} exports are JSON, not CSV")
        return _open_csv(path, mapper)
    if mapper is not None and mapper.kind != "json":
        raise SourceFormatError(path, 1, None, f"{mapper.name} exports are CSV, not JSON")
    if layout == "jsonl":
        return _open_jsonl(path, mapper)
    return _open_json_document(path, mapper)


def _head(path: Path, size: int = 65536) -> bytes:
    with path.open("rb") as fh:
        return fh.read(size)


def _layout(path: Path, head: bytes) -> Literal["csv", "jsonl", "json"]:
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if suffix == ".json" or stripped[:1] in (b"{", b"["):
        if stripped[:1] == b"[":
            return "json"
        first_line = stripped.split(b"\n", 1)[0]
        try:
            json.loads(first_line)
        except ValueError:
            return "json"  # a pretty-printed document: its first line is not a whole object
        return "jsonl"
    return "csv"


# ---- CSV ------------------------------------------------------------------------------------


def _split_header(line: str, delimiter: str) -> list[str]:
    return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter), [])]


def _open_csv(path: Path, mapper: Mapper | None) -> Export:
    fh = _utf8_lines(path)
    header_line = next(fh, "")
    headers = {d: _split_header(header_line, d) for d in CSV_DELIMITERS}
    if mapper is None:
        for header in headers.values():
            found = detect_csv(header)
            if found is not None:
                mapper = found
                break
        else:
            fh.close()
            names = ", ".join(m.name for m in csv_mappers())
            raise SourceFormatError(
                path,
                1,
                None,
                f"unrecognised header: not an export of a known app ({names}); "
                "pass --format to name it, or add the app's mapping (docs/canvass.md)",
            )
    header = headers[mapper.delimiter]
    missing = [c for c in mapper.required if c not in header]
    if missing:
        fh.close()
        for delimiter, other in headers.items():
            if delimiter != mapper.delimiter and all(c in other for c in mapper.required):
                raise SourceFormatError(
                    path,
                    1,
                    None,
                    f"wrong delimiter: the header is separated by {_DELIMITER_NAMES[delimiter]} "
                    f"but {mapper.name} exports use {_DELIMITER_NAMES[mapper.delimiter]} "
                    "(re-export the file, do not re-save it from a spreadsheet)",
                )
        raise SourceFormatError(
            path,
            1,
            missing[0],
            f"required column missing from the {mapper.name} header (required columns: "
            f"{', '.join(mapper.required)}); if the app renamed it, map the new name in "
            f"{mapper.mapping.path.name} (docs/canvass.md)",
        )
    data_start = len(header_line.encode("utf-8")) + (3 if _head(path, 3) == b"\xef\xbb\xbf" else 0)
    return Export(
        path,
        mapper,
        "csv",
        _csv_records(path, fh, header, mapper.delimiter),
        header=tuple(header),
        data_start=data_start,
    )


def _utf8_lines(path: Path) -> Generator[str, None, None]:
    """Physical lines decoded one at a time (line endings kept, BOM dropped), so a byte that is
    not UTF-8 is reported on its own line rather than on the line of an 8 KB decoding block."""
    with path.open("rb") as fh:
        for line_no, raw in guarded_lines(fh, path):
            data = (
                raw[len(codecs.BOM_UTF8) :]
                if line_no == 1 and raw.startswith(codecs.BOM_UTF8)
                else raw
            )
            try:
                yield data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SourceFormatError(
                    path, line_no, None, f"not UTF-8 text ({exc.reason})"
                ) from exc


def _csv_records(
    path: Path, fh: Generator[str, None, None], header: Sequence[str], delimiter: str
) -> Generator[RecordOrError, None, None]:
    try:
        rows = yield from _csv_rows(path, fh, header, delimiter, first_line=2)
    finally:
        fh.close()
    if rows == 0:
        raise SourceFormatError(path, 2, None, "no data row: the export holds a header only")


def _csv_rows(
    path: Path, lines: Iterable[str], header: Sequence[str], delimiter: str, *, first_line: int
) -> Generator[RecordOrError, None, int]:
    """Records of CSV `lines` whose first physical line is `first_line`; returns the count."""
    width = len(header)
    rows = 0
    last_end = first_line - 1
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for row in reader:
            start, last_end = last_end + 1, first_line - 1 + reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            rows += 1
            if len(row) != width:
                yield (
                    start,
                    RowRejected(
                        None,
                        f"expected {width} fields, found {len(row)} "
                        "(a truncated or shifted row, or an unquoted delimiter inside a value)",
                    ),
                )
                continue
            yield start, dict(zip(header, row, strict=True))
    except UnicodeDecodeError as exc:
        raise SourceFormatError(path, last_end + 1, None, f"not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise SourceFormatError(path, last_end + 1, None, f"unreadable CSV: {exc}") from exc
    return rows


def csv_ranges(
    path: Path, data_start: int, delimiter: str, rows_per_range: int
) -> Iterator[tuple[int, int, int]]:
    """Split a CSV file's data into (start byte, end byte, first physical line) ranges that each
    hold whole records, about `rows_per_range` of them.

    The split points come from the same CSV parser run over the file (fed line by line, so the
    byte offset after each record is known): a quoted value spanning lines is never cut.
    """
    offset = data_start
    line_no = 2
    range_start, range_line, rows = offset, line_no, 0

    def lines(fh: Any) -> Iterator[str]:
        nonlocal offset, line_no
        for _number, raw in guarded_lines(fh, path, first_line=line_no):
            offset += len(raw)
            line_no += 1
            yield raw.decode("utf-8", errors="replace")

    with path.open("rb") as fh:
        fh.seek(data_start)
        for _row in csv.reader(lines(fh), delimiter=delimiter):
            rows += 1
            if rows >= rows_per_range:
                yield range_start, offset, range_line
                range_start, range_line, rows = offset, line_no, 0
    if offset > range_start:
        yield range_start, offset, range_line


def csv_range_records(
    path: Path, header: Sequence[str], delimiter: str, *, start: int, end: int, first_line: int
) -> tuple[list[RecordOrError], int]:
    """The records of one range (see `csv_ranges`) and how many rows it held."""
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data[: exc.start].count(b"\n")
        raise SourceFormatError(path, line, None, f"not UTF-8 text ({exc.reason})") from exc
    records: list[RecordOrError] = []
    rows = _csv_rows(path, io.StringIO(text, newline=""), header, delimiter, first_line=first_line)
    while True:
        try:
            records.append(next(rows))
        except StopIteration as stop:
            return records, int(stop.value or 0)


# ---- JSON -----------------------------------------------------------------------------------


def _json_error(exc: json.JSONDecodeError) -> str:
    # The decoder's message names the position, never the content. Some of its messages end in
    # "at" ("Unterminated string starting at"): drop it before adding our own position.
    return f"malformed JSON: {exc.msg.removesuffix(' at')} (column {exc.colno})"


def _open_jsonl(path: Path, mapper: Mapper | None) -> Export:
    if mapper is None:
        mapper = _detect_first_json(path)
    return Export(path, mapper, "jsonl", _jsonl_records(path))


def _detect_first_json(path: Path) -> Mapper:
    with path.open("rb") as fh:
        for _line_no, raw in guarded_lines(fh, path):
            line = raw.decode("utf-8-sig", errors="replace")
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                found = detect_json(record)
                if found is None:
                    break
                return found
            break
    raise SourceFormatError(
        path, None, None, "unrecognised JSON records: no JSON app mapping matches; pass --format"
    )


def _jsonl_records(path: Path) -> Generator[RecordOrError, None, None]:
    rows = 0
    lines = _utf8_lines(path)
    try:
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            rows += 1
            try:
                record = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                yield line_no, RowRejected(None, _json_error(exc))
                continue
            if not isinstance(record, dict):
                yield line_no, RowRejected(None, "expected one JSON object per line")
                continue
            yield line_no, record
    finally:
        lines.close()
    if rows == 0:
        raise SourceFormatError(path, 1, None, "no record: the file holds blank lines only")


def _open_json_document(path: Path, mapper: Mapper | None) -> Export:
    try:
        with path.open(encoding="utf-8-sig") as fh:
            document = json.load(fh)
    except UnicodeDecodeError as exc:
        raise SourceFormatError(path, None, None, f"not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise SourceFormatError(
            path, exc.lineno, None, f"{_json_error(exc)}: a truncated or damaged JSON document"
        ) from exc
    records = _document_records(path, document)
    if not records:
        raise SourceFormatError(path, None, None, "no record: the JSON document is empty")
    if mapper is None:
        first = next((r for r in records if isinstance(r, dict)), {})
        mapper = detect_json(first)
        if mapper is None:
            raise SourceFormatError(
                path,
                None,
                None,
                "unrecognised JSON records: no JSON app mapping matches; pass --format",
            )
    return Export(path, mapper, "json", _document_iter(records))


def _document_records(path: Path, document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        embedded = document.get("_embedded")
        if isinstance(embedded, dict):
            if "osdi:outreaches" in embedded and "osdi:canvasses" not in embedded:
                raise SourceFormatError(
                    path, None, "_embedded", "osdi:outreaches are advocacy messages, not canvasses"
                )
            items = embedded.get("osdi:canvasses")
            if isinstance(items, list):
                return items
        if "action_date" in document:
            return [document]
    raise SourceFormatError(
        path,
        None,
        None,
        "expected a list of canvasses or a collection with _embedded osdi:canvasses",
    )


def _document_iter(records: list[Any]) -> Generator[RecordOrError, None, None]:
    for index, record in enumerate(records, start=1):
        if isinstance(record, dict):
            yield index, record
        else:
            yield index, RowRejected(None, "expected a JSON object for each canvass")
