"""Value parsers shared by every app mapping: timestamps, booleans, labels, bureaux, coordinates.

Each parser raises `RowRejected(column, reason)` for a value it cannot read, with a reason that
says what was expected (never the value itself: see model.py). The tables these parsers read
(vocabularies, timestamp formats) come from the app mappings (config/canvass/, mapping.py).

Timestamps: an offset or `Z` is honoured; a naive timestamp (no offset) is read as local time
in the mapping's `naive_timezone` (Europe/Paris: French canvassing apps export local wall-clock
time). Everything is returned in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from ingestion.canvass.mapping import ISO8601, label_key
from ingestion.canvass.model import RowRejected
from scrutin.vocabulary import COMMUNE_CODE_REGEX, unanchored

UTC = dt.UTC
_COMMUNE = re.compile(unanchored(COMMUNE_CODE_REGEX))
_BUREAU = re.compile(rf"(?P<commune>{_COMMUNE.pattern})[_\- ](?P<code>[0-9A-Za-z]{{1,6}})")


def lookup(vocabulary: Mapping[str, str], value: str, column: str, what: str) -> str:
    """`vocabulary[label_key(value)]`, or RowRejected naming the accepted labels."""
    found = vocabulary.get(label_key(value))
    if found is None:
        accepted = ", ".join(sorted(vocabulary))
        raise RowRejected(column, f"unknown {what}: expected one of: {accepted}")
    return found


def optional_lookup(
    vocabulary: Mapping[str, str], value: str | None, column: str, what: str
) -> str | None:
    """Like `lookup`, but an empty cell is None (the question was not answered)."""
    if value is None or not value.strip():
        return None
    return lookup(vocabulary, value, column, what)


EARLIEST_YEAR = 2000
"""No canvassing app existed before: an earlier year is a placeholder, not a knock."""


def timestamp(
    value: str | None,
    column: str,
    formats: tuple[str, ...] = (ISO8601,),
    zone: str = "Europe/Paris",
) -> dt.datetime:
    """An export timestamp as an aware UTC datetime.

    `formats` are tried in order (`iso8601`, or strptime formats: the app mapping's
    `timestamps.formats`); a time without an offset is wall-clock time in `zone`.
    """
    text = (value or "").strip()
    if not text:
        raise RowRejected(column, "missing timestamp")
    parsed = _parse_time(text, formats)
    if parsed is None:
        shown = ", ".join(
            "ISO 8601 (2026-10-14T18:32:05+02:00, 2026-10-14 18:32:05)" if f == ISO8601 else f
            for f in formats
        )
        raise RowRejected(column, f"unreadable timestamp: expected {shown}")
    if parsed.year < EARLIEST_YEAR:
        # 0001-01-01 or 1970-01-01: an app's empty date or a reset device clock. Refused row by
        # row (year 1 used to overflow the UTC conversion and refuse the whole file).
        raise RowRejected(
            column,
            f"implausible timestamp: year {parsed.year} is before {EARLIEST_YEAR} "
            "(an empty date or a reset device clock in the app)",
        )
    try:
        if parsed.tzinfo is None:
            # The zone's offset at that local hour, computed once per hour seen (exports repeat
            # them).
            hour = parsed.replace(minute=0, second=0, microsecond=0)
            return (parsed - _local_offset(zone, hour)).replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59 with a negative offset: beyond datetime's range
        raise RowRejected(column, "timestamp out of range: no date after year 9999") from None


def _parse_time(text: str, formats: tuple[str, ...]) -> dt.datetime | None:
    for fmt in formats:
        try:
            if fmt == ISO8601:
                return dt.datetime.fromisoformat(text)
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=65536)
def _local_offset(zone: str, local_hour: dt.datetime) -> dt.timedelta:
    offset = local_hour.replace(tzinfo=_zone(zone)).utcoffset()
    assert offset is not None
    return offset


@functools.lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def boolean(value: str | bool | None, column: str, vocabulary: Mapping[str, bool]) -> bool | None:
    """A yes/no cell through its vocabulary (folded label -> bool); empty is None (not asked).
    A JSON true/false is taken as is."""
    if value is None or isinstance(value, bool):
        return value
    if not value:
        return None
    key = label_key(str(value))
    if not key:
        return None
    found = vocabulary.get(key)
    if found is None:
        accepted = ", ".join(sorted(vocabulary))
        raise RowRejected(column, f"expected a yes/no value: one of {accepted}")
    return found


def coordinate(value: str | float | None, column: str, low: float, high: float) -> float | None:
    """A WGS84 degree value (decimal point or comma); empty is None."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(value)  # the common case: "48.3887"
        except ValueError:
            text = str(value).strip().replace(",", ".")
            if not text:
                return None
            try:
                number = float(text)
            except ValueError:
                raise RowRejected(column, "expected a decimal number of degrees") from None
    if not low <= number <= high:
        raise RowRejected(column, f"expected degrees between {low} and {high}")
    return number


def coordinates(
    longitude: str | float | None, latitude: str | float | None, lon_column: str, lat_column: str
) -> tuple[float | None, float | None]:
    """Both or neither: one coordinate alone cannot place a door."""
    lon = coordinate(longitude, lon_column, -180.0, 180.0)
    lat = coordinate(latitude, lat_column, -90.0, 90.0)
    if (lon is None) != (lat is None):
        missing = lat_column if lat is None else lon_column
        raise RowRejected(missing, "longitude and latitude must be given together")
    return lon, lat


def bureau_code(code: str) -> str:
    """A bureau code as the Ministry key writes it: digits zero-padded to 4, else upper-case."""
    code = code.strip().upper()
    return str(int(code)).zfill(4) if code.isdigit() else code


@functools.lru_cache(maxsize=8192)
def bureau(value: str | None, column: str) -> str | None:
    """`29019_0001`, `29019_1`, `29019-0001` -> `29019_0001`; empty is None."""
    text = (value or "").strip()
    if not text:
        return None
    match = _BUREAU.fullmatch(text.upper())
    code = match["code"] if match else ""
    if not match or (code.isdigit() and len(code.lstrip("0")) > 4):
        raise RowRejected(
            column, "expected a bureau key <INSEE commune code>_<bureau code>, e.g. 29019_0001"
        )
    return f"{match['commune']}_{bureau_code(code)}"


def bureau_from_parts(
    commune: str | None, code: str | None, columns: tuple[str, str]
) -> str | None:
    """A bureau key from separate commune-code and bureau-number cells; both empty is None."""
    commune = (commune or "").strip().upper()
    code = (code or "").strip()
    if not commune and not code:
        return None
    if not _COMMUNE.fullmatch(commune):
        raise RowRejected(columns[0], "expected a 5-character INSEE commune code, e.g. 29019")
    if not code or not code.isalnum() or len(code) > 6:
        raise RowRejected(columns[1], "expected a bureau number or code, e.g. 1 or 0001")
    return f"{commune}_{bureau_code(code)}"


def text(value: object) -> str | None:
    """A stripped string, None for an empty or missing cell."""
    if value is None:
        return None
    result = value.strip() if type(value) is str else str(value).strip()
    return result or None


def required(value: object, column: str, what: str) -> str:
    result = text(value)
    if result is None:
        raise RowRejected(column, f"missing {what}")
    return result


def split_list(value: str | None) -> list[str]:
    """A multi-answer cell: `Logement, Sécurité` or `Logement|Sécurité` or `Logement;…`."""
    if not value:
        return []
    return [part.strip() for part in re.split(r"[|;,]", value) if part.strip()]
