"""Value parsers shared by the app mappers: timestamps, booleans, labels, bureaux, coordinates.

Each parser raises `RowRejected(column, reason)` for a value it cannot read, with a reason that
says what was expected (never the value itself: see model.py).

Timestamps: an offset or `Z` is honoured; a naive timestamp (no offset) is read as Europe/Paris
local time, because French canvassing apps export local wall-clock time. Everything is returned
in UTC.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from ingestion.canvass.model import RowRejected

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC

_FR_DATETIME = re.compile(
    r"(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
)
_BUREAU = re.compile(r"(?P<commune>[0-9]{5}|2[AB][0-9]{3})[_\- ](?P<code>[0-9A-Za-z]{1,6})")
_COMMUNE = re.compile(r"[0-9]{5}|2[AB][0-9]{3}")
_SEPARATORS = re.compile(r"[\s\-_'’.,/]+")

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "oui", "o", "vrai", "x"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "non", "faux"})


@functools.lru_cache(maxsize=4096)
def label_key(value: str) -> str:
    """A label folded for vocabulary lookups: `Ouvert - Refus` and `ouvert_refus` agree."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


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


def timestamp(value: str | None, column: str) -> dt.datetime:
    """An export timestamp as an aware UTC datetime (naive = Europe/Paris)."""
    text = (value or "").strip()
    if not text:
        raise RowRejected(column, "missing timestamp")
    parsed: dt.datetime | None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = _french_datetime(text)
    if parsed is None:
        raise RowRejected(
            column,
            "unreadable timestamp: expected ISO 8601 (2026-10-14T18:32:05+02:00, "
            "2026-10-14 18:32:05) or DD/MM/YYYY HH:MM[:SS]",
        )
    if parsed.tzinfo is None:
        # The Paris offset of that local hour, computed once per hour seen (exports repeat them).
        return (parsed - _paris_offset(parsed.replace(minute=0, second=0, microsecond=0))).replace(
            tzinfo=UTC
        )
    return parsed.astimezone(UTC)


@functools.lru_cache(maxsize=65536)
def _paris_offset(local_hour: dt.datetime) -> dt.timedelta:
    offset = local_hour.replace(tzinfo=PARIS).utcoffset()
    assert offset is not None
    return offset


def _french_datetime(text: str) -> dt.datetime | None:
    match = _FR_DATETIME.fullmatch(text)
    if not match:
        return None
    try:
        return dt.datetime(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            int(match["H"] or 0),
            int(match["M"] or 0),
            int(match["S"] or 0),
        )
    except ValueError:
        return None


def boolean(value: str | bool | None, column: str) -> bool | None:
    """Oui/Non, yes/no, true/false, 1/0, Y/N; empty is None (not asked)."""
    if value is None or isinstance(value, bool):
        return value
    if not value:
        return None
    key = label_key(str(value))
    if not key:
        return None
    if key in TRUE_WORDS:
        return True
    if key in FALSE_WORDS:
        return False
    raise RowRejected(column, "expected a yes/no value (Oui/Non, yes/no, true/false, 1/0)")


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


# Topic labels as the apps' surveys write them (French and English), folded by `label_key`.
TOPIC_LABELS: dict[str, str] = {
    label_key(label): topic
    for topic, labels in {
        "security": ("security", "safety", "crime", "securite", "sécurité", "tranquillite"),
        "cost_of_living": (
            "cost_of_living",
            "cost of living",
            "pouvoir d'achat",
            "pouvoir d achat",
            "cout de la vie",
            "coût de la vie",
            "prix",
            "inflation",
        ),
        "housing": ("housing", "logement", "loyers"),
        "transport": ("transport", "transports", "mobilite", "mobilité", "bus", "tram"),
        "environment": ("environment", "environnement", "ecologie", "écologie", "climat"),
        "schools": ("schools", "school", "education", "éducation", "ecole", "école", "ecoles"),
        "health": ("health", "sante", "santé", "hopital", "hôpital", "medecins", "médecins"),
        "jobs": ("jobs", "employment", "emploi", "travail", "chomage", "chômage"),
        "local_services": (
            "local_services",
            "local services",
            "services publics",
            "services de proximite",
            "services de proximité",
            "proprete",
            "propreté",
            "voirie",
        ),
        "other": ("other", "autre", "autres", "divers"),
    }.items()
    for label in labels
}


def topics_cell(value: str | None) -> tuple[str, ...]:
    """`topics(split_list(value))`, cached: survey cells repeat the same few combinations."""
    return _topics_cell(value or "")


@functools.lru_cache(maxsize=4096)
def _topics_cell(value: str) -> tuple[str, ...]:
    return topics(split_list(value))


def topics(labels: list[str]) -> tuple[str, ...]:
    """Controlled topics, in vocabulary order, without duplicates.

    A label outside the vocabulary becomes `other`: topic cells are the app's survey answers, and
    an unlisted answer is information ("something else"), not an error. The label itself is
    dropped, so free text typed into a topic cell never lands.
    """
    from ingestion.canvass.model import TOPICS

    found = {TOPIC_LABELS.get(label_key(label), "other") for label in labels}
    return tuple(topic for topic in TOPICS if topic in found)


INTENT_LABELS: dict[str, str] = {
    label_key(label): intent
    for intent, labels in {
        "certain": ("certain", "certainly", "sur", "sûr", "oui certain", "ira voter", "definitely"),
        "likely": ("likely", "probable", "probablement", "plutot oui", "plutôt oui"),
        "unlikely": ("unlikely", "peu probable", "plutot non", "plutôt non", "improbable"),
        "no": ("no", "non", "will not vote", "n'ira pas voter", "ne votera pas"),
        "unknown": (
            "unknown",
            "don't know",
            "dont know",
            "ne sait pas",
            "nsp",
            "indecis",
            "indécis",
        ),
    }.items()
    for label in labels
}
