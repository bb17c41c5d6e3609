"""Decode a results file line by line, so an encoding error names its line and column.

Two policies:
- `utf-8`: the 2024 layouts and the data.gouv files. A byte that is not UTF-8 is an error.
- `legacy`: the 2017–2022 layouts, published in latin-1/cp1252 (accepted in UTF-8 too, since
  spreadsheet re-saves convert them). Each line is read as UTF-8 when it decodes, else as
  cp1252; a file that mixes the two (a UTF-8 line with accents after a cp1252 one, or the
  reverse) is refused at the first line that proves it, because one of the two halves would be
  read as mojibake (`Ã©` for `é`) without any error.

Decoding through `open(encoding=...)` would fail on a buffered chunk, with no line number, and
would not notice a mixed file.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

from ingestion.errors import SourceFormatError
from ingestion.textlines import guarded_lines

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

EncodingPolicy = Literal["utf-8", "legacy"]


class DecodedLines:
    """Iterate the decoded lines of a binary file (BOM dropped), checking the encoding."""

    def __init__(
        self,
        fh: BinaryIO,
        path: Path,
        policy: EncodingPolicy,
        *,
        delimiter: str = ";",
        layout_label: str = "this layout",
    ) -> None:
        self._fh = fh
        self._path = path
        self._policy = policy
        self._delimiter = delimiter
        self._layout_label = layout_label
        self.column_of: Callable[[int], str | None] = lambda _i: None
        self.encoding: str | None = None  # "utf-8" or "cp1252" once a non-ASCII line was seen
        self._encoding_line = 0

    def __iter__(self) -> Iterator[str]:
        for line_no, raw in guarded_lines(self._fh, self._path, column_at=self._column_at):
            chunk = raw
            if line_no == 1 and raw.startswith(codecs.BOM_UTF8):
                chunk = raw[len(codecs.BOM_UTF8) :]
                self._settle("utf-8", line_no, chunk)
            if chunk.isascii():
                yield chunk.decode("ascii")
                continue
            yield self._decode(chunk, line_no)

    def _decode(self, chunk: bytes, line_no: int) -> str:
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            if self._policy == "utf-8":
                raise self._not_utf8(chunk, line_no, exc) from None
            self._settle("cp1252", line_no, chunk)
            try:
                return chunk.decode("cp1252")
            except UnicodeDecodeError as exc2:
                raise self._error(
                    chunk,
                    line_no,
                    exc2.start,
                    "neither UTF-8 nor latin-1/cp1252 (this byte is undefined in cp1252)",
                ) from None
        if self._policy == "legacy":
            self._settle("utf-8", line_no, chunk)
        return text

    def _settle(self, encoding: str, line_no: int, chunk: bytes) -> None:
        if self.encoding is None:
            self.encoding, self._encoding_line = encoding, line_no
            return
        if self.encoding != encoding:
            position = next(i for i, byte in enumerate(chunk) if byte >= 0x80)
            raise self._error(
                chunk,
                line_no,
                position,
                f"mixed encodings: this line is {encoding} but line {self._encoding_line} was "
                f"{self.encoding} (two files of different encodings concatenated?); convert the "
                "whole file to one encoding",
            )

    def _not_utf8(self, chunk: bytes, line_no: int, exc: UnicodeDecodeError) -> SourceFormatError:
        return self._error(
            chunk,
            line_no,
            exc.start,
            f"not valid UTF-8: {self._layout_label} is UTF-8 (a latin-1/cp1252 file is an older "
            "layout or a spreadsheet re-save: convert it with `iconv -f latin1 -t utf-8`)",
        )

    def _column_at(self, chunk: bytes, position: int) -> str | None:
        """The column holding byte `position` of a data line, once the header is known."""
        prefix = chunk[:position].decode("utf-8", "replace")
        index = len(next(csv.reader([prefix], delimiter=self._delimiter), [""])) - 1
        return self.column_of(max(index, 0))

    def _error(self, chunk: bytes, line_no: int, position: int, reason: str) -> SourceFormatError:
        prefix = chunk[:position].decode("utf-8", "replace")
        index = len(next(csv.reader([prefix], delimiter=self._delimiter), [""])) - 1
        near = chunk[max(0, position - 12) : position + 8].decode("utf-8", "backslashreplace")
        column = self.column_of(max(index, 0))
        if column is None and line_no == 1:
            # The header itself: name the field being decoded, as best we can read it.
            names = next(csv.reader([chunk.decode("cp1252", "replace")], delimiter=self._delimiter))
            column = names[index].strip() if 0 <= index < len(names) else None
        return SourceFormatError(
            self._path,
            line_no,
            column,
            f"byte 0x{chunk[position]:02x} near {near!r}: {reason}",
        )


def csv_reader(lines: DecodedLines, delimiter: str = ";") -> CsvReader:
    """strict: a stray quote inside a field is an error, not a silently merged field."""
    return csv.reader(lines, delimiter=delimiter, quotechar='"', strict=True)


def read_header(reader: CsvReader, path: Path) -> list[str]:
    """The first record, or an error naming line 1."""
    try:
        return next(reader)
    except StopIteration:
        raise SourceFormatError(
            path, 1, None, "the file is empty: expected the header line"
        ) from None
    except csv.Error as exc:
        raise SourceFormatError(path, 1, None, f"malformed CSV header: {exc}") from exc


def iter_records(reader: CsvReader, path: Path) -> Iterator[tuple[int, list[str]]]:
    """(physical line where the record starts, fields) for every non-blank data record."""
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise SourceFormatError(path, line, None, f"malformed CSV: {exc}") from exc
        if fields:
            yield line, fields
