"""OSDI Canvass resources (`osdi:canvasses`), JSON-lines or a JSON collection.

Verified against the OSDI specification (opensupporter/osdi-docs, canvasses.md,
record_canvass.md, people.md): a Canvass has `identifiers`, `origin_system`, `created_date`,
`modified_date`, `action_date`, `contact_type` (e.g. `in-person`), `input_type`, `success`,
`status_code` (`not-home`; empty or missing means the contact succeeded) and the links
`osdi:canvasser` and `osdi:target` (Person). A Person's `postal_addresses` carry
`address_lines`, `locality`, `postal_code` and `location.latitude/longitude`; question answers
are `{question, responses[], value}`.

Why Python and not only YAML: a canvass is a HAL resource, not a row. Its knock id is the first
identifier (else the self link), the canvasser a link, the address the primary one of a list,
and the answers a list keyed by question. `flatten` turns one resource into flat keys
(`mapping.RECORD_HOOKS["osdi"]`) that config/canvass/osdi.yml maps like CSV columns, with the
status codes and answer labels as vocabularies there.

Our assumptions (docs/canvass.md, the `verified` marks of osdi.yml): the export embeds the target
Person and the answers in HAL `_embedded` (`osdi:target`, `osdi:answers`); the bureau key is the
person's custom field `bureau_de_vote`; the questions are named by the last segment of their href
(`topics`, `intends_to_vote`, `registered_here`, `sentiment`, `wants_to_volunteer`, `consent`);
status codes beyond `not-home` (`refused`, `come-back`, `moved`, `inaccessible`, `do-not-contact`)
follow the usual result codes of US canvassing tools. An `osdi:outreach` (advocacy message to an
official) is not a door knock and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestion.canvass import fields as f
from ingestion.canvass.model import RowRejected

SUCCESS = "success"
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


def _address(target: Mapping[str, Any]) -> dict[str, Any]:
    addresses = target.get("postal_addresses") or []
    if not isinstance(addresses, list) or not addresses:
        return {}
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
    return {
        "postal_addresses.address_lines": street,
        "postal_addresses.locality": chosen.get("locality"),
        "location.longitude": location.get("longitude"),
        "location.latitude": location.get("latitude"),
    }


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """One osdi:canvass as flat keys; RowRejected for what is not a canvass at all."""
    if "targets" in record and "status_code" not in record:
        raise RowRejected(None, "an osdi:outreach (advocacy message), not an osdi:canvass")
    links = record.get("_links") or {}
    embedded = record.get("_embedded") or {}
    if not isinstance(links, Mapping) or not isinstance(embedded, Mapping):
        raise RowRejected("_links", "expected HAL _links and _embedded objects")
    identifiers = record.get("identifiers") or []
    # An empty status_code means the contact succeeded (OSDI canvasses.md).
    status = f.text(record.get("status_code")) or SUCCESS
    if status == SUCCESS and record.get("success") is False:
        raise RowRejected("status_code", "success is false but no status_code says why")
    target = embedded.get("osdi:target") or {}
    if not isinstance(target, Mapping):
        raise RowRejected("_embedded.osdi:target", "expected a Person object")
    custom = target.get("custom_fields") or {}
    answers = _answers(embedded)
    flat: dict[str, Any] = {
        "identifiers": (identifiers[0] if isinstance(identifiers, list) and identifiers else None)
        or _href(links, "self"),
        "_links.osdi:canvasser": _href(links, "osdi:canvasser") or f.text(record.get("canvasser")),
        "action_date": record.get("action_date"),
        "modified_date": record.get("modified_date"),
        "status_code": status,
        "contact_type": record.get("contact_type"),
        "custom_fields.bureau_de_vote": (
            custom.get("bureau_de_vote") if isinstance(custom, Mapping) else None
        ),
        **_address(target),
        "answers.topics": answers.get("topics", []),
    }
    for question in ANSWER_QUESTIONS[1:]:
        responses = answers.get(question)
        flat[f"answers.{question}"] = responses[0] if responses else None
    return flat
