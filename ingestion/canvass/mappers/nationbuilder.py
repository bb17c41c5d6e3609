"""NationBuilder contacts export (logged contacts joined with the recipient's profile), CSV.

Verified against NationBuilder's published API documentation: a contact has `type_id`,
`method` (`door_knock`, `phone_call`, …), `sender_id`, `recipient_id`, `status` (`answered`,
`bad_info`, `left_message`, `meaningful_interaction`, `not_interested`, `no_answer`, `refused`,
`send_information`, `other`), `broadcaster_id` and `note`; a person has `support_level` (1 strong
support … 3 undecided … 5 strong opposition), `do_not_contact` and `is_volunteer`. The export's
column set (`contact_id`, `created_at`, the `primary_*` address columns, `precinct_code` holding
the bureau key, `topic:` / `vote:` tags) is our assumption: see docs/canvass.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestion.canvass import fields as f
from ingestion.canvass.mappers.base import Mapper, build_knock, vocabulary
from ingestion.canvass.model import Address, FieldKnock, RowRejected

COLUMNS = (
    "contact_id",
    "created_at",
    "method",
    "status",
    "type_id",
    "sender_id",
    "sender_name",
    "recipient_id",
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "primary_address1",
    "primary_city",
    "primary_zip",
    "primary_lat",
    "primary_lng",
    "precinct_code",
    "support_level",
    "is_volunteer",
    "do_not_contact",
    "tag_list",
    "note",
)
IDENTITY = ("sender_name", "first_name", "last_name", "email", "phone_number", "note")
DOOR_KNOCK = "door_knock"

OUTCOMES = vocabulary(
    {
        "opened_conversation": ("meaningful_interaction", "answered", "send_information"),
        "opened_refused": ("not_interested", "refused"),
        "not_reached": ("no_answer", "left_message"),
        "moved": ("bad_info",),
        "inaccessible": ("inaccessible",),
    }
)


def support_level(value: str | None) -> str | None:
    """1-2 positive, 3 neutral (undecided), 4-5 negative; empty None."""
    text = f.text(value)
    if text is None:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 5:
        raise RowRejected("support_level", "expected a NationBuilder support level from 1 to 5")
    level = int(text)
    return "positive" if level <= 2 else "neutral" if level == 3 else "negative"


def tagged(tags: list[str], prefix: str) -> list[str]:
    """Values of `prefix:value` tags (NationBuilder tags are the only multi-answer field)."""
    return [
        t.split(":", 1)[1] for t in tags if f.label_key(t.split(":", 1)[0]) == prefix and ":" in t
    ]


class NationBuilderMapper(Mapper):
    def map(self, record: Mapping[str, Any]) -> FieldKnock:
        method = f.required(record["method"], "method", "contact method")
        if method != DOOR_KNOCK:
            raise RowRejected("method", "not a door knock: only method door_knock is canvass data")
        status = f.required(record["status"], "status", "contact status")
        if status == "other":
            raise RowRejected("status", "status 'other' says nothing about the door: no outcome")
        outcome = f.lookup(OUTCOMES, status, "status", "NationBuilder contact status")
        if f.boolean(record["do_not_contact"], "do_not_contact") and outcome in (
            "opened_refused",
            "not_reached",
        ):
            # The profile flag set during this contact is the opposition (GDPR art. 21).
            outcome = "do_not_contact"
        lon, lat = f.coordinates(
            record["primary_lng"], record["primary_lat"], "primary_lng", "primary_lat"
        )
        tags = f.split_list(record["tag_list"])
        votes = tagged(tags, "vote")
        return build_knock(
            knock_id=f.required(record["contact_id"], "contact_id", "contact id"),
            canvasser_id=f.required(record["sender_id"], "sender_id", "sender id"),
            knocked_at=f.timestamp(record["created_at"], "created_at"),
            version_at=None,
            outcome=outcome,
            address=Address(
                None, f.text(record["primary_address1"]), f.text(record["primary_city"])
            ),
            bureau_hint=f.bureau(record["precinct_code"], "precinct_code"),
            longitude=lon,
            latitude=lat,
            topics=f.topics(tagged(tags, "topic")),
            intends_to_vote=(
                f.lookup(f.INTENT_LABELS, votes[-1], "tag_list", "vote: tag") if votes else None
            ),
            sentiment=support_level(record["support_level"]),
            wants_to_volunteer=f.boolean(record["is_volunteer"], "is_volunteer"),
        )


MAPPER = NationBuilderMapper(
    name="nationbuilder",
    kind="csv",
    delimiter=",",
    signature=frozenset({"contact_id", "method", "sender_id", "recipient_id"}),
    required=tuple(c for c in COLUMNS if c not in IDENTITY),
    time_column="created_at",
    address_column="primary_address1",
    bureau_column="precinct_code",
    description="NationBuilder contacts export (CSV, ',')",
    identity_columns=IDENTITY,
)
