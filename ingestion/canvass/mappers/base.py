"""The one mapper every app uses: an app's YAML mapping (mapping.py) compiled into a function
from an export record to a canonical `FieldKnock`, plus the privacy rules of `build_knock`.

What is Python here, and why: the rules that hold for every app whatever its labels (a bureau
key from a commune and a bureau code, the opposition flag, an unknown topic becoming `other`,
conversation-only fields, consent) and the value parsers. What an app calls its columns and its
answers is the YAML's.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ingestion.canvass import fields as f
from ingestion.canvass.mapping import AppMapping
from ingestion.canvass.model import CONVERSATION, DO_NOT_CONTACT, TOPICS, Address, FieldKnock
from ingestion.canvass.model import RowRejected as Rejected

OTHER_TOPIC = "other"
# Outcomes the opposition flag turns into do_not_contact: the person asked not to be contacted
# again (GDPR art. 21) during a knock the app recorded as a refusal or nobody home.
OPPOSABLE = ("opened_refused", "not_reached")
Reader = Callable[[Mapping[str, Any]], Any]


def _fold(vocabulary: Mapping[str, Any]) -> dict[str, Any]:
    """{app label: canonical} -> {folded label: canonical} for `fields.lookup`."""
    return {f.label_key(str(label)): canonical for label, canonical in vocabulary.items()}


def topics_of(labels: list[str], vocabulary: Mapping[str, str]) -> tuple[str, ...]:
    """Controlled topics, in vocabulary order, without duplicates.

    A label outside the vocabulary becomes `other`: topic cells are the app's survey answers, and
    an unlisted answer is information ("something else"), not an error. The label itself is
    dropped, so free text typed into a topic cell never lands.
    """
    found = set()
    for label in labels:
        topic = vocabulary.get(f.label_key(label))
        if topic is None:
            if OTHER_TOPIC not in TOPICS:
                raise Rejected(None, "unknown topic and no `other` topic in the vocabulary")
            topic = OTHER_TOPIC
        found.add(topic)
    return tuple(topic for topic in TOPICS if topic in found)


@dataclass(frozen=True)
class Mapper:
    """One app's export layout and its compiled row mapper (`map`).

    `kind` says how records are read (CSV rows or JSON objects); `delimiter` is the CSV separator
    the app writes; `signature` are the columns (JSON: keys) that identify the app's export;
    `required` must all be in the header, or the file is refused. `identity_columns` are the
    columns mapped to `ignore` (names, contacts, notes): never read. `bureau_column`,
    `time_column` and `address_column` name the columns quarantine rows speak of.
    """

    mapping: AppMapping
    flatten: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    _readers: dict[str, Reader] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_readers", _compile(self.mapping))

    @property
    def name(self) -> str:
        return self.mapping.app

    @property
    def kind(self) -> Literal["csv", "json"]:
        return self.mapping.format

    @property
    def delimiter(self) -> str:
        return self.mapping.delimiter

    @property
    def signature(self) -> frozenset[str]:
        return frozenset(self.mapping.detect)

    @property
    def required(self) -> tuple[str, ...]:
        return self.mapping.required_columns

    @property
    def description(self) -> str:
        return self.mapping.description

    @property
    def identity_columns(self) -> tuple[str, ...]:
        return self.mapping.ignored_columns

    @property
    def time_column(self) -> str:
        return self.mapping.column_of("knocked_at") or "knocked_at"

    @property
    def address_column(self) -> str:
        return self.mapping.column_of("street") or "street"

    @property
    def bureau_column(self) -> str:
        m = self.mapping
        return m.column_of("bureau") or m.column_of("bureau_code") or "bureau"

    def map(self, record: Mapping[str, Any]) -> FieldKnock:
        """The canonical knock of one export record, or `RowRejected` naming the column."""
        if self.flatten is not None:
            record = self.flatten(record)
        read = self._readers
        values = {name: reader(record) for name, reader in read.items()}
        tagged = values.pop("tags", None) or {}
        values.update(tagged)
        outcome = values["outcome"]
        if values.get("opposition") and outcome in OPPOSABLE:
            outcome = DO_NOT_CONTACT
        lon, lat = values.get("coordinates") or (None, None)
        return build_knock(
            knock_id=values["knock_id"],
            canvasser_id=values["canvasser_id"],
            knocked_at=values["knocked_at"],
            version_at=values.get("version_at"),
            outcome=outcome,
            address=Address(
                values.get("address_number"), values.get("street"), values.get("commune")
            ),
            bureau_hint=values.get("bureau"),
            longitude=lon,
            latitude=lat,
            topics=values.get("topics"),
            intends_to_vote=values.get("intends_to_vote"),
            registered_here=values.get("registered_here"),
            sentiment=values.get("sentiment"),
            wants_to_volunteer=values.get("wants_to_volunteer"),
            consent=values.get("consent"),
        )


def _compile(m: AppMapping) -> dict[str, Reader]:  # noqa: PLR0912 -- one branch per field kind
    """One reader per canonical value, in the order rows are checked (method and outcome first,
    so a phone call or an unknown status is named before anything else)."""
    by = m.by_field
    readers: dict[str, Reader] = {}
    folded = {name: _fold(vocab) for name, vocab in m.vocabularies.items()}
    refusals = {
        name: {f.label_key(label): r.reason for r in items for label in r.labels}
        for name, items in m.refused.items()
    }
    yes_no = folded.get("yes_no", {})

    if "method" in by:
        readers["method"] = _method(by["method"].name, m.vocabularies["method"])
    readers["outcome"] = _label(m, by["outcome"].name, "outcome", folded, refusals, needed=True)
    readers["knock_id"] = _knock_id(by["knock_id"].name)
    canvasser = by["canvasser_id"].name
    readers["canvasser_id"] = lambda r: f.required(r.get(canvasser), canvasser, "canvasser id")
    formats, zone = m.timestamps.formats, m.timestamps.naive_timezone
    knocked = by["knocked_at"].name
    readers["knocked_at"] = lambda r: f.timestamp(r.get(knocked), knocked, formats, zone)
    if "version_at" in by:
        version = by["version_at"].name

        def version_at(r: Mapping[str, Any]) -> dt.datetime | None:
            cell = f.text(r.get(version))
            return f.timestamp(cell, version, formats, zone) if cell else None

        readers["version_at"] = version_at
    for name in ("address_number", "street", "commune"):
        if name in by:
            readers[name] = _text(by[name].name)
    if "bureau" in by:
        column = by["bureau"].name
        readers["bureau"] = lambda r: f.bureau(r.get(column), column)
    elif "bureau_code" in by:
        readers["bureau"] = _bureau_parts(by["bureau_commune"].name, by["bureau_code"].name)
    if "longitude" in by:
        lon, lat = by["longitude"].name, by["latitude"].name
        readers["coordinates"] = lambda r: f.coordinates(r.get(lon), r.get(lat), lon, lat)
    if "topics" in by:
        readers["topics"] = _topics(by["topics"].name, folded["topics"])
    for name in ("intends_to_vote", "sentiment"):
        if name in by:
            readers[name] = _label(m, by[name].name, name, folded, refusals, needed=False)
    for name in ("registered_here", "wants_to_volunteer", "consent", "opposition"):
        if name in by:
            readers[name] = _boolean(by[name].name, folded.get(name, yes_no))
    if "tags" in by:
        readers["tags"] = _tags(m, by["tags"].name, folded)
    return readers


def _text(column: str) -> Reader:
    return lambda r: f.text(r.get(column))


def _knock_id(column: str) -> Reader:
    """The app's knock id: the one value stored as written, so it must look like an id.

    A mapping that points `knock_id` at a name, an e-mail or a note column would otherwise land
    personal data in clear: a value with a space or an `@` is refused (never echoed)."""

    def read(r: Mapping[str, Any]) -> str:
        value = f.required(r.get(column), column, "knock id")
        if "@" in value or " " in value or "\u00a0" in value or len(value) > 200:
            raise Rejected(
                column,
                "expected an app identifier (no spaces, no @, at most 200 characters): a "
                "name, an e-mail or a note is never stored",
            )
        return value

    return read


def _method(column: str, vocabulary: Mapping[str, Any]) -> Reader:
    accepted = {f.label_key(str(label)) for label in vocabulary}
    shown = ", ".join(sorted(str(label) for label in vocabulary))

    def read(r: Mapping[str, Any]) -> str:
        value = f.text(r.get(column))
        if value is None or f.label_key(value) not in accepted:
            raise Rejected(column, f"not a door knock: expected {column} among: {shown}")
        return value

    return read


def _label(
    m: AppMapping,
    column: str,
    name: str,
    folded: Mapping[str, Mapping[str, Any]],
    refusals: Mapping[str, Mapping[str, str]],
    *,
    needed: bool,
) -> Reader:
    vocabulary = folded[name]
    refused = refusals.get(name, {})
    what = f"{m.app} {name.replace('_', ' ')} label"

    def read(r: Mapping[str, Any]) -> str | None:
        cell = r.get(column)
        if needed:
            cell = f.required(cell, column, name.replace("_", " "))
        elif cell is None or not str(cell).strip():
            return None
        reason = refused.get(f.label_key(str(cell)))
        if reason is not None:
            raise Rejected(column, reason)
        return f.lookup(vocabulary, str(cell), column, what)

    return read


def _boolean(column: str, vocabulary: Mapping[str, bool]) -> Reader:
    return lambda r: f.boolean(r.get(column), column, vocabulary)


def _topics(column: str, vocabulary: Mapping[str, str]) -> Reader:
    @functools.lru_cache(maxsize=4096)
    def cell_topics(cell: str) -> tuple[str, ...]:
        # survey cells repeat the same few combinations
        return topics_of(f.split_list(cell), vocabulary)

    def read(r: Mapping[str, Any]) -> tuple[str, ...]:
        cell = r.get(column)
        if isinstance(cell, list):  # a JSON answer's responses
            return topics_of([str(c) for c in cell if c is not None], vocabulary)
        return cell_topics(cell or "")

    return read


def _bureau_parts(commune_column: str, code_column: str) -> Reader:
    """Commune code + bureau code in two columns; a code cell holding a whole key
    (`29019_0001`, `29019-1`) is read as the key."""

    def read(r: Mapping[str, Any]) -> str | None:
        cell = f.text(r.get(code_column))
        if cell and ("_" in cell or "-" in cell):
            return f.bureau(cell, code_column)
        return f.bureau_from_parts(r.get(commune_column), cell, (commune_column, code_column))

    return read


def _tags(m: AppMapping, column: str, folded: Mapping[str, Mapping[str, Any]]) -> Reader:
    """A cell of `<prefix>:<value>` items (`topic:Logement, vote:Likely`): each prefix of the
    `tags:` section feeds its field; other items are ignored. A label field takes the last
    value given."""

    def read(r: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, list[str]] = {}
        for item in f.split_list(f.text(r.get(column))):
            prefix, sep, value = item.partition(":")
            target = m.tags.get(f.label_key(prefix)) if sep else None
            if target is not None:
                found.setdefault(target, []).append(value)
        values: dict[str, Any] = {}
        for target in m.tags.values():
            given = found.get(target, [])
            if target == "topics":
                values[target] = topics_of(given, folded["topics"])
            elif given:
                what = f"{target.replace('_', ' ')} tag"
                values[target] = f.lookup(folded[target], given[-1], column, what)
        return values

    return read


def build_knock(
    *,
    knock_id: str,
    canvasser_id: str,
    knocked_at: dt.datetime,
    version_at: dt.datetime | None,
    outcome: str,
    address: Address,
    bureau_hint: str | None,
    longitude: float | None,
    latitude: float | None,
    topics: tuple[str, ...] | None = None,
    intends_to_vote: str | None = None,
    registered_here: bool | None = None,
    sentiment: str | None = None,
    wants_to_volunteer: bool | None = None,
    consent: bool | None = None,
) -> FieldKnock:
    """Assemble the canonical knock, applying the two privacy rules for every app.

    1. Conversation-only fields are NULL unless the door opened on a conversation: a "not home"
       row with a sentiment would be a canvasser's guess, not an answer.
    2. When the app recorded that the person did NOT consent, no opinion is kept (topics, voting
       intention, registration, sentiment, volunteering): political opinion is special-category
       data (GDPR art. 9) and a refusal means it must not be processed. `consent` itself stays,
       so the conversation still counts. An app that records no consent (None) keeps the answers.
    """
    if outcome != CONVERSATION:
        topics = intends_to_vote = sentiment = None
        registered_here = wants_to_volunteer = consent = None
    elif consent is False:
        topics = intends_to_vote = sentiment = None
        registered_here = wants_to_volunteer = None
    elif topics is None:
        topics = ()
    return FieldKnock(
        knock_id=knock_id,
        canvasser_id=canvasser_id,
        knocked_at=knocked_at,
        version_at=version_at if version_at is not None else knocked_at,
        outcome=outcome,
        address=address,
        bureau_hint=bureau_hint,
        longitude=longitude,
        latitude=latitude,
        topics=topics,
        intends_to_vote=intends_to_vote,
        registered_here=registered_here,
        sentiment=sentiment,
        wants_to_volunteer=wants_to_volunteer,
        consent=consent,
    )
