"""One generator of format-faithful synthetic source files, at any scale up to national.

    .venv/bin/python benchmarks/generate.py results --bureaux 69000 --candidates 12 \
        --layout minint_2024 -o /tmp/national.csv
    .venv/bin/python benchmarks/generate.py results --layout datagouv --bureaux 5000 -o /tmp/dg/

Every Ministry results layout Scrutin reads can be written: the bytes follow the official files
(encoding, separator, line endings, quoting, header text, percentages with a decimal comma, rows
of a `first_only` layout as wide as their number of candidates, 2024 rows padded to the header).
The values are synthetic but consistent: inscrits = votants + abstentions, votants = exprimés +
blancs + nuls, and the candidates' votes add up to exprimés (except plurinominal municipal
sections, where a voter ticks several names). Geography: metropolitan departments, Corsica,
overseas departments and collectivities, French people abroad (`ZZ`); `--fixture` writes the
small hand-picked geography of tests/fixtures/results/.

Why here and not in tests/: benchmarks and fixtures must come from one description of each
layout, so a layout fix lands in both.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

# --------------------------------------------------------------------------- geography


@dataclass(frozen=True)
class Department:
    ministry: str  # code written by 2017–2022 files (ZA, 2A, 01)
    insee: str  # code written by 2024 files and data.gouv (971, 2A, 01)
    label: str


METRO_LABELS = {
    "01": "Ain",
    "02": "Aisne",
    "13": "Bouches-du-Rhône",
    "29": "Finistère",
    "33": "Gironde",
    "59": "Nord",
    "69": "Rhône",
    "75": "Paris",
    "2A": "Corse-du-Sud",
    "2B": "Haute-Corse",
}
OVERSEAS = [
    Department("ZA", "971", "Guadeloupe"),
    Department("ZB", "972", "Martinique"),
    Department("ZC", "973", "Guyane"),
    Department("ZD", "974", "La Réunion"),
    Department("ZM", "976", "Mayotte"),
    Department("ZS", "975", "Saint-Pierre-et-Miquelon"),
    Department("ZN", "988", "Nouvelle-Calédonie"),
    Department("ZP", "987", "Polynésie française"),
    Department("ZW", "986", "Wallis et Futuna"),
    Department("ZX", "97X", "Saint-Martin/Saint-Barthélemy"),
    Department("ZZ", "ZZ", "Français établis hors de France"),
]


def _metro_departments() -> list[Department]:
    codes = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
    return [Department(c, c, METRO_LABELS.get(c, f"Département {c}")) for c in sorted(codes)]


@dataclass(frozen=True)
class Bureau:
    dep: Department
    commune3: str  # Ministry code within the department (`004`, `056SR01`, `801`)
    insee: str  # 5-character INSEE code
    commune_label: str
    bv: str  # 4 digits
    circ: int  # circonscription number within the department
    canton: int
    region: str
    plurinominal: bool = False


def insee_of(dep: Department, commune3: str) -> str:
    code = commune3[:3]
    if dep.ministry == "ZX":
        return "97" + code
    if dep.ministry == "ZZ":
        return "ZZ" + code
    if dep.ministry.startswith("Z"):
        return dep.insee + code[-2:]
    return dep.ministry + code


COMMUNE_WORDS = ("Saint-Étienne", "Brélès", "L'Abergement", "Château", "Pont-l'Évêque", "Île")


def commune_codes(dep: Department) -> list[str]:
    """Valid 3-digit Ministry commune codes of a department."""
    if dep.ministry == "ZX":
        return ["701", "801"]
    if dep.ministry == "ZZ":
        return [f"{i:03d}" for i in range(1, 12)]
    if dep.ministry.startswith("Z"):
        return [f"{dep.insee[2]}{i:02d}" for i in range(1, 100)]
    from ingestion.sources.reu import results_commune_code

    # Not the municipal arrondissements of Paris, Lyon and Marseille (75101.., 69381.., 13201..):
    # the results files name those bureaux by the city's code, and so do the loaders once they
    # have read the REU and the contours. A département large enough to reach code 201 would
    # otherwise hold 13055_0001 and 13201_0001, one bureau to every loader.
    return [
        code
        for code in (f"{i:03d}" for i in range(1, 1000))
        if results_commune_code(insee_of(dep, code)) == insee_of(dep, code)
    ]


def national_bureaux(n: int, rng: random.Random) -> Iterator[Bureau]:
    """n bureaux spread over communes of every department, overseas and abroad included."""
    departments = _metro_departments() + OVERSEAS
    per_dep = max(1, n // len(departments))
    made = 0
    for d_index, dep in enumerate(departments):
        quota = per_dep if d_index < len(departments) - 1 else n - made
        codes = commune_codes(dep)
        next_bv: dict[str, int] = {}
        commune = 0
        while quota > 0:
            code3 = codes[commune % len(codes)]
            commune += 1
            size = min(quota, rng.choice((1, 1, 2, 2, 3, 5)))
            label = f"{COMMUNE_WORDS[commune % len(COMMUNE_WORDS)]}-{dep.ministry}-{code3}"
            first = next_bv.get(code3, 1)
            for bv in range(first, first + size):
                yield Bureau(
                    dep=dep,
                    commune3=code3,
                    insee=insee_of(dep, code3),
                    commune_label=label,
                    bv=f"{bv:04d}",
                    circ=1 + int(code3) % 4,
                    canton=1 + int(code3) % 15,
                    region=f"R{d_index % 13:02d}",
                )
            next_bv[code3] = first + size
            made += size
            quota -= size


def fixture_bureaux() -> list[Bureau]:
    """The small geography of tests/fixtures/results: metro, Corsica, overseas, abroad, Paris."""
    ain = Department("01", "01", "Ain")
    corse = Department("2A", "2A", "Corse-du-Sud")
    guadeloupe = OVERSEAS[0]
    zx = OVERSEAS[9]
    zz = OVERSEAS[10]
    paris = Department("75", "75", "Paris")
    return [
        Bureau(ain, "001", "01001", "L'Abergement-Clémenciat", "0001", 4, 8, "84"),
        Bureau(ain, "004", "01004", "Ambérieu-en-Bugey", "0001", 5, 1, "84"),
        Bureau(ain, "004", "01004", "Ambérieu-en-Bugey", "0002", 5, 1, "84"),
        Bureau(corse, "004", "2A004", "Ajaccio", "0001", 1, 1, "94"),
        Bureau(guadeloupe, "101", "97101", "Les Abymes", "0001", 1, 1, "01"),
        Bureau(zx, "801", "97801", "Saint-Martin", "0001", 1, 1, "XX"),
        Bureau(zz, "001", "ZZ001", "Amérique du Nord", "0001", 1, 1, "ZZ"),
        Bureau(paris, "056SR01", "75056", "Paris 1er secteur", "0101", 1, 1, "11"),
    ]


# --------------------------------------------------------------------------- values

SURNAMES = (
    "DUPRÉ", "LEFÈVRE", "N'DIAYE", "LE GALL", "MARTIN-ROUX", "GARÇON", "BŒUF", "FAURE",
    "ÇELIK", "LOPEZ", "HOARAU", "KERVELLA", "PEREIRA", "MÜLLER", "NGUYEN", "ROUSSEAU",
)  # fmt: skip
FIRST_NAMES = ("Anne", "Jean-Luc", "Élise", "Noël", "Inès", "François", "Zoé", "Hervé")
NUANCES_LEGI = ("ENS", "RN", "UG", "LR", "DVG", "ECO", "REC", "DIV", "EXG", "DVD", "REG", "DSV")
NUANCES_LIST = ("LUG", "LRN", "LENS", "LLR", "LECO", "LREC", "LDIV", "LEXG", "LDVD", "LFI")
NUANCES_DEP = ("BC-UG", "BC-RN", "BC-DVD", "BC-LR", "BC-DVG", "BC-ENS", "BC-DIV", "BC-ECO")


@dataclass
class Candidate:
    panneau: int
    nuance: str
    sexe: str
    nom: str
    prenom: str
    liste_abrege: str = ""
    liste: str = ""
    tete: str = ""
    binome: str = ""
    sieges: int = 0
    sieges_secteur: int = 0
    sieges_cc: int = 0


def make_candidates(n: int, seed_key: str, kind: str) -> list[Candidate]:
    rng = random.Random(seed_key)
    out: list[Candidate] = []
    for i in range(n):
        nom = SURNAMES[(i + rng.randrange(3)) % len(SURNAMES)]
        prenom = FIRST_NAMES[rng.randrange(len(FIRST_NAMES))]
        sexe = "F" if prenom in ("Anne", "Élise", "Inès", "Zoé") else "M"
        if kind == "legi":
            nuance = NUANCES_LEGI[i % len(NUANCES_LEGI)]
        elif kind == "dep":
            nuance = NUANCES_DEP[i % len(NUANCES_DEP)]
        else:
            nuance = NUANCES_LIST[i % len(NUANCES_LIST)]
        civ = "Mme" if sexe == "F" else "M."
        out.append(
            Candidate(
                panneau=i + 1,
                nuance=nuance,
                sexe=sexe,
                nom=nom,
                prenom=prenom,
                liste_abrege=f"LISTE {nom} {i + 1}",
                liste=f"Liste « {prenom} {nom} » pour l'avenir n°{i + 1}",
                tete=f"{civ} {prenom} {nom}",
                binome=f"M. {nom} {prenom} et Mme {SURNAMES[(i + 5) % len(SURNAMES)]} Zoé",
                sieges=max(0, 3 - i),
                sieges_cc=max(0, 2 - i),
            )
        )
    return out


@dataclass
class Counts:
    inscrits: int
    votants: int
    abstentions: int
    exprimes: int
    blancs: int
    nuls: int
    voix: list[int] = field(default_factory=list)


def make_counts(
    rng: random.Random, n_candidates: int, plurinominal: bool = False, inscrits: int | None = None
) -> Counts:
    """Counts of one bureau; `inscrits` fixed by the caller keeps several elections (and the
    census, REU and roll of benchmarks/national_sources.py) on the same registered voters."""
    if inscrits is None:
        inscrits = rng.randint(250, 1400)
    votants = int(inscrits * rng.uniform(0.35, 0.8))
    blancs = rng.randint(0, max(1, votants // 40))
    nuls = rng.randint(0, max(1, votants // 80))
    exprimes = votants - blancs - nuls
    weights = [rng.random() + 0.05 for _ in range(n_candidates)]
    total = sum(weights)
    voix = [int(exprimes * w / total) for w in weights]
    if voix:
        voix[0] += exprimes - sum(voix)
    if plurinominal:  # several names per ballot: each gets a share of the ballots
        voix = [int(exprimes * rng.uniform(0.3, 0.9)) for _ in range(n_candidates)]
    return Counts(inscrits, votants, inscrits - votants, exprimes, blancs, nuls, voix)


def pct(part: int, whole: int) -> str:
    """`12,34`: the decimal comma of every Ministry file."""
    return f"{100 * part / whole:.2f}".replace(".", ",") if whole else "0,00"


# --------------------------------------------------------------------------- layouts

COUNTS_2017 = (
    "Inscrits;Abstentions;% Abs/Ins;Votants;% Vot/Ins;Blancs;% Blancs/Ins;% Blancs/Vot;Nuls;"
    "% Nuls/Ins;% Nuls/Vot;Exprimés;% Exp/Ins;% Exp/Vot"
)


def counts_2017(c: Counts) -> list[str]:
    return [
        str(c.inscrits), str(c.abstentions), pct(c.abstentions, c.inscrits),
        str(c.votants), pct(c.votants, c.inscrits),
        str(c.blancs), pct(c.blancs, c.inscrits), pct(c.blancs, c.votants),
        str(c.nuls), pct(c.nuls, c.inscrits), pct(c.nuls, c.votants),
        str(c.exprimes), pct(c.exprimes, c.inscrits), pct(c.exprimes, c.votants),
    ]  # fmt: skip


def circ_label(n: int) -> str:
    return "1ère circonscription" if n == 1 else f"{n}ème circonscription"


@dataclass(frozen=True)
class LayoutWriter:
    name: str
    encoding: str
    newline: str
    header: Callable[[int], str]
    row: Callable[[Bureau, Counts, list[Candidate], int], str]
    kind: str  # candidate set: pres, legi, euro, muni, dep, reg
    padded: bool = False


def _old_prefix(
    b: Bureau, with_circ: bool, with_canton: bool = False, bv_first: bool = False
) -> list[str]:
    fields = [b.dep.ministry, b.dep.label]
    if with_circ:
        fields += [f"{b.circ:02d}", circ_label(b.circ)]
    if with_canton:
        fields += [f"{b.canton:02d}", f"Canton n°{b.canton}"]
    fields += [b.commune3, b.commune_label, b.bv]
    return fields


def _header_pres(_n: int) -> str:
    return (
        "Code du département;Libellé du département;Code de la circonscription;"
        "Libellé de la circonscription;Code de la commune;Libellé de la commune;Code du b.vote;"
        f"{COUNTS_2017};N°Panneau;Sexe;Nom;Prénom;Voix;% Voix/Ins;% Voix/Exp"
    )


def _row_pres(b: Bureau, c: Counts, cands: list[Candidate], _n: int) -> str:
    fields = _old_prefix(b, with_circ=True) + counts_2017(c)
    for cand, v in zip(cands, c.voix, strict=True):
        fields += [str(cand.panneau), cand.sexe, cand.nom, cand.prenom, str(v),
                   pct(v, c.inscrits), pct(v, c.exprimes)]  # fmt: skip
    return ";".join(fields)


def _header_legi(_n: int) -> str:
    return _header_pres(_n).replace("Prénom;Voix", "Prénom;Nuance;Voix")


def _row_legi(b: Bureau, c: Counts, cands: list[Candidate], _n: int) -> str:
    fields = _old_prefix(b, with_circ=True) + counts_2017(c)
    for cand, v in zip(cands, c.voix, strict=True):
        fields += [str(cand.panneau), cand.sexe, cand.nom, cand.prenom, cand.nuance, str(v),
                   pct(v, c.inscrits), pct(v, c.exprimes)]  # fmt: skip
    return ";".join(fields)


def _header_euro2019(_n: int) -> str:
    return (
        "Code du département;Libellé du département;Code de la commune;Libellé de la commune;"
        f"Code du b.vote;{COUNTS_2017};N°Liste;Libellé Abrégé Liste;Libellé Etendu Liste;"
        "Nom Tête de Liste;Voix;% Voix/Ins;% Voix/Exp"
    )


def _row_euro2019(b: Bureau, c: Counts, cands: list[Candidate], _n: int) -> str:
    fields = _old_prefix(b, with_circ=False) + counts_2017(c)
    for cand, v in zip(cands, c.voix, strict=True):
        fields += [str(cand.panneau), cand.liste_abrege, cand.liste, f"{cand.nom} {cand.prenom}",
                   str(v), pct(v, c.inscrits), pct(v, c.exprimes)]  # fmt: skip
    return ";".join(fields)


def _header_muni(_n: int) -> str:
    return (
        "Code du département;Libellé du département;Code de la commune;Libellé de la commune;"
        f"Code B.Vote;{COUNTS_2017};N.Pan.;Code Nuance;Sexe;Nom;Prénom;Liste;Sièges / Elu;"
        "Sièges Secteur;Sièges CC;Voix;% Voix/Ins;% Voix/Exp"
    )


def _row_muni(b: Bureau, c: Counts, cands: list[Candidate], _n: int) -> str:
    fields = _old_prefix(b, with_circ=False) + counts_2017(c)
    for cand, v in zip(cands, c.voix, strict=True):
        if b.plurinominal:
            seats, liste, secteur, cc = ("Oui" if cand.panneau == 1 else "Non"), "", "", ""
        else:
            seats, liste = str(cand.sieges), cand.liste_abrege
            secteur = str(cand.sieges_secteur if "SR" in b.commune3 else 0)
            cc = str(cand.sieges_cc)
        fields += [str(cand.panneau), cand.nuance, cand.sexe, cand.nom, cand.prenom, liste,
                   seats, secteur, cc, str(v), pct(v, c.inscrits), pct(v, c.exprimes)]  # fmt: skip
    return ";".join(fields)


def _header_dep(_n: int) -> str:
    return (
        "Code du département;Libellé du département;Code du canton;Libellé du canton;"
        f"Code de la commune;Libellé de la commune;Code du b.vote;{COUNTS_2017};"
        "N°Panneau;Nuance;Binôme;Voix;% Voix/Ins;% Voix/Exp"
    )


def _row_dep(b: Bureau, c: Counts, cands: list[Candidate], _n: int) -> str:
    fields = _old_prefix(b, with_circ=False, with_canton=True) + counts_2017(c)
    for cand, v in zip(cands, c.voix, strict=True):
        fields += [str(cand.panneau), cand.nuance, cand.binome, str(v), pct(v, c.inscrits),
                   pct(v, c.exprimes)]  # fmt: skip
    return ";".join(fields)


def _header_reg(_n: int) -> str:
    return (
        "Code du département;Libellé du département;Code de la commune;Libellé de la commune;"
        f"Code du b.vote;{COUNTS_2017};N°Panneau;Nuance Liste;Libellé Abrégé Liste;"
        "Libellé Etendu Liste;Nom Tête de Liste;Voix;% Voix/Ins;% Voix/Exp"
    )


def _row_reg(b: Bureau, c: Counts, cands: list[Candidate], _n: int) -> str:
    fields = _old_prefix(b, with_circ=False) + counts_2017(c)
    for cand, v in zip(cands, c.voix, strict=True):
        fields += [str(cand.panneau), cand.nuance, cand.liste_abrege, cand.liste,
                   f"{cand.nom} {cand.prenom}", str(v), pct(v, c.inscrits),
                   pct(v, c.exprimes)]  # fmt: skip
    return ";".join(fields)


# 2024: codes and percentages always quoted; free text quoted when it holds a space or a hyphen;
# counts, panels, nuances, sex never quoted (README of the real Brest files, section 1.2).
def q(value: str) -> str:
    return f'"{value}"'


def text24(value: str) -> str:
    return q(value) if (" " in value or "-" in value or ";" in value) else value


def pct24(part: int, whole: int) -> str:
    return q(pct(part, whole) + "%")


COUNTS_2024_HEADER = (
    'Inscrits;Votants;"% Votants";Abstentions;"% Abstentions";Exprimés;"% Exprimés/inscrits";'
    '"% Exprimés/votants";Blancs;"% Blancs/inscrits";"% Blancs/votants";Nuls;"% Nuls/inscrits";'
    '"% Nuls/votants"'
)


def counts_2024(c: Counts) -> list[str]:
    return [
        str(c.inscrits), str(c.votants), pct24(c.votants, c.inscrits),
        str(c.abstentions), pct24(c.abstentions, c.inscrits),
        str(c.exprimes), pct24(c.exprimes, c.inscrits), pct24(c.exprimes, c.votants),
        str(c.blancs), pct24(c.blancs, c.inscrits), pct24(c.blancs, c.votants),
        str(c.nuls), pct24(c.nuls, c.inscrits), pct24(c.nuls, c.votants),
    ]  # fmt: skip


def dep24(b: Bureau) -> tuple[str, str]:
    if b.dep.ministry == "ZX":
        return b.insee[:3], "Saint-Martin" if b.insee.startswith("978") else "Saint-Barthélemy"
    return b.dep.insee, b.dep.label


def _header_2024(n: int) -> str:
    blocks = [
        f'"Numéro de panneau {k}";"Nuance candidat {k}";"Nom candidat {k}";'
        f'"Prénom candidat {k}";"Sexe candidat {k}";"Voix {k}";"% Voix/inscrits {k}";'
        f'"% Voix/exprimés {k}";"Elu {k}"'
        for k in range(1, n + 1)
    ]
    return (
        '"Code département";"Libellé département";"Code commune";"Libellé commune";"Code BV";'
        f"{COUNTS_2024_HEADER};" + ";".join(blocks)
    )


def _row_2024(b: Bureau, c: Counts, cands: list[Candidate], n: int) -> str:
    code, label = dep24(b)
    fields = [q(code), text24(label), q(b.insee), text24(b.commune_label), q(b.bv)]
    fields += counts_2024(c)
    for cand, v in zip(cands, c.voix, strict=True):
        fields += [str(cand.panneau), cand.nuance, text24(cand.nom), text24(cand.prenom),
                   cand.sexe, str(v), pct24(v, c.inscrits), pct24(v, c.exprimes), ""]  # fmt: skip
    fields += [""] * (9 * (n - len(cands)))
    return ";".join(fields)


def _header_2024_listes(n: int) -> str:
    blocks = [
        f'"Numéro de panneau {k}";"Nuance liste {k}";"Libellé abrégé de liste {k}";'
        f'"Libellé de liste {k}";"Voix {k}";"% Voix/inscrits {k}";"% Voix/exprimés {k}";'
        f'"Sièges {k}"'
        for k in range(1, n + 1)
    ]
    return (
        '"Code localisation";"Libellé localisation";"Code département";"Libellé département";'
        f'"Code commune";"Libellé commune";"Code BV";{COUNTS_2024_HEADER};' + ";".join(blocks)
    )


def _row_2024_listes(b: Bureau, c: Counts, cands: list[Candidate], n: int) -> str:
    code, label = dep24(b)
    fields = [q(code), text24(label), q(code), text24(label), q(b.insee),
              text24(b.commune_label), q(b.bv)]  # fmt: skip
    fields += counts_2024(c)
    for cand, v in zip(cands, c.voix, strict=True):
        fields += [str(cand.panneau), cand.nuance, text24(cand.liste_abrege), text24(cand.liste),
                   str(v), pct24(v, c.inscrits), pct24(v, c.exprimes), ""]  # fmt: skip
    fields += [""] * (8 * (n - len(cands)))
    return ";".join(fields)


WRITERS: dict[str, LayoutWriter] = {
    w.name: w
    for w in (
        LayoutWriter("minint_2017_pres", "cp1252", "\r\n", _header_pres, _row_pres, "pres"),
        LayoutWriter("minint_2017_legi", "cp1252", "\r\n", _header_legi, _row_legi, "legi"),
        LayoutWriter("minint_2019_euro", "cp1252", "\r\n", _header_euro2019, _row_euro2019, "euro"),
        LayoutWriter("minint_2020_muni", "cp1252", "\r\n", _header_muni, _row_muni, "muni"),
        LayoutWriter("minint_2021_dep", "cp1252", "\r\n", _header_dep, _row_dep, "dep"),
        LayoutWriter("minint_2021_reg", "cp1252", "\r\n", _header_reg, _row_reg, "reg"),
        LayoutWriter("minint_2024", "utf-8", "\n", _header_2024, _row_2024, "legi", padded=True),
        LayoutWriter(
            "minint_2024_listes",
            "utf-8",
            "\n",
            _header_2024_listes,
            _row_2024_listes,
            "euro",
            padded=True,
        ),
    )
}
LAYOUT_CHOICES = (*WRITERS, "datagouv")


def candidates_for(
    kind: str, b: Bureau, n: int, index: int, uniform: bool = False
) -> list[Candidate]:
    """The candidates standing in bureau b: national for pres/euro, local elsewhere; local
    contests vary in size, so some rows have fewer candidates than others (`uniform`: all n)."""
    if kind in ("pres", "euro") or uniform:
        return make_candidates(n, f"{kind}-national", kind)
    if kind == "legi":
        key = f"{b.dep.ministry}-{b.circ}"
    elif kind == "dep":
        key = f"{b.dep.ministry}-canton-{b.canton}"
    elif kind == "reg":
        key = f"region-{b.region}"
    else:
        key = f"{b.insee}-{b.commune3}"
    size = max(2, n - (sum(map(ord, key)) % max(1, n // 2)))
    if b.plurinominal:
        size = min(size, 4)
    return make_candidates(size, key, kind)


# --------------------------------------------------------------------------- writing


def write_wide(  # noqa: PLR0917 - mirrors generate_results' arguments
    out: TextIO,
    layout: str,
    bureaux: Sequence[Bureau] | Iterator[Bureau],
    n: int,
    seed: int,
    uniform: bool = False,
    registered: Callable[[Bureau], int] | None = None,
    nuances: dict[str, str] | None = None,
) -> int:
    """Header and one row per bureau; `registered` fixes each bureau's inscrits, `nuances`
    renames nuance codes to another year's grid (2022 législatives: NUP where 2024 has UG)."""
    writer = WRITERS[layout]
    rng = random.Random(seed)
    nl = writer.newline
    out.write(writer.header(n) + nl)
    rows = 0
    for index, b in enumerate(bureaux):
        cands = candidates_for(writer.kind, b, n, index, uniform)
        if nuances:
            cands = [dataclasses.replace(c, nuance=nuances.get(c.nuance, c.nuance)) for c in cands]
        inscrits = registered(b) if registered is not None else None
        counts = make_counts(rng, len(cands), b.plurinominal, inscrits)
        out.write(writer.row(b, counts, cands, n) + nl)
        rows += 1
    return rows


