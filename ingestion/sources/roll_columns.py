"""The roll extract aggregated in column batches: the loader's fast path, same counts.

`aggregate_roll` (ingestion.sources.roll) reads an extract line by line in Python, ~9 µs of CPU
an elector: 8 minutes of one core for the ~54 million electors of a national roll, more than
three times what COPY of the same bytes takes. This module computes the same `RollAggregate`
with pyarrow and numpy over blocks of whole lines (`ingestion.blocks`): parsing, trimming, the
birth-date checks, ages and bands are column operations; Python only sees the distinct values of
a block (bureau codes, list types, sexes, address parts, the distinct doors of each bureau) and
decides each with the line reader's own functions.

It never decides differently from the line reader: anything it does not settle itself (an odd
byte or quote, a blank line, a wrong field count, a value the line reader would refuse, a birth
date outside the plain `DD/MM/YYYY` form that the line reader's parser does not accept...)
raises `NeedsLineReader`, and `aggregate_roll` reads the file again line by line, which either
refuses it naming the file, line and column, or counts it. Left-out lines (no bureau code, a
bureau outside the reference) are reported here too, with their line numbers: a block holds no
blank line and no line end inside a field, so row i of a block is line `first + i`.

Privacy is the line reader's (docs/privacy.md rule 1): a block of lines (a few MB) lives in
memory while it is counted and is dropped after; what outlives a block until the file is done is
the per-file memo of single cells (bureau codes, list types, sexes, normalised address parts)
and, per bureau, the sha256 of each door's normalised address, never a whole line, a name or a
birth date. Nothing but counts leaves this module.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Container
from pathlib import Path
from typing import Any

from ingestion.blocks import BlockParser, NeedsLineReader, line_blocks
from ingestion.errors import SourceFormatError
from ingestion.sources.reu import DecodedLines, normalise_address, open_binary
from ingestion.sources.roll import (
    _BAND_BOUNDS,
    _SEX,
    MAX_AGE,
    BureauKey,
    RejectedRow,
    RollAggregate,
    RollMapping,
    _bureau,
    _Columns,
    _commune,
    _detect_encoding,
    _detect_separator,
    _fold,
    _list_type,
    _resolve_columns,
    aggregate_roll,
    commune_from_name,
    load_mapping,
    parse_birth_date,
    resolve_reference_date,
)
from ingestion.textlines import BROKEN_STREAM
from scrutin.vocabulary import AGE_BANDS

log = logging.getLogger("scrutin.ingestion.roll")

CHUNK_BYTES = 4 << 20
"""Bytes of CSV per block (~9,000 electors): a commune's extract is usually one block."""
COLUMNS_MIN_BYTES = 96 << 10
"""Smaller extracts (a commune of fewer than ~400 electors) are counted line by line: the column
path costs ~2 ms a file before its first line, the line reader ~7 µs a line. Measured on cuts of
a national extract (median of 30 runs each): 200 lines (50 KB) 1.6 ms by line, 2.5 ms in
columns; 400 lines (100 KB) 3.0 and 3.0 ms; 1,000 lines (251 KB) 6.9 and 4.1 ms."""

_DMY = r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
_PAST_BAND = [past for past, _ in _BAND_BOUNDS]
_NO_PART = 0
"""The id of an address part that normalises to nothing (left out of the door's address)."""


def aggregate_roll_fast(
    path: str | Path,
    *,
    mapping: RollMapping | None = None,
    as_of: dt.date | None = None,
    known_bureaux: Container[str] | None = None,
    min_bytes: int = COLUMNS_MIN_BYTES,
) -> RollAggregate:
    """`aggregate_roll(path, ...)`'s result: through the column path when the file has at least
    `min_bytes`, else (or when the column path hands the file back) line by line, which also
    raises every refusal, naming the file, line and column."""
    path = Path(path)
    mapping = mapping or load_mapping()
    if path.stat().st_size >= min_bytes:
        reference_date, source = resolve_reference_date(path, as_of)
        try:
            return aggregate_roll_columns(
                path,
                mapping=mapping,
                reference_date=reference_date,
                reference_date_source=source,
                known_bureaux=known_bureaux,
            )
        except NeedsLineReader as exc:  # its message names no value
            log.info("%s: counted line by line (%s)", path.name, exc)
    return aggregate_roll(path, mapping=mapping, as_of=as_of, known_bureaux=known_bureaux)


