"""OSDI Canvass resources (`osdi:canvasses`), JSON-lines or a JSON collection.

Verified against the OSDI specification (opensupporter/osdi-docs, canvasses.md,
record_canvass.md, people.md): a Canvass has `identifiers`, `origin_system`, `created_date`,
`modified_date`, `action_date`, `contact_type` (e.g. `in-person`), `input_type`, `success`,
`status_code` (`not-home`; empty or missing means the contact succeeded) and the links
`osdi:canvasser` and `osdi:target` (Person). A Person's `postal_addresses` carry
`address_lines`, `locality`, `postal_code` and `location.latitude/longitude`; question answers
are `{question, responses[], value}`.

Our assumptions (docs/canvass.md): the export embeds the target Person and the answers in HAL
`_embedded` (`osdi:target`, `osdi:answers`); the bureau key is the person's custom field
`bureau_de_vote`; the questions are named by the last segment of their href (`topics`,
`intends_to_vote`, `registered_here`, `sentiment`, `wants_to_volunteer`, `consent`); status codes
beyond `not-home` (`refused`, `come-back`, `moved`, `inaccessible`, `do-not-contact`) follow the
usual result codes of US canvassing tools. An `osdi:outreach` (advocacy message to an official)
is not a door knock and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestion.canvass import fields as f
from ingestion.canvass.mappers.base import Mapper, build_knock, vocabulary
from ingestion.canvass.model import Address, FieldKnock, RowRejected

IN_PERSON = "in-person"

OUTCOMES = vocabulary(
    {
        "opened_conversation": ("success",),
        "not_reached": ("not-home",),
        "opened_refused": ("refused", "hostile"),
        "opened_later": ("come-back", "call-back"),
        "moved": ("moved",),
        "inaccessible": ("inaccessible",),
        "do_not_contact": ("do-not-contact",),
    }
)
SENTIMENT = vocabulary(
    {
        "positive": ("positive", "supportive"),
        "neutral": ("neutral", "undecided"),
        "negative": ("negative", "opposed"),
    }
)
ANSWER_QUESTIONS = (
    "topics",
    "intends_to_vote",
    "registered_here",
    "sentiment",
    "wants_to_volunteer",
    "consent",
)


def _href(links: Mapping[str, Any], name: str) -> str | None:
    link = links.get(name)
    if isinstance(link, Mapping):
        return f.text(link.get("href"))
    return f.text(link)


def _answers(embedded: Mapping[str, Any]) -> dict[str, list[str]]:
    """{question name: responses} from `_embedded.osdi:answers` (free-text `value` dropped)."""
    answers = embedded.get("osdi:answers") or []
    if not isinstance(answers, list):
        raise RowRejected("_embedded.osdi:answers", "expected a list of answers")
    found: dict[str, list[str]] = {}
    for answer in answers:
        if not isinstance(answer, Mapping):
            raise RowRejected("_embedded.osdi:answers", "expected answer objects")
        question = answer.get("question")
        if isinstance(question, Mapping):
            question = question.get("href") or question.get("name")
        name = str(question or "").rstrip("/").rsplit("/", 1)[-1]
        responses = answer.get("responses") or []
        if name in ANSWER_QUESTIONS and isinstance(responses, list):
            found[name] = [str(r) for r in responses if r is not None]
    return found


def _address(target: Mapping[str, Any]) -> tuple[Address, Any, Any]:
    addresses = target.get("postal_addresses") or []
    if not isinstance(addresses, list) or not addresses:
        return Address(None, None, None), None, None
    chosen = next(
        (a for a in addresses if isinstance(a, Mapping) and a.get("primary")), addresses[0]
    )
    if not isinstance(chosen, Mapping):
        raise RowRejected("_embedded.osdi:target.postal_addresses", "expected address objects")
    lines = chosen.get("address_lines") or []
    street = " ".join(str(line) for line in lines[:1]) if isinstance(lines, list) else str(lines)
    location = chosen.get("location") or {}
    if not isinstance(location, Mapping):
        location = {}
    return (
        Address(None, f.text(street), f.text(chosen.get("locality"))),
        location.get("longitude"),
        location.get("latitude"),
    )


def _one(values: list[str] | None) -> str | None:
    return values[0] if values else None


class OsdiMapper(Mapper):
    def map(self, record: Mapping[str, Any]) -> FieldKnock:
        if "targets" in record and "status_code" not in record:
            raise RowRejected(None, "an osdi:outreach (advocacy message), not an osdi:canvass")
        contact_type = f.text(record.get("contact_type"))
        if contact_type != IN_PERSON:
            raise RowRejected("contact_type", "not a door knock: expected contact_type in-person")
        identifiers = record.get("identifiers") or []
        links = record.get("_links") or {}
        embedded = record.get("_embedded") or {}
        if not isinstance(links, Mapping) or not isinstance(embedded, Mapping):
            raise RowRejected("_links", "expected HAL _links and _embedded objects")
        knock_id = (
            identifiers[0] if isinstance(identifiers, list) and identifiers else None
        ) or _href(links, "self")
        canvasser = _href(links, "osdi:canvasser") or f.text(record.get("canvasser"))
        status = f.text(record.get("status_code")) or "success"
        success = record.get("success")
        if status == "success" and success is False:
            raise RowRejected("status_code", "success is false but no status_code says why")
        outcome = f.lookup(OUTCOMES, status, "status_code", "OSDI status_code")
        target = embedded.get("osdi:target") or {}
        if not isinstance(target, Mapping):
            raise RowRejected("_embedded.osdi:target", "expected a Person object")
        address, lon, lat = _address(target)
        longitude, latitude = f.coordinates(lon, lat, "location.longitude", "location.latitude")
        custom = target.get("custom_fields") or {}
        bureau_hint = f.bureau(
            custom.get("bureau_de_vote") if isinstance(custom, Mapping) else None,
            "custom_fields.bureau_de_vote",
        )
        answers = _answers(embedded)
        modified = f.text(record.get("modified_date"))
        return build_knock(
            knock_id=f.required(knock_id, "identifiers", "canvass identifier"),
            canvasser_id=f.required(canvasser, "_links.osdi:canvasser", "canvasser link"),
            knocked_at=f.timestamp(record.get("action_date"), "action_date"),
            version_at=f.timestamp(modified, "modified_date") if modified else None,
            outcome=outcome,
            address=address,
            bureau_hint=bureau_hint,
            longitude=longitude,
            latitude=latitude,
            topics=f.topics(answers.get("topics", [])),
            intends_to_vote=f.optional_lookup(
                f.INTENT_LABELS, _one(answers.get("intends_to_vote")), "intends_to_vote", "answer"
            ),
            registered_here=f.boolean(_one(answers.get("registered_here")), "registered_here"),
            sentiment=f.optional_lookup(
                SENTIMENT, _one(answers.get("sentiment")), "sentiment", "answer"
            ),
            wants_to_volunteer=f.boolean(
                _one(answers.get("wants_to_volunteer")), "wants_to_volunteer"
            ),
            consent=f.boolean(_one(answers.get("consent")), "consent"),
        )


MAPPER = OsdiMapper(
    name="osdi",
    kind="json",
    signature=frozenset({"action_date", "status_code", "contact_type"}),
    time_column="action_date",
    address_column="_embedded.osdi:target.postal_addresses",
    bureau_column="custom_fields.bureau_de_vote",
    description="OSDI canvasses (JSON-lines, or a JSON collection with _embedded osdi:canvasses)",
)