GENERAL_COLUMNS = (
    "id_election;id_brut_miom;code_departement;libelle_departement;code_canton;libelle_canton;"
    "code_commune;libelle_commune;code_circonscription;libelle_circonscription;code_bv;inscrits;"
    "abstentions;votants;blancs;nuls;exprimes;ratio_abstentions_inscrits;ratio_votants_inscrits;"
    "ratio_blancs_inscrits;ratio_blancs_votants;ratio_nuls_inscrits;ratio_nuls_votants;"
    "ratio_exprimes_inscrits;ratio_exprimes_votants"
)
CANDIDATS_COLUMNS = (
    "id_election;id_brut_miom;code_departement;code_commune;code_bv;no_panneau;voix;"
    "ratio_voix_inscrits;ratio_voix_exprimes;nuance;sexe;nom;prenom;libelle_abrege_liste;"
    "libelle_etendu_liste;nom_tete_liste;binome"
)


def ratio(part: int, whole: int) -> str:
    """data.gouv ratios: percentages with a decimal point, 2 decimals."""
    return f"{100 * part / whole:.2f}" if whole else ""


def csv_text(value: str) -> str:
    return f'"{value}"' if (";" in value or '"' in value) else value


def write_datagouv(
    folder: Path, bureaux: Sequence[Bureau], n: int, seed: int, elections: Sequence[str]
) -> tuple[Path, Path]:
    """general_results.csv + candidats_results.csv, one block of rows per election id."""
    folder.mkdir(parents=True, exist_ok=True)
    general_path = folder / "general_results.csv"
    candidats_path = folder / "candidats_results.csv"
    rng = random.Random(seed)
    with (
        general_path.open("w", encoding="utf-8", newline="") as general,
        candidats_path.open("w", encoding="utf-8", newline="") as candidats,
    ):
        general.write(GENERAL_COLUMNS + "\n")
        candidats.write(CANDIDATS_COLUMNS + "\n")
        for election in elections:
            kind = {"pres": "pres", "legi": "legi", "euro": "euro", "dpmt": "dep", "regi": "reg",
                    "muni": "muni"}[election.split("_")[1]]  # fmt: skip
            for index, b in enumerate(bureaux):
                cands = candidates_for(kind, b, n, index)
                c = make_counts(rng, len(cands), b.plurinominal)
                dep = b.insee[:3] if b.insee[:2] in ("97", "98") else b.dep.insee
                id_brut = f"{b.insee}_{b.bv}"
                canton = f"{b.canton:02d}" if kind == "dep" else ""
                circ = f"{b.circ:02d}" if kind in ("legi", "pres") else ""
                general.write(
                    ";".join(
                        [
                            election,
                            id_brut,
                            dep,
                            csv_text(b.dep.label),
                            canton,
                            f"Canton n°{b.canton}" if canton else "",
                            b.insee,
                            csv_text(b.commune_label),
                            circ,
                            circ_label(b.circ) if circ else "",
                            b.bv,
                            str(c.inscrits),
                            str(c.abstentions),
                            str(c.votants),
                            str(c.blancs),
                            str(c.nuls),
                            str(c.exprimes),
                            ratio(c.abstentions, c.inscrits),
                            ratio(c.votants, c.inscrits),
                            ratio(c.blancs, c.inscrits),
                            ratio(c.blancs, c.votants),
                            ratio(c.nuls, c.inscrits),
                            ratio(c.nuls, c.votants),
                            ratio(c.exprimes, c.inscrits),
                            ratio(c.exprimes, c.votants),
                        ]
                    )
                    + "\n"
                )
                lists = kind in ("euro", "reg", "muni")
                named = not lists and kind != "dep"  # binômes: the binome column only
                for cand, v in zip(cands, c.voix, strict=True):
                    candidats.write(
                        ";".join(
                            [
                                election,
                                id_brut,
                                dep,
                                b.insee,
                                b.bv,
                                str(cand.panneau),
                                str(v),
                                ratio(v, c.inscrits),
                                ratio(v, c.exprimes),
                                cand.nuance,
                                cand.sexe if named else "",
                                cand.nom if named else "",
                                cand.prenom if named else "",
                                csv_text(cand.liste_abrege) if lists else "",
                                csv_text(cand.liste) if lists else "",
                                f"{cand.nom} {cand.prenom}" if lists else "",
                                cand.binome if kind == "dep" else "",
                            ]
                        )
                        + "\n"
                    )
    return general_path, candidats_path


