"""The election id registry: `<year>_<type>_t<round>` and the type codes, in one place.

Why a registry: election ids are the join key between raw results, the dbt `elections` seed, the
reference-election parameters of the scores and the data.gouv harmonised files. A type code
spelt two ways (`dep` here, `dpmt` there) would silently split one election in two, so every
module that needs a type code imports it from here, and the dbt seed is built from the same list
(`ELECTION_TYPES`).

`validate_election_id` only checks the *shape* (`<year>_<kind>[_<more>]_t<round>`), as it always
did: tests and one-off loads use ids such as `2099_unit_t1`. Whether the kind is a registered
type is a separate question (`parse_election_id(...).registered`), asked where it matters (the
layout <-> type consistency check and the data.gouv id mapping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ElectionType:
    """One kind of election: our code, its labels, its rounds and the data.gouv spellings."""

    code: str
    label_fr: str
    label_en: str
    max_round: int
    datagouv_codes: tuple[str, ...]


ELECTION_TYPES: dict[str, ElectionType] = {
    t.code: t
    for t in (
        ElectionType("pres", "présidentielle", "presidential", 2, ("pres",)),
        ElectionType("legi", "législatives", "legislative", 2, ("legi",)),
        ElectionType("euro", "européennes", "european", 1, ("euro",)),
        ElectionType("muni", "municipales", "municipal", 2, ("muni",)),
        # `cant` (cantonales, before 2015) elected the same departmental councils.
        ElectionType("dep", "départementales", "departmental", 2, ("dpmt", "cant")),
        ElectionType("reg", "régionales", "regional", 2, ("regi",)),
    )
}
"""Registered type codes, in the order the dbt seed lists them."""

ELECTION_ID_PATTERN = re.compile(r"[0-9]{4}(?:_[a-z0-9]+)+_t[12]")
"""`<year>_<kind>[_<more>]_t<round>`, e.g. `2024_legi_t1`, `2024_euro_t1`, `2020_muni_t2`."""

_DATAGOUV_ID = re.compile(r"(?P<year>[0-9]{4})_(?P<kind>[a-z]+)_t(?P<round>[0-9])")
_DATAGOUV_TO_OURS: dict[str, str] = {
    code: t.code for t in ELECTION_TYPES.values() for code in t.datagouv_codes
}
_DATAGOUV_UNSUPPORTED: dict[str, str] = {
    "sena": "senatorial elections are indirect (grand electors): there are no per-bureau results",
}


@dataclass(frozen=True, slots=True)
class ElectionId:
    """A parsed election id."""

    value: str
    year: int
    kind: str
    round: int

    @property
    def registered(self) -> bool:
        """True for a kind of `ELECTION_TYPES` (test ids such as `2099_unit_t1` are not)."""
        return self.kind in ELECTION_TYPES


def validate_election_id(election_id: str) -> str:
    """Refuse an election id that downstream models could not parse (year, kind, round)."""
    if not isinstance(election_id, str) or not ELECTION_ID_PATTERN.fullmatch(election_id):
        raise ValueError(
            f"election_id {election_id!r} is not valid: expected '<year>_<type>_t<round>' "
            "such as '2024_legi_t1' (lower-case letters, digits and underscores; round t1 or t2; "
            f"registered types: {', '.join(ELECTION_TYPES)})"
        )
    return election_id


def parse_election_id(election_id: str) -> ElectionId:
    """Split a valid id into year, kind (everything between year and round) and round."""
    validate_election_id(election_id)
    year, rest = election_id.split("_", 1)
    kind, round_ = rest.rsplit("_t", 1)
    return ElectionId(election_id, int(year), kind, int(round_))


def election_type(election_id: str) -> ElectionType | None:
    """The registered type of an id, or None for an unregistered kind."""
    return ELECTION_TYPES.get(parse_election_id(election_id).kind)


def check_round(election_id: str) -> None:
    """Refuse a round the type does not have (européennes are single-round)."""
    parsed = parse_election_id(election_id)
    kind = ELECTION_TYPES.get(parsed.kind)
    if kind is not None and parsed.round > kind.max_round:
        raise ValueError(
            f"election_id {election_id!r}: {kind.label_en} elections have "
            f"{kind.max_round} round(s), got t{parsed.round}"
        )


def from_datagouv_id(datagouv_id: str) -> str:
    """Our id for a data.gouv `id_election` (`2022_pres_t1` -> `2022_pres_t1`, `2021_dpmt_t1` ->
    `2021_dep_t1`, `2021_regi_t2` -> `2021_reg_t2`).

    Raises ValueError, saying why, for ids we cannot load (senatorial, partial elections such as
    `2016_03_legi_part_t1`, unknown kinds): loading them under a guessed id would mix elections.
    """
    match = _DATAGOUV_ID.fullmatch(datagouv_id.strip())
    if match is None:
        raise ValueError(
            f"data.gouv id_election {datagouv_id!r} is not '<year>_<type>_t<round>' "
            "(partial elections such as '2016_03_legi_part_t1' are not supported)"
        )
    kind = match["kind"]
    if kind in _DATAGOUV_UNSUPPORTED:
        raise ValueError(f"data.gouv id_election {datagouv_id!r}: {_DATAGOUV_UNSUPPORTED[kind]}")
    ours = _DATAGOUV_TO_OURS.get(kind)
    if ours is None:
        raise ValueError(
            f"data.gouv id_election {datagouv_id!r}: unknown election type {kind!r} "
            f"(known: {', '.join(sorted(_DATAGOUV_TO_OURS))})"
        )
    election_id = f"{match['year']}_{ours}_t{match['round']}"
    check_round(election_id)
    return validate_election_id(election_id)
