"""What every app mapper shares: its identity, how its files are recognised, and the final
assembly of a `FieldKnock` (the privacy rules live here, once, for every app)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ingestion.canvass.model import CONVERSATION, Address, FieldKnock


@dataclass(frozen=True)
class Mapper:
    """One app's export layout.

    `kind` says how records are read (CSV rows or JSON objects); `delimiter` is the CSV separator
    the app writes; `signature` are columns whose presence identifies the app's export;
    `required` must all be present in the header, or the file is refused. `identity_columns`
    hold names, contacts or notes: the mapper never reads them. `bureau_column` names the bureau
    field in quarantine rows, `time_column` the knock time, `address_column` the street.
    """

    name: str
    kind: Literal["csv", "json"]
    signature: frozenset[str]
    required: tuple[str, ...] = ()
    delimiter: str = ","
    description: str = ""
    identity_columns: tuple[str, ...] = field(default=())
    bureau_column: str = "bureau"
    time_column: str = "knocked_at"
    address_column: str = "address"

    def map(self, record: Mapping[str, Any]) -> FieldKnock:  # pragma: no cover - abstract
        raise NotImplementedError


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


def vocabulary(pairs: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """{canonical: (app labels…)} -> {folded label: canonical} for `fields.lookup`."""
    from ingestion.canvass.fields import label_key

    return {label_key(label): canonical for canonical, labels in pairs.items() for label in labels}
