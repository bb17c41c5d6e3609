"""The shared vocabulary of Scrutin, defined once: k_min, canvass outcomes and topics, age bands,
political blocs, the patterns of a commune code and of a bureau id.

Why one home: the loaders validate against these lists, dbt builds one column per entry, the
quality suites check the values, and a list written twice drifts. The values live in the `vars:`
of `dbt/dbt_project.yml`, because dbt must read them natively (a bare `dbt build`, the docs site,
sqlfluff's dbt templater); Python reads the same file here, once per process. Nothing else in the
code base spells these lists out.

Base layer: imports only the standard library, PyYAML and `scrutin.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

from scrutin.config import DBT_PROJECT_DIR

DBT_PROJECT_FILE: Final = DBT_PROJECT_DIR / "dbt_project.yml"


class VocabularyError(ValueError):
    """`dbt/dbt_project.yml` lacks a vocabulary var, or holds one of the wrong shape."""


@cache
def _dbt_vars(project_file: Path = DBT_PROJECT_FILE) -> dict[str, Any]:
    import yaml

    project = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    values = project.get("vars") or {}
    if not isinstance(values, dict):
        raise VocabularyError(f"{project_file}: `vars` must be a mapping")
    return values


def names(values: Mapping[str, Any], key: str, source: Path = DBT_PROJECT_FILE) -> tuple[str, ...]:
    """The list `vars.<key>`: non-empty, names only, each once."""
    value = values.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise VocabularyError(f"{source}: vars.{key} must be a non-empty list of names")
    if len(set(value)) != len(value):
        raise VocabularyError(f"{source}: vars.{key} lists a name twice")
    return tuple(value)


def k_min(values: Mapping[str, Any], source: Path = DBT_PROJECT_FILE) -> int:
    """`vars.k_min`: a whole number of at least 1."""
    value = values.get("k_min")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise VocabularyError(f"{source}: vars.k_min must be a whole number >= 1, got {value!r}")
    return value


# Default minimum number of respondents behind any published opinion figure (GDPR art. 9). A
# campaign file may raise it (config/campaign.yml `k_min`), never below 1.
DEFAULT_K_MIN: Final[int] = k_min(_dbt_vars())

# Door-knock outcomes of the canonical event (docs/canvass.md).
OUTCOMES: Final[tuple[str, ...]] = names(_dbt_vars(), "canvass_outcomes")
CONVERSATION: Final = "opened_conversation"
DO_NOT_CONTACT: Final = "do_not_contact"

# Controlled vocabulary of conversation topics; the canvass marts have one topic_<name> column each.
TOPICS: Final[tuple[str, ...]] = names(_dbt_vars(), "canvass_topics")

# Age bands of the roll aggregates, in order; the polling_stations mart has one share column each.
AGE_BANDS: Final[tuple[str, ...]] = names(_dbt_vars(), "roll_age_bands")

# Political blocs of the nuance -> bloc seed, left to right; one votes_/share_ column each.
BLOCS: Final[tuple[str, ...]] = names(_dbt_vars(), "blocs")


def anchored_pattern(values: Mapping[str, Any], key: str, source: Path = DBT_PROJECT_FILE) -> str:
    """`vars.<key>`: a regular expression anchored at both ends (`^...$`), valid in Python."""
    import re

    value = values.get(key)
    if not isinstance(value, str) or not value.startswith("^") or not value.endswith("$"):
        raise VocabularyError(f"{source}: vars.{key} must be a pattern written ^...$")
    try:
        re.compile(value)
    except re.error as exc:
        raise VocabularyError(f"{source}: vars.{key} is not a valid pattern: {exc}") from exc
    return value


# A commune code (INSEE, Corsica 2A/2B, ZZ + 3 digits abroad) and a polling-station key
# `<commune>_<code BV>`: the loaders, the GX suites and the dbt tests accept the same codes, so
# that a national file (overseas and abroad included) passes everywhere.
COMMUNE_CODE_REGEX: Final[str] = anchored_pattern(_dbt_vars(), "commune_code_pattern")
BUREAU_ID_REGEX: Final[str] = anchored_pattern(_dbt_vars(), "bureau_id_pattern")


def unanchored(pattern: str) -> str:
    """`^(a|b)$` -> `(a|b)`: for `re.fullmatch` and for embedding in a larger pattern."""
    return pattern.removeprefix("^").removesuffix("$")


if CONVERSATION not in OUTCOMES or DO_NOT_CONTACT not in OUTCOMES:
    raise VocabularyError(
        f"{DBT_PROJECT_FILE}: vars.canvass_outcomes must include {CONVERSATION!r} and "
        f"{DO_NOT_CONTACT!r}"
    )
