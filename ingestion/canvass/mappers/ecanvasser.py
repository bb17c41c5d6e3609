"""Ecanvasser interactions, CSV export.

Verified against Ecanvasser's public support site: the default interaction statuses of the Walk
app are Answered, Call Back, Not Interested, Not Home and Inaccessible (accounts may add their
own), and "Reception" logs the canvasser's reading of support on a 5-star scale. The column names,
the custom statuses Moved / Do Not Canvass, and the use of "Polling District" for the French
bureau key are our assumption: see docs/canvass.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestion.canvass import fields as f
from ingestion.canvass.mappers.base import Mapper, build_knock, vocabulary
from ingestion.canvass.model import Address, FieldKnock, RowRejected

COLUMNS = (
    "Interaction ID",
    "Created At",
    "Updated At",
    "User ID",
    "User Name",
    "Status",
    "House Number",
    "Street",
    "City",
    "Postcode",
    "Latitude",
    "Longitude",
    "Polling District",
    "Reception",
    "Voting Intention",
    "Registered To Vote",
    "Issues",
    "Volunteer",
    "GDPR Consent",
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Notes",
)
IDENTITY = ("User Name", "First Name", "Last Name", "Email", "Phone", "Notes")

OUTCOMES = vocabulary(
    {
        "opened_conversation": ("Answered",),
        "opened_later": ("Call Back",),
        "opened_refused": ("Not Interested", "Refused"),
        "not_reached": ("Not Home",),
        "inaccessible": ("Inaccessible",),
        "moved": ("Moved",),
        "do_not_contact": ("Do Not Canvass", "Do Not Contact"),
    }
)


def reception(value: str | None) -> str | None:
    """5-star Reception -> sentiment: 4-5 positive, 3 neutral, 1-2 negative; empty None."""
    text = f.text(value)
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 5:
        raise RowRejected("Reception", "expected a star rating from 1 to 5")
    stars = int(text)
    return "positive" if stars >= 4 else "neutral" if stars == 3 else "negative"


class EcanvasserMapper(Mapper):
    def map(self, record: Mapping[str, Any]) -> FieldKnock:
        status = f.required(record["Status"], "Status", "status")
        lon, lat = f.coordinates(record["Longitude"], record["Latitude"], "Longitude", "Latitude")
        updated = f.text(record["Updated At"])
        return build_knock(
            knock_id=f.required(record["Interaction ID"], "Interaction ID", "interaction id"),
            canvasser_id=f.required(record["User ID"], "User ID", "canvasser id"),
            knocked_at=f.timestamp(record["Created At"], "Created At"),
            version_at=f.timestamp(updated, "Updated At") if updated else None,
            outcome=f.lookup(OUTCOMES, status, "Status", "Ecanvasser interaction status"),
            address=Address(
                f.text(record["House Number"]), f.text(record["Street"]), f.text(record["City"])
            ),
            bureau_hint=f.bureau(record["Polling District"], "Polling District"),
            longitude=lon,
            latitude=lat,
            topics=f.topics_cell(record["Issues"]),
            intends_to_vote=f.optional_lookup(
                f.INTENT_LABELS, record["Voting Intention"], "Voting Intention", "voting intention"
            ),
            registered_here=f.boolean(record["Registered To Vote"], "Registered To Vote"),
            sentiment=reception(record["Reception"]),
            wants_to_volunteer=f.boolean(record["Volunteer"], "Volunteer"),
            consent=f.boolean(record["GDPR Consent"], "GDPR Consent"),
        )


MAPPER = EcanvasserMapper(
    name="ecanvasser",
    kind="csv",
    delimiter=",",
    signature=frozenset({"Interaction ID", "Polling District", "Reception"}),
    required=tuple(c for c in COLUMNS if c not in IDENTITY),
    time_column="Created At",
    address_column="Street",
    bureau_column="Polling District",
    description="Ecanvasser interactions (CSV, ',')",
    identity_columns=IDENTITY,
)