def generate_results(
    out: Path,
    layout: str,
    *,
    bureaux: int,
    candidates: int,
    seed: int = 1,
    fixture: bool = False,
    elections: Sequence[str] = ("2022_pres_t1",),
    uniform: bool = False,
) -> list[Path]:
    """Write a results file (or the data.gouv pair into folder `out`); return the paths."""
    rng = random.Random(seed)
    places: list[Bureau] = fixture_bureaux() if fixture else list(national_bureaux(bureaux, rng))
    if layout == "datagouv":
        return list(write_datagouv(out, places, candidates, seed, elections))
    writer = WRITERS[layout]
    if fixture and writer.kind in ("pres", "euro", "reg", "dep", "legi"):
        places = [b for b in places if "SR" not in b.commune3]  # sectors are municipal only
    if fixture and writer.kind == "muni":
        polynesia = Department("ZP", "987", "Polynésie française")
        places = [*places, Bureau(polynesia, "736", "98736", "Taiarapu-Ouest", "0001", 1, 1, "PF",
                                  plurinominal=True)]  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding=writer.encoding, newline="") as fh:
        write_wide(fh, layout, places, candidates, seed, uniform)
    return [out]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="dataset", required=True)
    p = sub.add_parser("results", help="Ministry per-bureau results in any layout")
    p.add_argument("--layout", choices=LAYOUT_CHOICES, default="minint_2024")
    p.add_argument("--bureaux", type=int, default=69_000)
    p.add_argument("--candidates", type=int, default=12, help="candidates or lists (maximum)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fixture", action="store_true", help="the small test-fixture geography")
    p.add_argument(
        "--uniform",
        action="store_true",
        help="every bureau has exactly --candidates candidates (worst case for a benchmark)",
    )
    p.add_argument(
        "--election",
        action="append",
        help="data.gouv id_election to write (repeatable; layout datagouv only)",
    )
    p.add_argument("-o", "--output", required=True, help="file (folder for --layout datagouv)")
    n = sub.add_parser(
        "national",
        help="every source (results x 4, census, contours, REU, roll) in one geography",
    )
    n.add_argument("--scale", type=float, default=0.01, help="share of national size (1.0 = all)")
    n.add_argument("--seed", type=int, default=1)
    n.add_argument("-o", "--output", required=True, help="folder")
    args = parser.parse_args(argv)
    if args.dataset == "national":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from benchmarks.national_sources import generate_national

        files = generate_national(Path(args.output), args.scale, seed=args.seed, progress=print)
        print(f"wrote {files.bureaux:,} bureaux in {files.communes:,} communes to {files.folder}")
        return 0
    paths = generate_results(
        Path(args.output),
        args.layout,
        bureaux=args.bureaux,
        candidates=args.candidates,
        seed=args.seed,
        fixture=args.fixture,
        elections=args.election or ("2022_pres_t1",),
        uniform=args.uniform,
    )
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