def aggregate_roll_columns(
    path: Path,
    *,
    mapping: RollMapping,
    reference_date: dt.date,
    reference_date_source: str,
    known_bureaux: Container[str] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> RollAggregate:
    """What `aggregate_roll` returns for this file, or `NeedsLineReader` (see the module)."""
    import pyarrow as pa

    result = RollAggregate(
        reference_date=reference_date, reference_date_source=reference_date_source
    )
    with open_binary(path) as fh:
        try:
            encoding = _detect_encoding(fh, mapping.encoding)
            delimiter = _detect_separator(fh, mapping.separator)
            columns = _read_header(fh, path, encoding, delimiter, mapping)
        except (SourceFormatError, *BROKEN_STREAM) as exc:
            raise NeedsLineReader(f"the header: {type(exc).__name__}") from None
        counter = _FileCounter(path, columns, mapping, result, known_bureaux)
        parse = BlockParser(len(columns.header), delimiter)
        line = 2
        for block in line_blocks(fh, chunk_bytes):
            if encoding != "utf-8":
                try:
                    data = block.decode(encoding).encode("utf-8")
                except UnicodeDecodeError:
                    raise NeedsLineReader(f"not valid {encoding}") from None
            else:
                data = block
            try:
                table = parse(data)
            except pa.ArrowException:
                raise NeedsLineReader("a value pyarrow does not read") from None
            counter.count(table, line)
            line += table.num_rows
    if result.electors_read == 0:
        raise NeedsLineReader("no data row")
    result.doors = counter.doors_per_bureau()
    return result


def _read_header(
    fh: Any, path: Path, encoding: str, delimiter: str, mapping: RollMapping
) -> _Columns:
    """The header as the line reader reads it (same decoding, BOM and csv rules), leaving `fh`
    at the first data line."""
    import csv

    lines = DecodedLines(fh, path, encoding, show_content=False)
    lines.delimiter = delimiter
    reader = csv.reader(lines, delimiter=delimiter, quotechar='"', strict=True)
    try:
        raw_header = next(reader)
    except (StopIteration, csv.Error):
        raise NeedsLineReader("no header, or a malformed one") from None
    if reader.line_num != 1:
        raise NeedsLineReader("the header spans several lines")
    columns = _resolve_columns(raw_header, mapping, path)
    if columns.positions["commune_code"] is None and commune_from_name(path.name) is None:
        raise NeedsLineReader("no commune")
    return columns


class _FileCounter:
    """The counts of one file, block after block, with the per-file memos of the line reader."""

    def __init__(
        self,
        path: Path,
        columns: _Columns,
        mapping: RollMapping,
        result: RollAggregate,
        known_bureaux: Container[str] | None,
    ) -> None:
        self.path = path
        self.columns = columns
        self.result = result
        self.known_bureaux = known_bureaux
        self.name_commune = commune_from_name(path.name)
        pos = columns.positions
        self.door_positions = [i for f in mapping.door_key if (i := pos[f]) is not None]
        # per-file memos: raw cell -> decision, as the line reader's
        self.bureau_keys: dict[str, tuple[int, int]] = {}  # raw pair -> (bureau, reason)
        self.reasons: list[str] = []
        self.reason_ids: dict[str, int] = {}
        self.bureaux: dict[BureauKey, int] = {}
        self.bureau_list: list[BureauKey] = []
        self.list_types: dict[str, str] = {}
        self.sexes: dict[str, str] = {}
        self.part_ids: dict[str, int] = {}
        self.part_of_norm: dict[str, int] = {"": _NO_PART}
        self.norms: list[str] = [""]
        self.door_blocks: list[Any] = []  # per block: the distinct (bureau, address) pairs

    # -- one block ------------------------------------------------------------------------------

    def count(self, table: Any, first_line: int) -> None:
        import numpy as np
        import pyarrow as pa

        result = self.result
        n = table.num_rows
        result.electors_read += n
        bureau, reasons = self._bureaux(table)
        left_out = reasons >= 0
        if left_out.any():
            bureau_column = self.columns.name("bureau_code")
            for row in np.flatnonzero(left_out).tolist():
                reason = self.reasons[reasons[row]]
                result.rejected.append(RejectedRow(first_line + row, bureau_column, reason))
            kept = pa.array(~left_out)
            table = table.filter(kept)
            bureau = bureau[~left_out]
        if table.num_rows == 0:
            return
        list_type = self._decided(table, "list_type", self.list_types, self._decide_list_type)
        sex = self._decided(table, "sex", self.sexes, self._decide_sex)
        band = self._bands(table)
        # voters per (bureau, list type, band, sex): one integer key per cell
        cells = ((bureau * 4 + list_type.codes) * len(AGE_BANDS) + band) * 4 + sex.codes
        keys, voters = np.unique(cells, return_counts=True)
        counts = result.counts
        for key, count in zip(keys.tolist(), voters.tolist(), strict=True):
            rest, sex_code = divmod(key, 4)
            rest, band_code = divmod(rest, len(AGE_BANDS))
            bureau_code, list_code = divmod(rest, 4)
            commune, code_bv = self.bureau_list[bureau_code]
            cell = (
                commune,
                code_bv,
                list_type.values[list_code],
                AGE_BANDS[band_code],
                sex.values[sex_code],
            )
            counts[cell] += count
        result.electors_counted += table.num_rows
        self._count_doors(table, bureau)

    # -- bureaux --------------------------------------------------------------------------------

    def _stripped(self, table: Any, field: str) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        i = self.columns.positions[field]
        if i is None:
            return pa.array([""] * table.num_rows, pa.string())
        return pc.utf8_trim_whitespace(table.column(i).combine_chunks())

    def _bureaux(self, table: Any) -> tuple[Any, Any]:
        """Each row's bureau (an index into `bureau_list`) and why it is left out (an index into
        `reasons`; -1 when it is counted)."""
        import numpy as np
        import pyarrow.compute as pc

        key = pc.binary_join_element_wise(
            self._stripped(table, "bureau_code"), self._stripped(table, "commune_code"), "\x00"
        )
        encoded = pc.dictionary_encode(key)
        decided = [self._decide_bureau(raw) for raw in encoded.dictionary.to_pylist()]
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        bureau = np.array([d[0] for d in decided], dtype=np.int64)[indices]
        reasons = np.array([d[1] for d in decided], dtype=np.int64)[indices]
        return bureau, reasons

    def _decide_bureau(self, raw: str) -> tuple[int, int]:
        """(bureau index, reason index or -1) of a (bureau code, commune code) cell pair, decided
        by the line reader's functions once per distinct pair of the file."""
        known = self.bureau_keys.get(raw)
        if known is not None:
            return known
        code_bv_raw, _, commune_raw = raw.partition("\x00")
        try:
            commune = (
                _commune(commune_raw, self.name_commune, self.path, 0, self.columns)
                if code_bv_raw
                else ""
            )
            code_bv, left_out = _bureau(
                code_bv_raw,
                commune,
                path=self.path,
                line=0,
                columns=self.columns,
                known_bureaux=self.known_bureaux,
            )
        except SourceFormatError:
            raise NeedsLineReader("a bureau or commune code the line reader refuses") from None
        key = (commune, code_bv)
        index = self.bureaux.get(key)
        if index is None:
            index = self.bureaux[key] = len(self.bureau_list)
            self.bureau_list.append(key)
        reason = -1
        if left_out is not None:
            reason = self.reason_ids.setdefault(left_out, len(self.reasons))
            if reason == len(self.reasons):
                self.reasons.append(left_out)
        decided = self.bureau_keys[raw] = (index, reason)
        return decided

    # -- list types and sexes -------------------------------------------------------------------

    def _decided(self, table: Any, field: str, memo: dict[str, str], decide: Any) -> _Coded:
        """Each row's decided value of a categorical cell, as small integer codes."""
        import numpy as np
        import pyarrow.compute as pc

        i = self.columns.positions[field]
        if i is None:
            return _Coded([decide("")], np.zeros(table.num_rows, dtype=np.int64))
        encoded = pc.dictionary_encode(table.column(i).combine_chunks())
        values: list[str] = []
        code_of: dict[str, int] = {}
        per_raw = []
        for raw in encoded.dictionary.to_pylist():
            value = memo.get(raw)
            if value is None:
                value = memo[raw] = decide(raw)
            code = code_of.get(value)
            if code is None:
                code = code_of[value] = len(values)
                values.append(value)
            per_raw.append(code)
        if len(values) > 4:
            raise NeedsLineReader(f"more than 4 distinct {field} values")  # never: 3 each
        codes = np.array(per_raw, dtype=np.int64)[encoded.indices.to_numpy(zero_copy_only=False)]
        return _Coded(values, codes)

    def _decide_list_type(self, raw: str) -> str:
        try:
            return _list_type(raw.strip(), self.path, 0, self.columns)
        except SourceFormatError:
            raise NeedsLineReader("a list type the line reader refuses") from None

    @staticmethod
    def _decide_sex(raw: str) -> str:
        return _SEX.get(_fold(raw.strip()), "X")

    # -- ages -----------------------------------------------------------------------------------

    def _bands(self, table: Any) -> Any:
        """Each row's age band index (AGE_BANDS) at the reference date, or NeedsLineReader
        where the line reader would refuse the birth date."""
        import numpy as np
        import pyarrow.compute as pc

        text = self._stripped(table, "birth_date")
        plain = pc.match_substring_regex(text, _DMY).to_numpy(zero_copy_only=False)
        year = np.zeros(len(plain), dtype=np.int64)
        month = np.zeros(len(plain), dtype=np.int64)
        day = np.zeros(len(plain), dtype=np.int64)
        if plain.any():
            dmy = pc.filter(text, pc.match_substring_regex(text, _DMY))

            def part(start: int, stop: int) -> Any:
                return pc.cast(pc.utf8_slice_codeunits(dmy, start, stop), "int64").to_numpy()

            day[plain], month[plain], year[plain] = part(0, 2), part(3, 5), part(6, 10)
            _check_plain_dates(year[plain], month[plain], day[plain])
        if not plain.all():
            # other forms (a year alone, ISO dates): the line reader's parser, once per value;
            # unknown parts as 0
            others = np.flatnonzero(~plain)
            parsed: dict[str, tuple[int, int, int]] = {}
            for row, value in zip(others.tolist(), pc.take(text, others).to_pylist(), strict=True):
                found = parsed.get(value)
                if found is None:
                    birth = parse_birth_date(value)
                    if birth is None:
                        raise NeedsLineReader("a birth date the line reader refuses")
                    found = parsed[value] = (birth[0], birth[1] or 0, birth[2] or 0)
                year[row], month[row], day[row] = found
        # age_at: an unknown month counts as 1 July, an unknown day as the 15th (1st when the
        # month is unknown too)
        as_of = self.result.reference_date
        effective_month = np.where(month == 0, 7, month)
        effective_day = np.where(day == 0, np.where(month == 0, 1, 15), day)
        before_birthday = (effective_month > as_of.month) | (
            (effective_month == as_of.month) & (effective_day > as_of.day)
        )
        age = as_of.year - year - before_birthday.astype(np.int64)
        if ((age < 0) | (age > MAX_AGE)).any():
            raise NeedsLineReader("an age outside 0-120: the line reader refuses it")
        return np.searchsorted(_PAST_BAND, age, side="right").astype(np.int64)

    # -- doors ----------------------------------------------------------------------------------

    def _count_doors(self, table: Any, bureau: Any) -> None:
        """The distinct doors (normalised addresses) of each bureau in this block, kept until
        the file is done (a door may span two blocks); electors without an address counted."""
        import pyarrow as pa
        import pyarrow.compute as pc

        parts = []
        for i in self.door_positions:
            encoded = pc.dictionary_encode(table.column(i).combine_chunks())
            ids = pa.array([self._part_id(raw) for raw in encoded.dictionary.to_pylist()])
            norms = pa.array(self.norms, pa.string())  # with the parts this column added
            parts.append(pc.take(pc.take(norms, ids), encoded.indices))
        # normalise_address of the parts joined by spaces is the normalised parts joined by
        # spaces, empty ones left out (it maps character by character, folding separators)
        address = pc.binary_join_element_wise(
            *(pc.if_else(pc.equal(part, ""), None, part) for part in parts),
            " ",
            null_handling="skip",
        )
        addressed = pc.not_equal(address, "")
        self.result.electors_without_address += len(address) - pc.sum(addressed).as_py()
        doors = pa.table({"bureau": bureau, "address": address}).filter(addressed)
        self.door_blocks.append(
            doors.group_by(["bureau", "address"], use_threads=False).aggregate([])
        )

    def doors_per_bureau(self) -> dict[BureauKey, int]:
        """How many distinct doors each bureau of the file has (bureaux with none left out)."""
        import pyarrow as pa

        if not self.door_blocks:
            return {}
        doors = pa.concat_tables(self.door_blocks)
        if len(self.door_blocks) > 1:
            doors = doors.group_by(["bureau", "address"], use_threads=False).aggregate([])
        per_bureau = doors.group_by("bureau", use_threads=False).aggregate([([], "count_all")])
        return {
            self.bureau_list[code]: count
            for code, count in zip(
                per_bureau.column("bureau").to_pylist(),
                per_bureau.column("count_all").to_pylist(),
                strict=True,
            )
        }

    def _part_id(self, raw: str) -> int:
        """One id per normalised address part: two spellings of one street are one part."""
        known = self.part_ids.get(raw)
        if known is not None:
            return known
        normalised = normalise_address(raw)
        part = self.part_of_norm.get(normalised)
        if part is None:
            part = self.part_of_norm[normalised] = len(self.norms)
            self.norms.append(normalised)
        self.part_ids[raw] = part
        return part


class _Coded:
    """A categorical column decided: its distinct values and each row's code into them."""

    __slots__ = ("codes", "values")

    def __init__(self, values: list[str], codes: Any) -> None:
        self.values = values
        self.codes = codes


def _check_plain_dates(year: Any, month: Any, day: Any) -> None:
    """`parse_birth_date` on `DD/MM/YYYY`, in columns: 00 for an unknown day, 00/00 for an
    unknown day and month; anything else must be a real calendar date."""
    import numpy as np

    unknown_month = month == 0
    if (unknown_month & (day != 0)).any():
        raise NeedsLineReader("a birth date with a day but no month")
    if (month > 12).any():
        raise NeedsLineReader("a birth month above 12")
    full = (~unknown_month) & (day != 0)
    if full.any():
        y, m, d = year[full], month[full], day[full]
        leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
        lengths = np.array([0, *(calendar.monthrange(2001, k)[1] for k in range(1, 13))])
        last_day = lengths[m] + ((m == 2) & leap)
        if ((y < 1) | (d > last_day)).any():
            raise NeedsLineReader("a birth date that is not a calendar date")
