"""The Ministry per-bureau "wide" layouts other than the 2024 candidate layout, as data.

A wide layout is: fixed columns (codes, labels, turnout counts and their percentages), then one
block of fields per candidate, binôme or list. Two ways of naming the blocks exist:
- `first_only` (2017–2022 files and municipales 2020): the header names the first block only;
  every data row then carries as many unnamed blocks of the same width as it has candidates
  (rows are not padded: a row's width tells its number of candidates);
- `numbered` (2024 files): every block is named, `<field> <k>`, rows are padded with empty
  blocks to the header's width.

Each layout is described here, not in code, so a new vintage whose header differs by a column is a
registry entry. Columns are matched by name; percentages (`% …`) are derived data and ignored.
Where each header comes from is written in docs/results-layouts.md and
tests/fixtures/results/README.md.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingestion.errors import SourceFormatError
from ingestion.sources.results_text import EncodingPolicy

# Roles of fixed columns.
DEP, LIB_DEP, CIRC, LIB_CIRC, CANTON, LIB_CANTON = (
    "dep",
    "lib_dep",
    "circ",
    "lib_circ",
    "canton",
    "lib_canton",
)
COMMUNE, LIB_COMMUNE, BV, SKIP = "commune", "lib_commune", "bv", "skip"
INSCRITS, VOTANTS, ABSTENTIONS = "inscrits", "votants", "abstentions"
EXPRIMES, BLANCS, NULS = "exprimes", "blancs", "nuls"
COUNT_ROLES: tuple[str, ...] = (INSCRITS, VOTANTS, ABSTENTIONS, EXPRIMES, BLANCS, NULS)

# Roles of block fields.
PANNEAU, NUANCE, SEXE, NOM, PRENOM, VOIX = "panneau", "nuance", "sexe", "nom", "prenom", "voix"
LISTE_ABREGE, LISTE, TETE, BINOME = "liste_abrege", "liste", "tete", "binome"
SIEGES, SIEGES_ELU, SIEGES_SECTEUR, SIEGES_CC, ELU = (
    "sieges",
    "sieges_elu",
    "sieges_secteur",
    "sieges_cc",
    "elu",
)

BlockNaming = Literal["first_only", "numbered"]
CommuneStyle = Literal["dep3", "insee5"]


@dataclass(frozen=True, slots=True)
class Column:
    """A header name, what it holds, whether a vintage may omit it (`optional`) and whether a
    filled block must fill it (`required`; block fields only)."""

    name: str
    role: str
    optional: bool = False
    required: bool = True


def _counts_2017() -> tuple[Column, ...]:
    return (
        Column("Inscrits", INSCRITS),
        Column("Abstentions", ABSTENTIONS),
        Column("% Abs/Ins", SKIP),
        Column("Votants", VOTANTS),
        Column("% Vot/Ins", SKIP),
        Column("Blancs", BLANCS),
        Column("% Blancs/Ins", SKIP),
        Column("% Blancs/Vot", SKIP),
        Column("Nuls", NULS),
        Column("% Nuls/Ins", SKIP),
        Column("% Nuls/Vot", SKIP),
        Column("Exprimés", EXPRIMES),
        Column("% Exp/Ins", SKIP),
        Column("% Exp/Vot", SKIP),
    )


def _counts_2024() -> tuple[Column, ...]:
    return (
        Column("Inscrits", INSCRITS),
        Column("Votants", VOTANTS),
        Column("% Votants", SKIP),
        Column("Abstentions", ABSTENTIONS),
        Column("% Abstentions", SKIP),
        Column("Exprimés", EXPRIMES),
        Column("% Exprimés/inscrits", SKIP),
        Column("% Exprimés/votants", SKIP),
        Column("Blancs", BLANCS),
        Column("% Blancs/inscrits", SKIP),
        Column("% Blancs/votants", SKIP),
        Column("Nuls", NULS),
        Column("% Nuls/inscrits", SKIP),
        Column("% Nuls/votants", SKIP),
    )


_DEP_2017 = (Column("Code du département", DEP), Column("Libellé du département", LIB_DEP))
_CIRC_2017 = (
    Column("Code de la circonscription", CIRC),
    Column("Libellé de la circonscription", LIB_CIRC),
)
_COMMUNE_2017 = (
    Column("Code de la commune", COMMUNE),
    Column("Libellé de la commune", LIB_COMMUNE),
)
_VOIX_2017 = (Column("Voix", VOIX), Column("% Voix/Ins", SKIP), Column("% Voix/Exp", SKIP))


@dataclass(frozen=True, slots=True)
class WideLayout:
    """One published wide layout."""

    name: str
    title: str
    election_types: frozenset[str]
    encoding: EncodingPolicy
    fixed: tuple[Column, ...]
    block: tuple[Column, ...]
    naming: BlockNaming
    commune_style: CommuneStyle

    @property
    def required_block_roles(self) -> tuple[str, ...]:
        return tuple(c.role for c in self.block if c.required and not c.optional and c.role != SKIP)


WIDE_LAYOUTS: dict[str, WideLayout] = {
    layout.name: layout
    for layout in (
        WideLayout(
            name="minint_2017_pres",
            title="présidentielle 2017/2022 per bureau (Ministry, latin-1)",
            election_types=frozenset({"pres"}),
            encoding="legacy",
            fixed=(
                *_DEP_2017,
                *_CIRC_2017,
                *_COMMUNE_2017,
                Column("Code du b.vote", BV),
                *_counts_2017(),
            ),
            block=(
                Column("N°Panneau", PANNEAU),
                Column("Sexe", SEXE),
                Column("Nom", NOM),
                Column("Prénom", PRENOM),
                *_VOIX_2017,
            ),
            naming="first_only",
            commune_style="dep3",
        ),
        WideLayout(
            name="minint_2017_legi",
            title="législatives 2017/2022 per bureau (Ministry, latin-1)",
            election_types=frozenset({"legi"}),
            encoding="legacy",
            fixed=(
                *_DEP_2017,
                *_CIRC_2017,
                *_COMMUNE_2017,
                Column("Code du b.vote", BV),
                *_counts_2017(),
            ),
            block=(
                Column("N°Panneau", PANNEAU),
                Column("Sexe", SEXE),
                Column("Nom", NOM),
                Column("Prénom", PRENOM),
                Column("Nuance", NUANCE),
                *_VOIX_2017,
            ),
            naming="first_only",
            commune_style="dep3",
        ),
        WideLayout(
            name="minint_2019_euro",
            title="européennes 2019 per bureau (Ministry, latin-1, list blocks)",
            election_types=frozenset({"euro"}),
            encoding="legacy",
            fixed=(*_DEP_2017, *_COMMUNE_2017, Column("Code du b.vote", BV), *_counts_2017()),
            block=(
                Column("N°Liste", PANNEAU),
                Column("Nuance Liste", NUANCE, optional=True),
                Column("Libellé Abrégé Liste", LISTE_ABREGE),
                Column("Libellé Etendu Liste", LISTE),
                Column("Nom Tête de Liste", TETE),
                *_VOIX_2017,
            ),
            naming="first_only",
            commune_style="dep3",
        ),
        WideLayout(
            name="minint_2020_muni",
            title="municipales 2020 per bureau (Ministry, latin-1, list blocks)",
            election_types=frozenset({"muni"}),
            encoding="legacy",
            fixed=(*_DEP_2017, *_COMMUNE_2017, Column("Code B.Vote", BV), *_counts_2017()),
            block=(
                Column("N.Pan.", PANNEAU),
                # Plurinominal sections (Polynesia) have no list, no nuance and no seats.
                Column("Code Nuance", NUANCE, required=False),
                Column("Sexe", SEXE),
                Column("Nom", NOM),
                Column("Prénom", PRENOM),
                Column("Liste", LISTE, required=False),
                Column("Sièges / Elu", SIEGES_ELU, required=False),
                Column("Sièges Secteur", SIEGES_SECTEUR, required=False),
                Column("Sièges CC", SIEGES_CC, required=False),
                *_VOIX_2017,
            ),
            naming="first_only",
            commune_style="dep3",
        ),
        WideLayout(
            name="minint_2021_dep",
            title="départementales 2021 per bureau (Ministry, latin-1, binôme blocks)",
            election_types=frozenset({"dep"}),
            encoding="legacy",
            fixed=(
                *_DEP_2017,
                Column("Code du canton", CANTON),
                Column("Libellé du canton", LIB_CANTON),
                *_COMMUNE_2017,
                Column("Code du b.vote", BV),
                *_counts_2017(),
            ),
            block=(
                Column("N°Panneau", PANNEAU),
                Column("Nuance", NUANCE),
                Column("Binôme", BINOME),
                Column("Sièges", SIEGES, optional=True),
                *_VOIX_2017,
            ),
            naming="first_only",
            commune_style="dep3",
        ),
        WideLayout(
            name="minint_2021_reg",
            title="régionales 2021 per bureau (Ministry, latin-1, list blocks)",
            election_types=frozenset({"reg"}),
            encoding="legacy",
            fixed=(
                Column("Code de la région", SKIP, optional=True),
                Column("Libellé de la région", SKIP, optional=True),
                *_DEP_2017,
                *_COMMUNE_2017,
                Column("Code du b.vote", BV),
                *_counts_2017(),
            ),
            block=(
                Column("N°Panneau", PANNEAU),
                Column("Nuance Liste", NUANCE),
                Column("Libellé Abrégé Liste", LISTE_ABREGE),
                Column("Libellé Etendu Liste", LISTE),
                Column("Nom Tête de Liste", TETE),
                Column("Sièges", SIEGES, optional=True),
                *_VOIX_2017,
            ),
            naming="first_only",
            commune_style="dep3",
        ),
        WideLayout(
            name="minint_2024_listes",
            title="européennes 2024 per bureau (Ministry, UTF-8, numbered list blocks)",
            election_types=frozenset({"euro", "muni", "reg"}),
            encoding="utf-8",
            fixed=(
                Column("Code localisation", SKIP, optional=True),
                Column("Libellé localisation", SKIP, optional=True),
                Column("Code département", DEP),
                Column("Libellé département", LIB_DEP),
                Column("Code commune", COMMUNE),
                Column("Libellé commune", LIB_COMMUNE),
                Column("Code BV", BV),
                *_counts_2024(),
            ),
            block=(
                Column("Numéro de panneau", PANNEAU),
                Column("Nuance liste", NUANCE),
                Column("Libellé abrégé de liste", LISTE_ABREGE),
                Column("Libellé de liste", LISTE),
                Column("Voix", VOIX),
                Column("% Voix/inscrits", SKIP),
                Column("% Voix/exprimés", SKIP),
                Column("Sièges", SIEGES, optional=True),
                Column("Elu", ELU, optional=True),
            ),
            naming="numbered",
            commune_style="insee5",
        ),
    )
}


def normalise_header_name(name: str) -> str:
    """NFC (a header re-saved on macOS may spell `é` as `e` + combining accent), no BOM."""
    return unicodedata.normalize("NFC", name.replace("\ufeff", "")).strip()


@dataclass(frozen=True, slots=True)
class HeaderMatch:
    """Where each role sits in a matched header."""

    layout: WideLayout
    fixed_roles: tuple[str, ...]  # role of each fixed header position
    fixed_names: tuple[str, ...]
    block_roles: tuple[str, ...]  # role of each field of one block
    block_names: tuple[str, ...]
    n_header_blocks: int  # numbered layouts: blocks named in the header

    @property
    def n_fixed(self) -> int:
        return len(self.fixed_roles)

    @property
    def width(self) -> int:
        return len(self.block_roles)


class LayoutMismatch(Exception):
    """A header does not match a layout: how far it matched and the error to show."""

    def __init__(self, matched: int, error: SourceFormatError) -> None:
        super().__init__(str(error))
        self.matched = matched
        self.error = error


def _walk(  # noqa: PLR0917 - private helper, called twice
    columns: Sequence[Column],
    names: Sequence[str],
    start: int,
    layout: WideLayout,
    path: Path | None,
    what: str,
    suffix: str = "",
) -> tuple[list[Column], int]:
    """Match `columns` (optional ones may be absent) against names[start:]; return the
    matched columns and the next position."""
    taken: list[Column] = []
    i = start
    for column in columns:
        expected = column.name + suffix
        if i < len(names) and names[i] == expected:
            taken.append(column)
            i += 1
            continue
        if column.optional:
            continue
        if i >= len(names):
            raise LayoutMismatch(
                i,
                SourceFormatError(
                    path,
                    1,
                    expected,
                    f"header ends after {len(names)} fields: expected column {expected!r} "
                    f"(field {i + 1}) of the {what} of layout {layout.name} ({layout.title})",
                ),
            )
        raise LayoutMismatch(
            i,
            SourceFormatError(
                path,
                1,
                names[i],
                f"unknown results layout: expected {expected!r} as field {i + 1} of the "
                f"{what} of layout {layout.name} ({layout.title})",
            ),
        )
    return taken, i


def match_header(layout: WideLayout, raw_header: Sequence[str], path: Path | None) -> HeaderMatch:
    """Match a header against one layout, or raise LayoutMismatch saying how far it matched."""
    names = [normalise_header_name(n) for n in raw_header]
    # A trailing separator gives empty trailing names: not columns.
    while names and not names[-1]:
        names.pop()
    fixed, i = _walk(layout.fixed, names, 0, layout, path, "fixed columns")
    if i >= len(names):
        raise LayoutMismatch(
            i,
            SourceFormatError(
                path,
                1,
                None,
                f"header has no candidate block: expected {layout.block[0].name!r} as field "
                f"{i + 1} (layout {layout.name})",
            ),
        )
    suffix = " 1" if layout.naming == "numbered" else ""
    block, j = _walk(layout.block, names, i, layout, path, "first candidate block", suffix)
    width = len(block)
    n_blocks = 1
    if layout.naming == "numbered":
        while j < len(names):
            k = n_blocks + 1
            for offset, column in enumerate(block):
                expected = f"{column.name} {k}"
                at = j + offset
                if at >= len(names):
                    raise LayoutMismatch(
                        at,
                        SourceFormatError(
                            path,
                            1,
                            expected,
                            f"header ends inside candidate block {k}: expected column "
                            f"{expected!r} as field {at + 1}",
                        ),
                    )
                if names[at] != expected:
                    raise LayoutMismatch(
                        at,
                        SourceFormatError(
                            path,
                            1,
                            names[at],
                            f"unknown results layout: expected {expected!r} as field {at + 1} "
                            f"(candidate blocks are numbered from 1, {width} fields each)",
                        ),
                    )
            j += width
            n_blocks = k
    elif j < len(names):
        raise LayoutMismatch(
            j,
            SourceFormatError(
                path,
                1,
                names[j],
                f"unexpected column {names[j]!r} (field {j + 1}) after the first candidate "
                f"block of layout {layout.name}: this layout names one block only "
                f"({', '.join(c.name for c in block)})",
            ),
        )
    return HeaderMatch(
        layout=layout,
        fixed_roles=tuple(c.role for c in fixed),
        fixed_names=tuple(c.name for c in fixed),
        block_roles=tuple(c.role for c in block),
        block_names=tuple(c.name for c in block),
        n_header_blocks=n_blocks,
    )
