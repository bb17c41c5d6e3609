"""Renaissance PAP (porte-à-porte) visit export, CSV (French labels).

Verified against the platform's public source (parti-renaissance/espace-adherent,
`App\\Pap\\CampaignHistoryStatusEnum`, `CampaignHistoryVoterStatusEnum`, entity
`Pap\\CampaignHistory`): a visit has a status among `door_open` (Porte ouverte), `door_closed`
(Porte fermée), `accept_to_answer` (Accepte de répondre aux questions), `dont_accept_to_answer`
(N'accepte pas), `contact_later` (Repasser plus tard); a voter status among `not_voter`,
`not_registered`, `registered`, `registered_elsewhere`; building block, floor and door;
`toContact`, `toJoin`, `beginAt`, `finishAt`; and the visited person's first name, last name and
e-mail (dropped here). `door_open` is the app's intermediate state (the door opened, no answer
recorded yet): it has no final outcome and is refused.

Our assumptions (docs/canvass.md): the CSV column names; the field-team labels Absent,
Ouvert - refus, Ouvert - discussion, Repasser, Ne pas déranger, Déménagé, Inaccessible accepted
beside the platform's own; `Adhérer` read as wants_to_volunteer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestion.canvass import fields as f
from ingestion.canvass.mappers.base import Mapper, build_knock, vocabulary
from ingestion.canvass.model import Address, FieldKnock, RowRejected

COLUMNS = (
    "uuid",
    "ID militant",
    "Statut",
    "Numéro",
    "Voie",
    "Code postal",
    "Commune",
    "Code INSEE",
    "Bureau de vote",
    "Bâtiment",
    "Étage",
    "Porte",
    "Latitude",
    "Longitude",
    "Date de début",
    "Date de fin",
    "Prénom",
    "Nom",
    "Email",
    "Statut électeur",
    "Recontacter",
    "Adhérer",
    "Thématiques",
    "Intention de vote",
    "Ressenti",
    "Consentement",
    "Commentaire",
)
IDENTITY = ("Prénom", "Nom", "Email", "Commentaire")
INTERMEDIATE = ("door_open", "Porte ouverte")

OUTCOMES = vocabulary(
    {
        "not_reached": ("door_closed", "Porte fermée", "Absent"),
        "opened_refused": ("dont_accept_to_answer", "N'accepte pas", "Ouvert - refus"),
        "opened_conversation": (
            "accept_to_answer",
            "Accepte de répondre aux questions",
            "Ouvert - discussion",
        ),
        "opened_later": ("contact_later", "Repasser plus tard", "Repasser"),
        "do_not_contact": ("Ne pas déranger", "Ne plus contacter"),
        "moved": ("Déménagé",),
        "inaccessible": ("Inaccessible",),
    }
)
REGISTERED = {
    **dict.fromkeys(("registered", "inscrit sur les listes"), True),
    **dict.fromkeys(
        (
            "registered elsewhere",
            "inscrit ailleurs",
            "not registered",
            "pas inscrit",
            "not voter",
            "pas electeur",
        ),
        False,
    ),
}
SENTIMENT = vocabulary(
    {
        "positive": ("Positif", "Favorable"),
        "neutral": ("Neutre", "Indécis"),
        "negative": ("Négatif", "Hostile", "Défavorable"),
    }
)


def voter_status(value: str | None) -> bool | None:
    text = f.text(value)
    if text is None:
        return None
    key = f.label_key(text)
    if key not in REGISTERED:
        raise RowRejected(
            "Statut électeur",
            "expected registered, registered_elsewhere, not_registered, not_voter "
            "(or their labels Inscrit sur les listes, Inscrit ailleurs, Pas inscrit, Pas électeur)",
        )
    return REGISTERED[key]


class PapMapper(Mapper):
    def map(self, record: Mapping[str, Any]) -> FieldKnock:
        status = f.required(record["Statut"], "Statut", "visit status")
        if f.label_key(status) in {f.label_key(s) for s in INTERMEDIATE}:
            raise RowRejected("Statut", "door_open is an intermediate PAP status: no final outcome")
        outcome = f.lookup(OUTCOMES, status, "Statut", "PAP visit status")
        lon, lat = f.coordinates(record["Longitude"], record["Latitude"], "Longitude", "Latitude")
        bureau_cell = f.text(record["Bureau de vote"])
        if bureau_cell and ("_" in bureau_cell or "-" in bureau_cell):
            bureau_hint = f.bureau(bureau_cell, "Bureau de vote")
        else:
            bureau_hint = f.bureau_from_parts(
                record["Code INSEE"], bureau_cell, ("Code INSEE", "Bureau de vote")
            )
        finish = f.text(record["Date de fin"])
        return build_knock(
            knock_id=f.required(record["uuid"], "uuid", "visit uuid"),
            canvasser_id=f.required(record["ID militant"], "ID militant", "canvasser id"),
            knocked_at=f.timestamp(record["Date de début"], "Date de début"),
            version_at=f.timestamp(finish, "Date de fin") if finish else None,
            outcome=outcome,
            address=Address(
                f.text(record["Numéro"]), f.text(record["Voie"]), f.text(record["Commune"])
            ),
            bureau_hint=bureau_hint,
            longitude=lon,
            latitude=lat,
            topics=f.topics_cell(record["Thématiques"]),
            intends_to_vote=f.optional_lookup(
                f.INTENT_LABELS,
                record["Intention de vote"],
                "Intention de vote",
                "voting intention",
            ),
            registered_here=voter_status(record["Statut électeur"]),
            sentiment=f.optional_lookup(SENTIMENT, record["Ressenti"], "Ressenti", "PAP sentiment"),
            wants_to_volunteer=f.boolean(record["Adhérer"], "Adhérer"),
            consent=f.boolean(record["Consentement"], "Consentement"),
        )


MAPPER = PapMapper(
    name="pap",
    kind="csv",
    delimiter=";",
    signature=frozenset({"uuid", "Statut", "Date de début", "Code INSEE"}),
    required=tuple(c for c in COLUMNS if c not in IDENTITY),
    time_column="Date de début",
    address_column="Voie",
    bureau_column="Bureau de vote",
    description="Renaissance PAP visits (CSV, ';', French labels)",
    identity_columns=IDENTITY,
)
