"""Read a CSV file in blocks of whole lines with pyarrow, with proof that each block reads as
`csv.reader(strict=True)` reads it line by line: the column fast path of the big loaders (the REU
address table, the roll extracts).

A block the proof does not cover (a stray quote, a blank line, a line end inside a field, an odd
whitespace byte, an over-long line) raises `NeedsLineReader`: the loader then reads the file with
its line reader, which stays the one definition of a valid file and the one that names the
file, line and column of what it refuses. The fast path is never a second definition.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from ingestion.textlines import BROKEN_STREAM, MAX_LINE_BYTES


class NeedsLineReader(Exception):
    """The batch reader met something it does not decide itself (a quoting, encoding, NUL byte,
    bad value, blank line...): the caller reads the file again with its line reader
    (`iter_reu_rows`, `aggregate_roll`'s), which either refuses it naming the file, line and
    column, or accepts it. The batch reader never accepts a
    row the line reader would refuse or read differently: it is a faster path, not a second
    definition of a valid file."""


# Bytes and UTF-8 sequences of the whitespace Python's str.strip()/`\s` knows beyond tab, space,
# CR and LF, and NUL: where one appears, RE2 and pyarrow's trimming could read a value otherwise
# than the line reader (or the line reader refuses it), so the block goes to the line reader.
_ODD_SINGLE = (0, 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F)
_ODD_SEQUENCES: dict[int, tuple[bytes, ...]] = {
    0xC2: (b"\x85", b"\xa0"),
    0xE1: (b"\x9a\x80",),
    0xE2: (*(bytes([0x80, b]) for b in (*range(0x80, 0x8B), 0xA8, 0xA9, 0xAF)), b"\x81\x9f"),
    0xE3: (b"\x80\x80",),
}


def has_odd_bytes(buffer: Any) -> bool:
    import numpy as np

    control = buffer[buffer < 0x20]  # few: tabs, CR, LF
    if control.size and np.isin(control, _ODD_SINGLE).any():
        return True
    # Where each lead byte occurs (° and accented capitals start with 0xC2/0xC3, ’ and € with
    # 0xE2), the bytes after it, compared as columns: one pass over the block per lead byte.
    padded = np.concatenate((buffer, np.zeros(2, dtype=np.uint8)))
    for lead, tails in _ODD_SEQUENCES.items():
        at = np.flatnonzero(buffer == lead)
        if not at.size:
            continue
        for tail in tails:
            match = np.ones(at.size, dtype=bool)
            for offset, byte in enumerate(tail, start=1):
                match &= padded[at + offset] == byte
            if match.any():
                return True
    return False


def stray_quotes(buffer: Any, quotes: Any, delimiter: int) -> bool:
    """A quote that neither opens a field (after a delimiter or at a line start) nor closes one
    (before a delimiter or a line end), e.g. an escaped `""` inside a field: csv's strict mode
    refuses some of these and pyarrow reads them leniently, so the block goes to the line reader."""
    import numpy as np

    if not quotes.size:
        return False
    before = buffer[np.maximum(quotes - 1, 0)]
    after = buffer[np.minimum(quotes + 1, len(buffer) - 1)]
    opens = (before == delimiter) | (before == 10) | (quotes == 0)
    closes = (after == delimiter) | (after == 10) | (after == 13)
    return bool((~opens & ~closes).any())


def line_blocks(fh: IO[bytes], chunk_bytes: int) -> Iterator[bytes]:
    """The rest of the file in blocks of whole lines, each ending with a line end."""
    carry = b""
    while True:
        try:
            block = fh.read(chunk_bytes)
        except BROKEN_STREAM:
            raise NeedsLineReader("broken compressed stream") from None
        if not block:
            if carry:
                yield carry + b"\n"  # csv reads a last line without its line end the same way
            return
        data = carry + block
        cut = data.rfind(b"\n")
        if cut < 0:
            if len(data) > MAX_LINE_BYTES:
                raise NeedsLineReader("over-long line")
            carry = data
            continue
        carry = data[cut + 1 :]
        yield data[: cut + 1]


class BlockParser:
    """pyarrow's CSV reader on a block of whole lines, all columns as text, with proof that it
    read each line as `csv.reader(strict=True)` would (else NeedsLineReader)."""

    def __init__(self, width: int, delimiter: str) -> None:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        self.width = width
        self.delimiter = ord(delimiter)
        names = [f"c{i}" for i in range(width)]
        self.read = pcsv.ReadOptions(column_names=names, use_threads=False)
        self.parse = pcsv.ParseOptions(
            delimiter=delimiter, quote_char='"', double_quote=True, newlines_in_values=False
        )
        self.parse.ignore_empty_lines = False
        self.convert = pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )

    def __call__(self, data: bytes) -> Any:
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pcsv

        buffer = np.frombuffer(data, dtype=np.uint8)
        quote_at = np.flatnonzero(buffer == 34)
        if has_odd_bytes(buffer) or stray_quotes(buffer, quote_at, self.delimiter):
            raise NeedsLineReader("bytes the batch reader leaves to the line reader")
        ends = np.flatnonzero(buffer == 10)
        lengths = np.diff(ends, prepend=-1)
        if int(lengths.max()) > MAX_LINE_BYTES:
            raise NeedsLineReader("over-long line")
        try:
            table = pcsv.read_csv(pa.py_buffer(data), self.read, self.parse, self.convert)
        except pa.ArrowException:
            raise NeedsLineReader("the CSV reader refused the block") from None
        if table.num_rows != len(ends):
            raise NeedsLineReader("blank lines, or line ends inside a field")
        # Every byte of each line is accounted for by its fields, its delimiters, two quotes per
        # quoted field and its line end: nothing was dropped or merged by a lenient parse.
        quotes = np.add.reduceat(buffer == 34, np.concatenate(([0], ends[:-1] + 1)), dtype=np.int64)
        if (quotes % 2).any():
            raise NeedsLineReader("a quote opens a field it does not close")
        has_cr = buffer[np.maximum(ends - 1, 0)] == 13
        expected = self.width + quotes + has_cr + _field_bytes(table)  # delimiters + end: width
        if (expected != lengths).any():
            raise NeedsLineReader("a line does not read back to its bytes")
        return table


def _field_bytes(table: Any) -> Any:
    """The bytes of each row's fields, all columns together (a numpy int64 array), read from
    the string columns' offset buffers: one subtraction per column and chunk, where a compute
    call per column cost more than the parse of a commune's extract."""
    import numpy as np

    total = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        start = 0
        for chunk in column.chunks:
            size = len(chunk)
            offsets = np.frombuffer(
                chunk.buffers()[1], dtype=np.int32, count=size + 1, offset=chunk.offset * 4
            )
            total[start : start + size] += offsets[1:] - offsets[:-1]
            start += size
    return total
