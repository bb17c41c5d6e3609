"""Attribute layouts of the official contour files, and the ids they normalise to.

Field names were checked against the publishers' descriptions (see docs/geography.md):

- IRIS, IGN CONTOURS-IRIS 2.x (Shapefile, up to 2023): `CODE_IRIS` (9 chars), `INSEE_COM`,
  `NOM_COM`, `IRIS` (4 chars), `NOM_IRIS`, `TYP_IRIS` (H/A/D/Z);
- IRIS, IGN CONTOURS-IRIS 3.x (GeoPackage, 2024+) and the IRIS-GE WFS layer
  `STATISTICALUNITS.IRISGE:iris_ge` (what `pynsee.geodata` returns): the same in lower case with
  `code_insee`, `nom_commune`, `type_iris`;
- IRIS, data.gouv "contour des IRIS INSEE tout en un": `DCOMIRIS`, `DEPCOM`, `NOM_IRIS`,
  `TYP_IRIS`;
- bureaux, a city layer such as Brest's `LIM_ADM_BureauxVote_s`: `DEPCO` (commune) + `BVOTE`
  (bureau number), `TITRE`;
- bureaux, data.gouv's contours (Voronoi cells around REU addresses): `codeBureauVote`
  (`01001_0001`), `id_bv` (`01001_1`, REU style), `codeCommune`, `numeroBureauVote`;
- communes: `code_insee` (IGN ADMIN EXPRESS lower case, the mapvotr sample), `INSEE_COM`,
  `codgeo`, `code`, with `nom` / `NOM_COM` / `nom_commune` as the name.

Names are matched case-insensitively; `--id-field` / `--commune-field` override the detection.
Bureau ids become the Ministry key `<commune>_<code BV>` (`29019_0076`) with the same functions
the results loader uses, so contours join results without a mapping table; a Paris/Lyon/Marseille
arrondissement prefix becomes the commune code of the results (75056, 69123, 13055).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingestion.errors import SourceFormatError
from ingestion.sources.elections import make_bureau_id, normalise_code_bv
from ingestion.sources.reu import results_commune_code
from scrutin.vocabulary import COMMUNE_CODE_REGEX, unanchored

Kind = Literal["iris", "bureau", "commune"]
KINDS: tuple[Kind, ...] = ("iris", "bureau", "commune")

CODE_COMMUNE_REGEX = re.compile(unanchored(COMMUNE_CODE_REGEX))
CODE_IRIS_REGEX = re.compile(r"(?:[0-9]{5}|2[AB][0-9]{3})[0-9A-Z]{4}")
_CODE_BV = re.compile(r"[0-9A-Za-z]{1,8}")

# Candidates in order of preference (lower-case; matched case-insensitively).
_IRIS_ID = ("code_iris", "dcomiris")
_IRIS_COMMUNE = ("insee_com", "code_insee", "depcom")
_IRIS_NAME = ("nom_iris", "libiris", "lib_iris")
_IRIS_TYPE = ("typ_iris", "type_iris")
_BUREAU_KEY = ("codebureauvote", "id_bv", "bureau_id", "id_bureau")
_BUREAU_COMMUNE = ("depco", "codecommune", "code_commune", "insee_com", "code_insee")
_BUREAU_NUMBER = ("bvote", "numerobureauvote", "code_bv", "num_bv", "numero_bureau")
_BUREAU_NAME = ("titre", "llieu", "nombureauvote", "libelle", "nom")
_COMMUNE_ID = ("code_insee", "insee_com", "codgeo", "code_commune", "insee", "code", "com")
_COMMUNE_NAME = ("nom", "nom_com", "nom_commune", "libgeo", "libelle")


@dataclass(frozen=True)
class FieldChoice:
    """Which attribute holds what; `number_field` is set when the id is commune + number."""

    kind: Kind
    id_field: str
    commune_field: str | None
    number_field: str | None = None
    name_field: str | None = None
    type_field: str | None = None

    def columns(self) -> list[str]:
        """The attributes to read (deduplicated, file spelling)."""
        names = (
            self.id_field,
            self.commune_field,
            self.number_field,
            self.name_field,
            self.type_field,
        )
        return list(dict.fromkeys(n for n in names if n))


@dataclass(frozen=True)
class FeatureKey:
    """Normalised identity of one feature."""

    id: str
    code_commune: str  # as published (IRIS: arrondissement code for PLM)
    code_commune_results: str  # commune code of the results files
    code_bv: str | None = None


def _find(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for name in candidates:
        if name in lower:
            return lower[name]
    return None


def _given(columns: Sequence[str], name: str, path: Path, option: str) -> str:
    """The file spelling of a field named on the command line, or a clear error."""
    found = _find(columns, (name.lower(),))
    if found is None:
        raise SourceFormatError(
            path,
            None,
            name,
            f"{option} {name!r} is not an attribute of the file: it has {', '.join(columns)}",
        )
    return found


def choose_fields(
    kind: Kind,
    columns: Sequence[str],
    path: str | Path,
    *,
    id_field: str | None = None,
    commune_field: str | None = None,
) -> FieldChoice:
    """Detect (or take) the id, commune, name and type attributes of a contour file."""
    path = Path(path)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    chosen_commune = (
        _given(columns, commune_field, path, "--commune-field") if commune_field else None
    )
    if kind == "iris":
        ident = (
            _given(columns, id_field, path, "--id-field") if id_field else _find(columns, _IRIS_ID)
        )
        if ident is None:
            raise _missing(
                path, kind, columns, "CODE_IRIS (IGN 2.x), code_iris (IGN 3.x) or DCOMIRIS"
            )
        return FieldChoice(
            kind,
            ident,
            chosen_commune or _find(columns, _IRIS_COMMUNE),
            name_field=_find(columns, _IRIS_NAME),
            type_field=_find(columns, _IRIS_TYPE),
        )
    if kind == "commune":
        ident = (
            _given(columns, id_field, path, "--id-field")
            if id_field
            else _find(columns, _COMMUNE_ID)
        )
        if ident is None:
            raise _missing(path, kind, columns, "code_insee, INSEE_COM or codgeo")
        return FieldChoice(kind, ident, None, name_field=_find(columns, _COMMUNE_NAME))
    return _choose_bureau_fields(columns, path, id_field, chosen_commune)


def _choose_bureau_fields(
    columns: Sequence[str], path: Path, id_field: str | None, commune_field: str | None
) -> FieldChoice:
    name = _find(columns, _BUREAU_NAME)
    commune = commune_field or _find(columns, _BUREAU_COMMUNE)
    if id_field is not None:
        ident = _given(columns, id_field, path, "--id-field")
        # A bare bureau number needs its commune; a full `<commune>_<code>` key does not.
        return FieldChoice("bureau", ident, commune, name_field=name)
    key = _find(columns, _BUREAU_KEY)
    if key is not None:
        return FieldChoice("bureau", key, commune, name_field=name)
    number = _find(columns, _BUREAU_NUMBER)
    if number is not None and commune is not None:
        return FieldChoice("bureau", number, commune, number_field=number, name_field=name)
    raise _missing(
        path,
        "bureau",
        columns,
        "codeBureauVote or id_bv (data.gouv), or a commune field (DEPCO, codeCommune) with a "
        "bureau number (BVOTE, numeroBureauVote)",
    )


def _missing(path: Path, kind: str, columns: Sequence[str], expected: str) -> SourceFormatError:
    return SourceFormatError(
        path,
        None,
        None,
        f"no {kind} id attribute found: expected {expected}, or name it with --id-field "
        f"(the file has {', '.join(columns) or 'no attribute'})",
    )


def text_value(value: object) -> str | None:
    """An attribute as text: integers stay integers even when the reader gave floats (76.0)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    text = str(value).strip()
    return text or None


