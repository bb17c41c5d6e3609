"""The canonical records every results layout is parsed into, and the per-bureau identities.

Every parser (2024 wide, 2017–2022 wide, municipales 2020, data.gouv long files) yields the same
`ParsedRow(bureau, candidates)`, so the loader, the raw tables and `scrutin results tidy` have one
path whatever the layout. Fields a layout does not publish are None.

Records are plain slotted dataclasses, not frozen ones: a frozen dataclass sets each field
through object.__setattr__, which costs about a second per national file for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class BureauRecord:
    """One polling station's turnout, as published (counts only, codes normalised).

    `code_commune` is always the 5-character INSEE code (`01001`, `2A004`, `97101`); French
    people abroad keep the Ministry's `ZZ` + 3 digits (there is no INSEE commune for them).
    `id_brut_miom` is the data.gouv harmonised key of the bureau (`01001_0001`), built the way
    data.gouv builds it so that a wide file and the harmonised files join.
    """

    source_line: int
    code_departement: str
    libelle_departement: str | None
    code_commune: str
    libelle_commune: str | None
    code_bv: str
    bureau_id: str
    inscrits: int
    votants: int
    abstentions: int
    exprimes: int
    blancs: int
    nuls: int
    id_brut_miom: str | None = None
    code_circonscription: str | None = None
    libelle_circonscription: str | None = None
    code_canton: str | None = None
    libelle_canton: str | None = None
    code_secteur: str | None = None


@dataclass(slots=True)
class CandidateRecord:
    """One candidate, binôme or list of a bureau (candidate names are public information).

    Candidates: `nom`, `prenom`, `sexe`. Binômes (départementales): `nom` holds the binôme label
    as published. Lists: `liste_libelle_abrege`, `liste_libelle`, `tete_de_liste` (and `nom`,
    `prenom`, `sexe` of the head of list where the layout gives them, as municipales 2020 does).
    """

    block: int
    numero_panneau: int
    nuance: str | None
    nom: str | None
    prenom: str | None
    sexe: str | None
    voix: int
    elu: bool
    liste_libelle_abrege: str | None = None
    liste_libelle: str | None = None
    tete_de_liste: str | None = None
    sieges: int | None = None
    sieges_secteur: int | None = None
    sieges_cc: int | None = None


@dataclass(slots=True)
class ParsedRow:
    """A data line: the bureau and its candidates, kept together so a loader can stream both.

    `single_choice` is False where a voter may tick several candidates (plurinominal municipal
    ballots): there the candidates' votes do not add up to `exprimes`, by law, not by error.
    """

    bureau: BureauRecord
    candidates: tuple[CandidateRecord, ...]
    single_choice: bool = True


def identity_issue(row: ParsedRow) -> tuple[str, str] | None:
    """The first published identity a bureau row breaks, as (column, reason), or None.

    These are the checks a well-formed row can still fail (a transcription error in one
    polling station's minutes): the loader quarantines such a row with this reason instead of
    refusing a national file, and `scrutin results tidy` reports it in its `issue` column.
    """
    b = row.bureau
    if b.inscrits != b.votants + b.abstentions:
        return (
            "Inscrits",
            f"bureau {b.bureau_id}: inscrits {b.inscrits} != votants {b.votants} + "
            f"abstentions {b.abstentions}",
        )
    if b.votants != b.exprimes + b.blancs + b.nuls:
        return (
            "Votants",
            f"bureau {b.bureau_id}: votants {b.votants} != exprimes {b.exprimes} + "
            f"blancs {b.blancs} + nuls {b.nuls}",
        )
    if row.single_choice:
        total = sum(c.voix for c in row.candidates)
        if total != b.exprimes:
            return (
                "Voix",
                f"bureau {b.bureau_id}: the candidates' votes add up to {total}, "
                f"exprimes is {b.exprimes}",
            )
    return None
