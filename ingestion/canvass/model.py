"""The canonical door-knock event and its controlled vocabularies.

Every canvassing app speaks its own language (`Absent`, `not-home`, `door_closed`, `Not Home`…).
Mappers translate each export row into a `FieldKnock`: the app's vocabulary is gone, but the
identifying parts (canvasser id, address) are still there, because the pseudonymiser needs
them, and so are the door's coordinates, which dbt's rules need. `FieldKnock` never holds a
name, a phone number, an e-mail or a note: mappers do not copy them, so they cannot leak
further. Only the pseudonymised form reaches the warehouse (see `pseudonymise.py` and
`loader.py`).

A row that cannot be mapped raises `RowRejected`: the loader quarantines it with the line, the
column and the reason. Reasons never echo the value that was read — a shifted CSV column can put a
name into the outcome column — they say what was expected instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from ingestion.canvass.mapping import INTENTS, SENTIMENTS, app_names  # noqa: F401

# Re-exported for the mappers and readers: the lists themselves live in scrutin.vocabulary.
from scrutin.vocabulary import CONVERSATION, DO_NOT_CONTACT, OUTCOMES, TOPICS  # noqa: F401

# The canvassing apps: one per mapping file of config/canvass/ (SCRUTIN_CANVASS_MAPPINGS), read
# from the file names at import (nothing parsed), so a new app is a new YAML file.
SOURCES: Final = app_names()


# integrity_flags values. The loader sets the first two while validating a row; dbt decides the
# others (dbt/models/intermediate/canvass/, docs/canvass.md).
FLAG_FUTURE: Final = "future_timestamp"
FLAG_OUTSIDE_WINDOW: Final = "outside_campaign_window"
FLAG_TOO_FAST: Final = "too_fast_distant"
FLAG_HIGH_CONTACT_RATE: Final = "high_contact_rate_canvasser"
FLAG_SUPPRESSED: Final = "suppressed_building"
FLAGS: Final = (
    FLAG_FUTURE,
    FLAG_OUTSIDE_WINDOW,
    FLAG_TOO_FAST,
    FLAG_HIGH_CONTACT_RATE,
    FLAG_SUPPRESSED,
)


class RowRejected(ValueError):
    """One export row cannot become a door knock; the loader quarantines it.

    `column` is the export's column (or JSON key path) the problem is about, None for the whole
    row. `reason` says what was expected, never the value found.
    """

    def __init__(self, column: str | None, reason: str) -> None:
        self.column = column
        self.reason = reason
        super().__init__(f"{column}: {reason}" if column else reason)


@dataclass(frozen=True, slots=True)
class Address:
    """The visited address as the app gave it (never stored: only its key is)."""

    number: str | None
    street: str | None
    commune: str | None


@dataclass(frozen=True, slots=True)
class FieldKnock:
    """One door knock in canonical vocabulary, before pseudonymisation.

    `knocked_at` and `version_at` are timezone-aware UTC datetimes. `bureau_hint` is the bureau the
    app recorded, already in Ministry form (`29019_0001`), or None; `longitude`/`latitude`
    (WGS84) land in raw for dbt's bureau matching (nearest REU address) and fast-knock check.
    """

    knock_id: str
    canvasser_id: str
    knocked_at: dt.datetime
    version_at: dt.datetime
    outcome: str
    address: Address
    bureau_hint: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    topics: tuple[str, ...] | None = None
    intends_to_vote: str | None = None
    registered_here: bool | None = None
    sentiment: str | None = None
    wants_to_volunteer: bool | None = None
    consent: bool | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}")
        if self.knocked_at.tzinfo is None or self.version_at.tzinfo is None:
            raise ValueError("knocked_at and version_at must be timezone-aware")