def feature_key(
    fields: FieldChoice,
    values: dict[str, object],
    path: Path,
    feature_no: int,
) -> FeatureKey:
    """Normalise one feature's id; errors name the file, the feature and the attribute."""
    raw_id = text_value(values.get(fields.id_field))
    raw_commune = text_value(values.get(fields.commune_field)) if fields.commune_field else None

    def fail(column: str | None, reason: str) -> SourceFormatError:
        return SourceFormatError(path, None, column, f"feature {feature_no}: {reason}")

    if raw_id is None:
        raise fail(fields.id_field, "empty id: every feature needs one")
    if fields.kind == "iris":
        code = raw_id.upper()
        if not CODE_IRIS_REGEX.fullmatch(code):
            raise fail(fields.id_field, f"expected a 9-character IRIS code, got {raw_id!r}")
        commune = (raw_commune or code[:5]).upper()
        if commune != code[:5]:
            raise fail(
                fields.commune_field,
                f"commune {commune!r} is not the prefix of IRIS {code!r}",
            )
        return FeatureKey(code, commune, results_commune_code(commune))
    if fields.kind == "commune":
        code = raw_id.upper()
        if not CODE_COMMUNE_REGEX.fullmatch(code):
            raise fail(
                fields.id_field, f"expected a 5-character INSEE commune code, got {raw_id!r}"
            )
        return FeatureKey(code, code, results_commune_code(code))
    return _bureau_key(fields, raw_id, raw_commune, fail)


def _bureau_key(
    fields: FieldChoice,
    raw_id: str,
    raw_commune: str | None,
    fail: Callable[[str | None, str], SourceFormatError],
) -> FeatureKey:
    if "_" in raw_id and fields.number_field is None:
        commune_part, _, code_part = raw_id.partition("_")
    else:
        if raw_commune is None:
            raise fail(
                fields.commune_field,
                f"bureau {raw_id!r} has no commune: name the commune attribute with "
                "--commune-field, or use an id of the form <commune>_<code>",
            )
        commune_part, code_part = raw_commune, raw_id
    commune = commune_part.strip().upper()
    if not CODE_COMMUNE_REGEX.fullmatch(commune):
        raise fail(
            fields.commune_field or fields.id_field,
            f"expected a 5-character INSEE commune code, got {commune_part!r}",
        )
    if raw_commune is not None and fields.number_field is None and raw_commune.upper() != commune:
        raise fail(
            fields.commune_field,
            f"bureau {raw_id!r} is not in commune {raw_commune!r} of the same feature",
        )
    if not _CODE_BV.fullmatch(code_part.strip()):
        raise fail(
            fields.id_field, f"expected a bureau code of 1-8 letters or digits, got {code_part!r}"
        )
    code_bv = normalise_code_bv(code_part)
    results_code = results_commune_code(commune)
    return FeatureKey(make_bureau_id(results_code, code_bv), commune, results_code, code_bv)
