"""Qomon door-to-door action results, CSV export (French interface).

Verified against Qomon's public help centre: a canvassing action records whether the person is
Present, Absent or Refuses to speak, with Come back later and Do not contact again as further
answers, and a "level of support" whose default values are No Support / Uncertain / Supporter /
Strong Support / Donor / Team member. The column names and the French labels of the export are
our assumption (no public export sample): see docs/canvass.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ingestion.canvass import fields as f
from ingestion.canvass.mappers.base import Mapper, build_knock, vocabulary
from ingestion.canvass.model import Address, FieldKnock

COLUMNS = (
    "ID",
    "Date",
    "Date de modification",
    "ID militant",
    "Militant",
    "Statut",
    "Numéro",
    "Rue",
    "Code postal",
    "Ville",
    "Latitude",
    "Longitude",
    "Bureau de vote",
    "Niveau de soutien",
    "Intention de vote",
    "Inscrit sur les listes",
    "Thématiques",
    "Souhaite s'engager",
    "Consentement RGPD",
    "Prénom",
    "Nom",
    "Email",
    "Téléphone",
    "Commentaire",
)
IDENTITY = ("Militant", "Prénom", "Nom", "Email", "Téléphone", "Commentaire")

OUTCOMES = vocabulary(
    {
        "opened_conversation": ("Présent", "Present"),
        "not_reached": ("Absent",),
        "opened_refused": ("Refus", "Refusal", "Refuse de parler", "Refuses to speak"),
        "opened_later": ("Repasser", "Revenir plus tard", "Come back later"),
        "do_not_contact": ("Ne plus contacter", "Ne pas recontacter", "Do not contact again"),
        "moved": ("Déménagé", "Moved"),
        "inaccessible": ("Inaccessible", "Inaccessible building"),
    }
)
SUPPORT = vocabulary(
    {
        "positive": (
            "Soutien fort",
            "Sympathisant",
            "Donateur",
            "Membre de l'équipe",
            "Strong Support",
            "Supporter",
            "Donor",
            "Team member",
        ),
        "neutral": ("Indécis", "Uncertain"),
        "negative": ("Pas de soutien", "Opposé", "No Support"),
    }
)


class QomonMapper(Mapper):
    def map(self, record: Mapping[str, Any]) -> FieldKnock:
        outcome = f.lookup(
            OUTCOMES, f.required(record["Statut"], "Statut", "status"), "Statut", "Qomon status"
        )
        lon, lat = f.coordinates(record["Longitude"], record["Latitude"], "Longitude", "Latitude")
        return build_knock(
            knock_id=f.required(record["ID"], "ID", "knock id"),
            canvasser_id=f.required(record["ID militant"], "ID militant", "canvasser id"),
            knocked_at=f.timestamp(record["Date"], "Date"),
            version_at=(
                f.timestamp(record["Date de modification"], "Date de modification")
                if f.text(record["Date de modification"])
                else None
            ),
            outcome=outcome,
            address=Address(
                f.text(record["Numéro"]), f.text(record["Rue"]), f.text(record["Ville"])
            ),
            bureau_hint=f.bureau(record["Bureau de vote"], "Bureau de vote"),
            longitude=lon,
            latitude=lat,
            topics=f.topics_cell(record["Thématiques"]),
            intends_to_vote=f.optional_lookup(
                f.INTENT_LABELS,
                record["Intention de vote"],
                "Intention de vote",
                "voting intention",
            ),
            registered_here=f.boolean(record["Inscrit sur les listes"], "Inscrit sur les listes"),
            sentiment=f.optional_lookup(
                SUPPORT, record["Niveau de soutien"], "Niveau de soutien", "Qomon support level"
            ),
            wants_to_volunteer=f.boolean(record["Souhaite s'engager"], "Souhaite s'engager"),
            consent=f.boolean(record["Consentement RGPD"], "Consentement RGPD"),
        )


MAPPER = QomonMapper(
    name="qomon",
    kind="csv",
    delimiter=";",
    signature=frozenset({"ID militant", "Niveau de soutien", "Statut"}),
    required=tuple(c for c in COLUMNS if c not in IDENTITY),
    time_column="Date",
    address_column="Rue",
    bureau_column="Bureau de vote",
    description="Qomon door-to-door action results (CSV, ';', French labels)",
    identity_columns=IDENTITY,
)
