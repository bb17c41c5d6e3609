"""Read the physical lines of a source file with bounded memory, refusing what is not text.

Every line-oriented reader (results, REU, roll, census, canvass CSV and JSON Lines) goes through
`guarded_lines`, so three hostile inputs fail the same way whatever the source, naming the file
and the line instead of surfacing as a library error much later (or as a PostgreSQL error with
no location at all):

- a line longer than `MAX_LINE_BYTES` is refused as soon as that many bytes were read without a
  line end: a 200 MB line is never held whole in memory (`for line in fh` would read it all);
- a NUL byte (a binary or UTF-16 file, a corrupted copy) is refused on its line, with its column
  when the caller knows the header, because PostgreSQL text refuses it only at COPY time;
- a truncated or corrupt compressed stream (.gz, a zip member) is refused on the line where the
  stream broke, saying so, instead of a bare `EOFError` in the ledger.
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from ingestion.errors import SourceFormatError

MAX_LINE_BYTES = 1 << 20
"""1 MiB: the widest legitimate line (a national results row, a census row of 100+ indicators,
an OSDI record) is a few KiB; the csv module already refuses a field above 128 KiB."""


class LineSource(Protocol):
    """A binary stream that reads up to a line end (a file, a GzipFile, a zip member)."""

    def readline(self, size: int = -1, /) -> bytes: ...


BROKEN_STREAM = (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile)
"""What reading a cut or damaged .gz file or zip member raises."""


def guarded_lines(
    fh: LineSource,
    path: str | Path,
    *,
    first_line: int = 1,
    max_bytes: int = MAX_LINE_BYTES,
    column_at: Callable[[bytes, int], str | None] | None = None,
) -> Iterator[tuple[int, bytes]]:
    """Yield `(line number, raw bytes)` (header = line 1), refusing the three hostile inputs.

    `first_line`: the number of the first line read (a reader that seeked past the header).

    `column_at(line, byte offset)` names the column of a NUL byte when the caller can tell it
    (the header is known); the offset is reported either way.
    """
    line_no = first_line - 1
    while True:
        try:
            raw = fh.readline(max_bytes + 1)
        except BROKEN_STREAM as exc:
            raise broken_stream(path, line_no + 1, exc) from None
        if not raw:
            return
        line_no += 1
        if len(raw) > max_bytes:
            raise SourceFormatError(
                path,
                line_no,
                None,
                f"line longer than {max_bytes:,} bytes (no line end within them): not a text "
                "export of this source, or two lines fused by a lost line end; refused without "
                "reading the rest of it",
            )
        if b"\x00" in raw:
            position = raw.index(b"\x00")
            column = column_at(raw, position) if column_at is not None else None
            raise SourceFormatError(
                path,
                line_no,
                column,
                f"NUL byte at byte {position + 1} of the line: the file is binary, UTF-16 or "
                "corrupted (sources are UTF-8 or latin-1 text; re-export it as CSV)",
            )
        yield line_no, raw


def broken_stream(path: str | Path, line_no: int | None, exc: BaseException) -> SourceFormatError:
    """The error of a compressed stream that ends early or does not decompress."""
    return SourceFormatError(
        path,
        line_no,
        None,
        f"truncated or corrupt compressed file ({type(exc).__name__}: {exc}): the download or "
        "copy was cut short; fetch the file again",
    )


def refuse_nul_bytes(path: str | Path, *, chunk: int = MAX_LINE_BYTES) -> None:
    """Refuse a text file that holds a NUL byte, naming its line, for parsers that read the
    file whole and would only say "not recognized as a supported format" (GDAL on a GeoJSON).

    Reads `chunk` bytes at a time: a one-line GeoJSON of hundreds of MB is legitimate there.
    """
    line, offset = 1, 0
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            at = block.find(b"\x00")
            if at >= 0:
                raise SourceFormatError(
                    path,
                    line + block.count(b"\n", 0, at),
                    None,
                    f"NUL byte at byte {offset + at + 1:,} of the file: the file is binary, "
                    "UTF-16 or corrupted (a GeoJSON is UTF-8 text)",
                )
            line += block.count(b"\n")
            offset += len(block)
