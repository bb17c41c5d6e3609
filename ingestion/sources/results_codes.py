"""Geographic codes of the Ministry results files, normalised to INSEE codes.

Until 2022 the Ministry wrote a commune as (department, 3-digit code within the department) and
the overseas departments and collectivities with two letters. The rule (documented, with its
sources, in docs/results-layouts.md):

- `01`..`95`, `2A`, `2B`: department + 3 digits (`01` + `001` -> `01001`, `2A` + `004` ->
  `2A004`);
- `ZA` `ZB` `ZC` `ZD` `ZM` (971 972 973 974 976) and `ZS` `ZW` `ZP` `ZN` (975 986 987 988):
  INSEE prefix + the last 2 digits (`ZA` + `101` -> `97101`, `ZS` + `501` -> `97501`);
- `ZX` (Saint-Barthélemy and Saint-Martin share it): `97` + 3 digits (`701` -> `97701`,
  department 977; `801` -> `97801`, department 978);
- `ZZ` (French people abroad): `ZZ` + 3 digits, department `ZZ` (no INSEE commune exists).

Why the last two digits only: the Ministry's 3-digit overseas code is not stable (Mayotte `501`
in 2014 and `601` in 2020), only its last two digits match the INSEE code.
"""

from __future__ import annotations

import re

from scrutin.vocabulary import COMMUNE_CODE_REGEX, unanchored

OVERSEAS_PREFIX: dict[str, str] = {
    "ZA": "971",  # Guadeloupe
    "ZB": "972",  # Martinique
    "ZC": "973",  # Guyane
    "ZD": "974",  # La Réunion
    "ZS": "975",  # Saint-Pierre-et-Miquelon
    "ZM": "976",  # Mayotte
    "ZW": "986",  # Wallis-et-Futuna
    "ZP": "987",  # Polynésie française
    "ZN": "988",  # Nouvelle-Calédonie
}
"""Two-letter Ministry codes whose INSEE commune code is prefix + the last two digits."""

SAINT_BARTH_SAINT_MARTIN = "ZX"
ABROAD = "ZZ"

_DEP_METRO = re.compile(r"(?:0[1-9]|[1-8][0-9]|9[0-5]|2[AB])")
_DEP_OVERSEAS_DIGITS = re.compile(r"9[78][0-9]")
# `056SR01`: Paris/Lyon/Marseille sector (municipales); `SN01`: Polynesian electoral section.
_COMMUNE_3 = re.compile(r"(?P<code>[0-9]{1,3})(?P<secteur>S[RN][0-9]{1,2})?")
_INSEE_5 = re.compile(unanchored(COMMUNE_CODE_REGEX))


class CodeError(ValueError):
    """A code that cannot be normalised; the caller adds file, line and column."""


def normalise_departement(raw: str) -> str:
    """`1` -> `01`, `2a` -> `2A`; letters and overseas digits kept as published."""
    code = raw.strip().upper()
    if code.isdigit() and len(code) == 1:
        return code.zfill(2)
    return code


def insee_departement(dep: str, code_commune: str) -> str:
    """The INSEE department of a normalised commune: `ZA` -> `971`, `ZX` -> `977`/`978`."""
    if dep in OVERSEAS_PREFIX:
        return OVERSEAS_PREFIX[dep]
    if dep == SAINT_BARTH_SAINT_MARTIN:
        return code_commune[:3]
    return dep


def commune_from_department(dep: str, raw: str) -> tuple[str, str | None]:
    """(INSEE commune code, sector or None) from a department and a 3-digit Ministry code.

    Raises CodeError naming what was expected.
    """
    match = _COMMUNE_3.fullmatch(raw.strip().upper())
    if match is None:
        raise CodeError(
            f"expected a commune code of 1-3 digits within the department "
            f"(optionally with a sector such as 056SR01), got {raw!r}"
        )
    code = match["code"].zfill(3)
    secteur = match["secteur"]
    if _DEP_METRO.fullmatch(dep):
        return dep + code, secteur
    if dep in OVERSEAS_PREFIX:
        return OVERSEAS_PREFIX[dep] + code[-2:], secteur
    if dep == SAINT_BARTH_SAINT_MARTIN:
        if code not in ("701", "801"):
            raise CodeError(
                f"department ZX holds Saint-Barthélemy (701) and Saint-Martin (801), got {raw!r}"
            )
        return "97" + code, secteur
    if dep == ABROAD:
        return ABROAD + code, secteur
    if _DEP_OVERSEAS_DIGITS.fullmatch(dep):
        # A 3-digit department (971…): its third digit leads the 3-digit commune code.
        return dep[:2] + code, secteur
    raise CodeError(
        f"unknown department {dep!r}: expected 01-95, 2A, 2B, 971-988 or a Ministry overseas "
        f"code ({', '.join([*OVERSEAS_PREFIX, SAINT_BARTH_SAINT_MARTIN, ABROAD])})"
    )


def normalise_insee_commune(raw: str) -> str:
    """A 5-character commune code as published by 2024 files and data.gouv (`ZA101` tolerated).

    Raises CodeError naming what was expected.
    """
    code = raw.strip().upper()
    if _INSEE_5.fullmatch(code):
        return code
    if len(code) == 5 and code[:2] in (*OVERSEAS_PREFIX, SAINT_BARTH_SAINT_MARTIN):
        return commune_from_department(code[:2], code[2:])[0]
    raise CodeError(
        "expected a 5-character INSEE commune code (5 digits, 2A/2B + 3 digits, or ZZ + 3 "
        f"digits for French people abroad), got {raw!r}"
    )


def normalise_code_bv(raw: str) -> str:
    """Zero-pad numeric bureau codes to 4 digits, upper-case the others.

    Official files write `0001`, spreadsheet re-saves write `1`: both must give the same
    bureau_id, or the two rounds of one election would not join.
    """
    code = raw.strip()
    if code.isascii() and code.isdigit():
        return code.zfill(4)
    return code.upper()


def make_bureau_id(code_commune: str, code_bv: str) -> str:
    """The bureau key used across sources: `<commune INSEE code>_<code BV>`."""
    return f"{code_commune}_{code_bv}"
