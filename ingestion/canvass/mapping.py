"""Canvass app mappings: one YAML file per canvassing app, read and validated strictly.

Why configuration and not code: every app exports its own column names and labels, and a real
campaign's export differs from the sample's (a renamed column, a custom status, a survey label).
That must be a YAML edit a data engineer can make and review, not a Python change. The files live
in `config/canvass/` (`SCRUTIN_CANVASS_MAPPINGS` names another folder): `<app>.yml` per app, and
`_common.yml` for the vocabularies every app shares unless it declares its own. The format is
documented in docs/canvass.md.

What stays in Python, because it is logic and not a table: the value parsers (`fields.py`), the
rules every app shares (a bureau from commune + code, the opposition flag, the privacy rules of
`mappers/base.py`), and the flattening of JSON resources whose shape is a structure rather than
columns (`mappers/osdi.py`, named by `record: osdi`).

Privacy by construction (docs/privacy.md): a mapping only names *canonical fields*, a closed list
in which no field holds a name, a phone number, an e-mail or a note. A column mapped to a personal
field, to an unknown field, or a column whose name says it is personal (`Email`, `Prénom`…)
mapped to anything but `ignore`, is refused when the mapping is read. Columns a mapping does not
list are never read at all.

Every error names the file, the line and the key (`qomon.yml, line 12: columns.Statut.field:
...`): the YAML is read with a loader that keeps each node's line.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scrutin.vocabulary import OUTCOMES, TOPICS

COMMON_FILE: Final = "_common.yml"
APP_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
# The canonical answers that are not dbt vars (model.py re-exports them with the rest).
INTENTS: Final = ("certain", "likely", "unlikely", "no", "unknown")
SENTIMENTS: Final = ("positive", "neutral", "negative")
ISO8601: Final = "iso8601"
_SEPARATORS = re.compile(r"[\s\-_'’.,/]+")
DOOR_KNOCK: Final = "door_knock"

FieldKind = Literal[
    "id", "secret_id", "timestamp", "label", "topics", "boolean", "text", "bureau",
    "coordinate", "tags", "ignore",
]  # fmt: skip

# The canonical fields a column may feed, and how its cells are read. `ignore`: a known column
# whose cells are never read (names, contacts, notes, unused columns).
FIELDS: Final[Mapping[str, FieldKind]] = MappingProxyType(
    {
        "knock_id": "id",  # the app's id of the knock: stored keyed (HMAC), never as written
        "canvasser_id": "secret_id",  # keyed (HMAC) before landing
        "knocked_at": "timestamp",
        "version_at": "timestamp",  # the app's modification time of the knock
        "outcome": "label",
        "method": "label",  # rows whose method is not a door knock are quarantined
        "opposition": "boolean",  # true turns a refused / not-reached knock into do_not_contact
        "address_number": "text",  # address parts: keyed into building_key, never stored
        "street": "text",
        "commune": "text",
        "bureau": "bureau",  # a whole bureau key, 29019_0001
        "bureau_commune": "bureau",  # or the commune code and the bureau code in two columns
        "bureau_code": "bureau",
        "longitude": "coordinate",
        "latitude": "coordinate",
        "topics": "topics",
        "intends_to_vote": "label",
        "registered_here": "boolean",
        "sentiment": "label",
        "wants_to_volunteer": "boolean",
        "consent": "boolean",
        "tags": "tags",  # one cell of `<prefix>:<value>` items, spread by the `tags:` section
        "ignore": "ignore",
    }
)
# Fields a mapping must map (a knock needs them), and the fields whose column must be
# `required: true`: without them a file cannot give a knock, or would lose a privacy decision
# (consent refused, opposition, a phone call read as a door knock).
MANDATORY_FIELDS: Final = ("knock_id", "canvasser_id", "knocked_at", "outcome", "street", "commune")
MUST_BE_REQUIRED: Final = (*MANDATORY_FIELDS, "method", "opposition", "consent")
# Names of personal fields a mapping might be tempted to use: never a canonical field.
PERSONAL_FIELDS: Final = frozenset(
    {
        "first_name", "last_name", "name", "full_name", "surname", "given_name", "email",
        "e_mail", "mail", "phone", "phone_number", "telephone", "mobile", "note", "notes",
        "comment", "comments", "free_text", "text", "birth_date", "date_of_birth", "age",
        "address", "identity", "person", "canvasser_name",
    }
)  # fmt: skip
# Column names (folded by `label_key`) that hold personal data whatever a mapping says: they may
# only be mapped to `ignore`.
PERSONAL_COLUMNS: Final = frozenset(
    {
        "prenom", "prenoms", "nom", "nom de naissance", "nom d usage", "first name", "last name",
        "firstname", "lastname", "name", "full name", "user name", "sender name", "militant",
        "email", "e mail", "mail", "courriel", "telephone", "tel", "phone", "phone number",
        "mobile", "portable", "commentaire", "commentaires", "comment", "comments", "note",
        "notes", "remarque", "remarques", "observations",
    }
)  # fmt: skip
BOOLEAN_TARGETS: Final = (True, False)
TOP_LEVEL_KEYS: Final = frozenset(
    {
        "version", "app", "description", "format", "delimiter", "detect", "record", "columns",
        "vocabularies", "refused", "tags", "timestamps",
    }
)  # fmt: skip
COMMON_KEYS: Final = frozenset({"version", "vocabularies", "timestamps"})
COLUMN_KEYS: Final = frozenset({"field", "required", "verified", "note"})
DELIMITERS: Final = (";", ",", "\t", "|")
# The JSON record hooks (Python) and the flat keys each provides: `record: osdi`.
RECORD_HOOKS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "osdi": (
            "identifiers",
            "_links.osdi:canvasser",
            "action_date",
            "modified_date",
            "status_code",
            "contact_type",
            "postal_addresses.address_lines",
            "postal_addresses.locality",
            "location.longitude",
            "location.latitude",
            "custom_fields.bureau_de_vote",
            "answers.topics",
            "answers.intends_to_vote",
            "answers.registered_here",
            "answers.sentiment",
            "answers.wants_to_volunteer",
            "answers.consent",
        )
    }
)


def vocabulary_targets(name: str) -> tuple[Any, ...]:
    """The canonical values a vocabulary may map app labels to (from the dbt vars where the
    warehouse constrains them: scrutin.vocabulary)."""
    if name == "outcome":
        return OUTCOMES
    if name == "topics":
        return TOPICS
    if name == "intends_to_vote":
        return INTENTS
    if name == "sentiment":
        return SENTIMENTS
    if name == "method":
        return (DOOR_KNOCK,)
    return BOOLEAN_TARGETS  # yes_no and every boolean field


VOCABULARY_NAMES: Final = (
    "outcome",
    "method",
    "topics",
    "intends_to_vote",
    "sentiment",
    "registered_here",
    "wants_to_volunteer",
    "consent",
    "opposition",
    "yes_no",
)


class MappingError(ValueError):
    """A canvass mapping file is not valid: names the file, the line and the key.

    Not a `SourceFormatError`: the export is not at fault, so the drop zone leaves deliveries in
    place (they load once the mapping is fixed) instead of moving them to `failed/`.
    """

    def __init__(self, path: Path, line: int | None, key: str, reason: str) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.reason = reason
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"{where}: {key}: {reason}")

    def __reduce__(self) -> tuple[type[MappingError], tuple[object, ...]]:
        return (type(self), (self.path, self.line, self.key, self.reason))


# ---- YAML with line numbers -----------------------------------------------------------------


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    lines: dict[Any, int]


class LineList(list[Any]):
    """A YAML sequence that remembers the line of itself and of each item."""

    line: int = 0
    lines: list[int]


def _yaml_loader() -> type:
    import yaml

    class LineLoader(yaml.SafeLoader):
        """SafeLoader whose mappings and sequences keep their start lines; a key given twice
        is an error (plain YAML keeps the last one silently: a duplicated column would vanish)."""

    def mapping(loader: LineLoader, node: yaml.MappingNode) -> LineDict:
        loader.flatten_mapping(node)
        result = LineDict()
        result.line = node.start_mark.line + 1
        result.lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in result:
                raise _DuplicateKey(key, line, result.lines[key])
            result[key] = loader.construct_object(value_node, deep=True)
            result.lines[key] = line
        return result

    def sequence(loader: LineLoader, node: yaml.SequenceNode) -> LineList:
        result = LineList(loader.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.lines = [child.start_mark.line + 1 for child in node.value]
        return result

    tag = yaml.resolver.BaseResolver
    LineLoader.add_constructor(tag.DEFAULT_MAPPING_TAG, mapping)
    LineLoader.add_constructor(tag.DEFAULT_SEQUENCE_TAG, sequence)
    return LineLoader


class _DuplicateKey(Exception):
    def __init__(self, key: object, line: int, first: int) -> None:
        self.key, self.line, self.first = key, line, first


def read_yaml(path: Path) -> Any:
    """The document at `path`, mappings as `LineDict`, sequences as `LineList`."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(path, None, "(file)", f"cannot read the mapping: {exc}") from None
    try:
        return yaml.load(text, Loader=_yaml_loader())
    except _DuplicateKey as dup:
        raise MappingError(
            path, dup.line, str(dup.key), f"given twice (first on line {dup.first})"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "syntax error"
        line = mark.line + 1 if mark is not None else None
        raise MappingError(path, line, "(yaml)", f"not valid YAML ({problem})") from None


# ---- the validated mapping --------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One export column: the canonical field it feeds, and what the mapping says of it."""

    name: str
    field: str
    required: bool
    verified: bool
    line: int
    note: str = ""


@dataclass(frozen=True)
class Refusal:
    """App labels of a field that are not a usable answer: the row is quarantined with `reason`."""

    labels: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Timestamps:
    """How the app writes times: formats tried in order; a time without an offset is local time
    in `naive_timezone`."""

    formats: tuple[str, ...]
    naive_timezone: str


@dataclass(frozen=True, eq=False)
class AppMapping:
    """One app's export layout, validated (`load_app_mapping`)."""

    app: str
    path: Path
    description: str
    format: Literal["csv", "json"]
    delimiter: str
    detect: tuple[str, ...]
    record: str | None
    columns: tuple[Column, ...]
    # {vocabulary name: {app label as written: canonical value}}, the app's own merged over
    # _common.yml's.
    vocabularies: Mapping[str, Mapping[str, Any]]
    refused: Mapping[str, tuple[Refusal, ...]]
    tags: Mapping[str, str]
    # {vocabulary name: the app labels checked against a real export or the app's documentation}
    verified_labels: Mapping[str, frozenset[str]]
    timestamps: Timestamps
    by_field: Mapping[str, Column] = field(default_factory=dict)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def ignored_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.field == "ignore")

    def column_of(self, field_name: str) -> str | None:
        column = self.by_field.get(field_name)
        return column.name if column is not None else None


@dataclass(frozen=True)
class Common:
    """`_common.yml`: vocabularies and timestamp formats shared by every app that declares none."""

    vocabularies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    timestamps: Timestamps | None = None


class _Checker:
    """Validation helpers bound to one file: every error names it, the line and the key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: Any, key: str, reason: str, item: Any = None) -> MappingError:
        line = None
        if isinstance(where, LineDict):
            line = where.lines.get(item, where.line) if item is not None else where.line
        elif isinstance(where, LineList):
            line = where.lines[item] if isinstance(item, int) else where.line
        elif isinstance(where, int):
            line = where
        return MappingError(self.path, line, key, reason)

    def mapping(self, parent: LineDict, name: str, key: str, *, needed: bool = True) -> LineDict:
        value = parent.get(name)
        if value is None and not needed:
            empty = LineDict()
            empty.line, empty.lines = parent.lines.get(name, parent.line), {}
            return empty
        if not isinstance(value, LineDict):
            what = "missing" if name not in parent else "expected a mapping"
            raise self.fail(parent, key, what, name if name in parent else None)
        return value

    def names(self, parent: LineDict, name: str, key: str) -> tuple[str, ...]:
        value = parent.get(name)
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, LineList) or not value:
            raise self.fail(parent, key, "expected a non-empty list of names", name)
        for i, item in enumerate(value):
            if not isinstance(item, (str, int)) or isinstance(item, bool) or not str(item).strip():
                raise self.fail(value, f"{key}[{i}]", "expected a name", i)
        return tuple(str(item).strip() for item in value)

    def unknown_keys(self, data: LineDict, allowed: frozenset[str], key: str) -> None:
        for name in data:
            if name not in allowed:
                raise self.fail(
                    data,
                    f"{key}{name}" if key else str(name),
                    f"unknown key; expected one of: {', '.join(sorted(allowed))}",
                    name,
                )


@functools.lru_cache(maxsize=4096)
def label_key(value: str) -> str:
    """A label folded for vocabulary lookups: `Ouvert - Refus` and `ouvert_refus` agree (case,
    accents, spaces, `-`, `_`, apostrophes, dots and commas do not count)."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


def _vocabularies(
    check: _Checker, data: LineDict, section: str
) -> tuple[dict[str, dict[str, Any]], dict[str, frozenset[str]]]:
    """`vocabularies:` -> ({name: {app label: canonical}}, {name: verified labels}).

    A canonical value lists its app labels, either as a list (assumed) or as
    `{verified: [...], assumed: [...]}`; targets are checked, and a label maps to one value."""
    result: dict[str, dict[str, Any]] = {}
    verified: dict[str, frozenset[str]] = {}
    for name, targets in data.items():
        key = f"{section}.{name}"
        if name not in VOCABULARY_NAMES:
            raise check.fail(
                data, key, f"unknown vocabulary; expected one of: {', '.join(VOCABULARY_NAMES)}",
                name,
            )  # fmt: skip
        if not isinstance(targets, LineDict) or not targets:
            raise check.fail(data, key, "expected a mapping of canonical value -> labels", name)
        allowed = vocabulary_targets(name)
        labels: dict[str, Any] = {}
        checked: set[str] = set()
        seen: dict[str, int] = {}
        for target, values in targets.items():
            canonical = _boolean_target(target) if allowed == BOOLEAN_TARGETS else target
            if canonical not in allowed:
                shown = "true, false" if allowed == BOOLEAN_TARGETS else ", ".join(allowed)
                raise check.fail(
                    targets, f"{key}.{target}",
                    f"unknown canonical value; expected one of: {shown}", target,
                )  # fmt: skip
            groups: list[tuple[LineDict, str, str, bool]] = []
            if isinstance(values, LineDict):
                check.unknown_keys(values, frozenset({"verified", "assumed"}), f"{key}.{target}.")
                if not values:
                    raise check.fail(values, f"{key}.{target}", "expected verified/assumed labels")
                groups = [(values, g, f"{key}.{target}.{g}", g == "verified") for g in values]
            else:
                groups = [(targets, target, f"{key}.{target}", False)]
            for parent, item, where, is_verified in groups:
                listed = parent[item]
                for i, label in enumerate(check.names(parent, item, where)):
                    folded = label_key(label)
                    line = listed.lines[i] if isinstance(listed, LineList) else parent.lines[item]
                    if folded in seen:
                        raise check.fail(
                            line, where,
                            f"label {label!r} is already listed (line {seen[folded]}): an app "
                            "label maps to one canonical value",
                        )  # fmt: skip
                    seen[folded] = line
                    labels[label] = canonical
                    if is_verified:
                        checked.add(label)
        result[str(name)] = labels
        verified[str(name)] = frozenset(checked)
    return result, verified


def _boolean_target(target: Any) -> Any:
    if isinstance(target, bool):
        return target
    text = str(target).strip().lower()
    return {"true": True, "false": False, "yes": True, "no": False}.get(text, target)


def _timestamps(check: _Checker, data: LineDict, key: str) -> Timestamps:
    check.unknown_keys(data, frozenset({"formats", "naive_timezone"}), f"{key}.")
    formats = check.names(data, "formats", f"{key}.formats")
    raw = data.get("formats")
    for i, fmt in enumerate(formats):
        if fmt == ISO8601:
            continue
        sample = dt.datetime(2026, 10, 14, 18, 32, 5)
        try:
            ok = "%" in fmt and dt.datetime.strptime(sample.strftime(fmt), fmt) is not None
        except ValueError:
            ok = False
        if not ok:
            raise check.fail(
                raw if isinstance(raw, LineList) else data,
                f"{key}.formats[{i}]",
                f"expected {ISO8601!r} or a strptime format such as '%d/%m/%Y %H:%M'",
                i if isinstance(raw, LineList) else "formats",
            )
    zone = data.get("naive_timezone")
    if not isinstance(zone, str):
        raise check.fail(data, f"{key}.naive_timezone", "expected a time zone name")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise check.fail(
            data, f"{key}.naive_timezone", "unknown time zone (e.g. Europe/Paris)", "naive_timezone"
        ) from None
    return Timestamps(formats, zone)


def read_common(path: Path) -> Common:
    """`_common.yml` (absent: nothing shared)."""
    if not path.exists():
        return Common()
    check = _Checker(path)
    data = read_yaml(path)
    if not isinstance(data, LineDict):
        raise check.fail(1, "(top level)", "expected a mapping")
    check.unknown_keys(data, COMMON_KEYS, "")
    _version(check, data)
    vocabularies, _verified = _vocabularies(
        check, check.mapping(data, "vocabularies", "vocabularies", needed=False), "vocabularies"
    )
    timestamps = (
        _timestamps(check, check.mapping(data, "timestamps", "timestamps"), "timestamps")
        if "timestamps" in data
        else None
    )
    return Common(MappingProxyType(vocabularies), timestamps)


def _version(check: _Checker, data: LineDict) -> None:
    if data.get("version", 1) != 1:
        raise check.fail(data, "version", "only version 1 is known", "version")


def read_app_mapping(path: Path, common: Common | None = None) -> AppMapping:  # noqa: PLR0912, PLR0915 -- one branch per documented key
    """Read and validate `<app>.yml`; see the module docstring and docs/canvass.md."""
    check = _Checker(path)
    common = common or Common()
    data = read_yaml(path)
    if not isinstance(data, LineDict):
        raise check.fail(1, "(top level)", "expected a mapping with app, format, columns")
    check.unknown_keys(data, TOP_LEVEL_KEYS, "")
    _version(check, data)
    for needed in ("app", "format", "columns", "detect"):
        if needed not in data:
            raise check.fail(data, needed, "missing (a required key)")
    app = data["app"]
    if not isinstance(app, str) or not APP_NAME.fullmatch(app):
        raise check.fail(data, "app", "expected a lower-case name (a-z, 0-9, _)", "app")
    if app != path.stem:
        raise check.fail(data, "app", f"must equal the file name ({path.stem})", "app")
    fmt = data["format"]
    if fmt not in ("csv", "json"):
        raise check.fail(data, "format", "expected csv or json", "format")
    delimiter = data.get("delimiter")
    if fmt == "csv" and delimiter not in DELIMITERS:
        shown = ", ".join(repr(d) for d in DELIMITERS)
        raise check.fail(data, "delimiter", f"a CSV mapping needs one of {shown}", "delimiter")
    if fmt == "json" and "delimiter" in data:
        raise check.fail(data, "delimiter", "only for format csv", "delimiter")
    record = data.get("record")
    if record is not None and (fmt != "json" or record not in RECORD_HOOKS):
        raise check.fail(
            data, "record",
            f"a JSON record hook, one of: {', '.join(RECORD_HOOKS)} (format json only)", "record",
        )  # fmt: skip
    description = data.get("description", "")
    if not isinstance(description, str):
        raise check.fail(data, "description", "expected a sentence", "description")

    # columns
    raw_columns = check.mapping(data, "columns", "columns")
    if not raw_columns:
        raise check.fail(data, "columns", "expected at least one column", "columns")
    columns: list[Column] = []
    by_field: dict[str, Column] = {}
    seen_names: dict[str, int] = {}
    for name, spec in raw_columns.items():
        key = f"columns.{name}"
        line = raw_columns.lines[name]
        if not isinstance(name, str) or not name.strip():
            raise check.fail(line, key, "expected a column name")
        stripped = name.strip()
        if stripped in seen_names:
            raise check.fail(line, key, f"column listed twice (line {seen_names[stripped]})")
        seen_names[stripped] = line
        if not isinstance(spec, LineDict):
            raise check.fail(line, key, "expected {field: ..., required: ..., verified: ...}")
        check.unknown_keys(spec, COLUMN_KEYS, f"{key}.")
        for needed in ("field", "required", "verified"):
            if needed not in spec:
                raise check.fail(spec, f"{key}.{needed}", "missing (a required key)")
        target = spec["field"]
        if target in PERSONAL_FIELDS:
            raise check.fail(
                spec, f"{key}.field",
                f"{target!r} is personal data: it is never stored; map the column to `ignore`",
                "field",
            )  # fmt: skip
        if target not in FIELDS:
            raise check.fail(
                spec, f"{key}.field",
                f"unknown canonical field {target!r}; expected one of: {', '.join(FIELDS)}",
                "field",
            )  # fmt: skip
        for flag in ("required", "verified"):
            if not isinstance(spec[flag], bool):
                raise check.fail(spec, f"{key}.{flag}", "expected true or false", flag)
        if target != "ignore" and label_key(stripped) in PERSONAL_COLUMNS:
            raise check.fail(
                spec, f"{key}.field",
                "this column holds personal data (a name, a contact or a note): it may only be "
                "mapped to `ignore`",
                "field",
            )  # fmt: skip
        if target == "ignore" and spec["required"]:
            raise check.fail(
                spec, f"{key}.required",
                "an ignored column is never required (an export without it must load)",
                "required",
            )  # fmt: skip
        if target in MUST_BE_REQUIRED and not spec["required"]:
            raise check.fail(
                spec, f"{key}.required",
                f"a column mapped to {target} must be required: true (without it a file cannot "
                "give a knock, or would lose a privacy decision)",
                "required",
            )  # fmt: skip
        if target != "ignore" and target in by_field:
            raise check.fail(
                spec, f"{key}.field",
                f"{target} is already fed by column {by_field[target].name!r} (line "
                f"{by_field[target].line})",
                "field",
            )  # fmt: skip
        if record is not None and stripped not in RECORD_HOOKS[record]:
            raise check.fail(
                line, key,
                f"not a key of the {record} record hook; expected one of: "
                f"{', '.join(RECORD_HOOKS[record])}",
            )  # fmt: skip
        note = spec.get("note", "")
        column = Column(stripped, target, spec["required"], spec["verified"], line, str(note))
        columns.append(column)
        if target != "ignore":
            by_field[target] = column
    for needed in MANDATORY_FIELDS:
        if needed not in by_field:
            raise check.fail(data, "columns", f"no column is mapped to {needed}", "columns")
    for one, other in (("longitude", "latitude"), ("bureau_commune", "bureau_code")):
        if (one in by_field) != (other in by_field):
            present = one if one in by_field else other
            raise check.fail(
                by_field[present].line, f"columns.{by_field[present].name}",
                f"{one} and {other} are mapped together",
            )  # fmt: skip
    if "bureau" in by_field and "bureau_code" in by_field:
        raise check.fail(
            by_field["bureau_code"].line, f"columns.{by_field['bureau_code'].name}",
            "map either bureau (a whole key) or bureau_commune + bureau_code",
        )  # fmt: skip

    # detect
    detect = check.names(data, "detect", "detect")
    raw_detect = data["detect"]
    for i, name in enumerate(detect):
        if fmt == "csv" and name not in seen_names:
            raise check.fail(
                raw_detect if isinstance(raw_detect, LineList) else data, f"detect[{i}]",
                "a detection column must be one of the listed columns",
                i if isinstance(raw_detect, LineList) else "detect",
            )  # fmt: skip
    if fmt == "json" and len(detect) < 2:
        raise check.fail(data, "detect", "a JSON app is recognised by at least two keys", "detect")

    # tags
    tags: dict[str, str] = {}
    raw_tags = check.mapping(data, "tags", "tags", needed=False)
    if raw_tags and "tags" not in by_field:
        raise check.fail(data, "tags", "no column is mapped to tags", "tags")
    if "tags" in by_field and not raw_tags:
        raise check.fail(
            by_field["tags"].line, f"columns.{by_field['tags'].name}",
            "a tags column needs a `tags:` section (prefix -> field)",
        )  # fmt: skip
    for prefix, target in raw_tags.items():
        if FIELDS.get(target) not in ("label", "topics") or target in ("outcome", "method"):
            raise check.fail(
                raw_tags, f"tags.{prefix}",
                "expected topics, intends_to_vote or sentiment", prefix,
            )  # fmt: skip
        if target in by_field:
            raise check.fail(
                raw_tags, f"tags.{prefix}", f"{target} is already fed by a column", prefix
            )
        tags[label_key(str(prefix))] = target

    # vocabularies: the app's own, else _common.yml's
    own, verified_labels = _vocabularies(
        check, check.mapping(data, "vocabularies", "vocabularies", needed=False), "vocabularies"
    )
    fed = set(by_field) | set(tags.values())
    raw_vocab = data.get("vocabularies")
    for name in own:
        if name != "yes_no" and name not in fed:
            raise check.fail(
                raw_vocab, f"vocabularies.{name}", f"no column is mapped to {name}", name
            )
    vocabularies = {**common.vocabularies, **own}
    for target in sorted(fed):
        kind = FIELDS[target]
        if kind in ("label", "topics") and target not in vocabularies:
            raise check.fail(
                by_field[target].line if target in by_field else raw_tags.line,
                f"vocabularies.{target}",
                f"{target} is mapped but has no vocabulary (here or in {COMMON_FILE})",
            )  # fmt: skip
        if kind == "boolean" and target not in vocabularies and "yes_no" not in vocabularies:
            raise check.fail(
                by_field[target].line, f"vocabularies.{target}",
                f"a yes/no field needs vocabularies.{target} or vocabularies.yes_no",
            )  # fmt: skip

    # refused labels
    refused: dict[str, tuple[Refusal, ...]] = {}
    raw_refused = check.mapping(data, "refused", "refused", needed=False)
    for target, items in raw_refused.items():
        key = f"refused.{target}"
        if FIELDS.get(target) != "label" or target not in by_field:
            raise check.fail(raw_refused, key, "expected a mapped label field", target)
        if not isinstance(items, LineList) or not items:
            raise check.fail(raw_refused, key, "expected a list of {labels, reason}", target)
        refusals = []
        for i, item in enumerate(items):
            if not isinstance(item, LineDict):
                raise check.fail(items, f"{key}[{i}]", "expected {labels: [...], reason: ...}", i)
            check.unknown_keys(item, frozenset({"labels", "reason"}), f"{key}[{i}].")
            labels = check.names(item, "labels", f"{key}[{i}].labels")
            reason = item.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                raise check.fail(item, f"{key}[{i}].reason", "expected a sentence", "reason")
            known = {label_key(v) for v in vocabularies.get(target, {})}
            if any(label_key(label) in known for label in labels):
                raise check.fail(
                    item, f"{key}[{i}].labels", f"a label also in vocabularies.{target}", "labels"
                )
            refusals.append(Refusal(labels, reason.strip()))
        refused[str(target)] = tuple(refusals)

    raw_times = data.get("timestamps")
    if raw_times is not None:
        timestamps = _timestamps(
            check, check.mapping(data, "timestamps", "timestamps"), "timestamps"
        )
    elif common.timestamps is not None:
        timestamps = common.timestamps
    else:
        raise check.fail(data, "timestamps", f"missing (here or in {COMMON_FILE})")

    return AppMapping(
        app=app,
        path=path,
        description=description,
        format=fmt,
        delimiter=str(delimiter) if fmt == "csv" else ",",
        detect=detect,
        record=record,
        columns=tuple(columns),
        vocabularies=MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in vocabularies.items()}
        ),
        refused=MappingProxyType(refused),
        tags=MappingProxyType(tags),
        verified_labels=MappingProxyType(verified_labels),
        timestamps=timestamps,
        by_field=MappingProxyType(by_field),
    )


# ---- the folder -----------------------------------------------------------------------------


def mappings_dir() -> Path:
    from scrutin.config import canvass_mappings_dir

    return canvass_mappings_dir()


def app_files(directory: Path | None = None) -> list[Path]:
    """`<app>.yml` files of the folder, by name (`_*.yml` are shared, not apps)."""
    folder = directory or mappings_dir()
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and not p.name.startswith("_")
    )


def app_names(directory: Path | None = None) -> tuple[str, ...]:
    """The apps a folder maps, from the file names alone (nothing parsed: cheap, never fails)."""
    return tuple(p.stem for p in app_files(directory))


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for path in [*app_files(folder), folder / COMMON_FILE]:
        try:
            stat = path.stat()
        except OSError:
            continue
        entries.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(entries)


def load_mappings(directory: Path | None = None) -> dict[str, AppMapping]:
    """Every app mapping of the folder, validated; re-read when a file changes (cached)."""
    folder = (directory or mappings_dir()).resolve()
    return _load(folder, _signature(folder))


@functools.lru_cache(maxsize=8)
def _load(folder: Path, signature: Sequence[tuple[str, int, int]]) -> dict[str, AppMapping]:
    if not folder.is_dir():
        raise MappingError(
            folder, None, "(folder)", "no canvass mappings folder (SCRUTIN_CANVASS_MAPPINGS)"
        )
    common = read_common(folder / COMMON_FILE)
    mappings = {path.stem: read_app_mapping(path, common) for path in app_files(folder)}
    if not mappings:
        raise MappingError(folder, None, "(folder)", "no <app>.yml canvass mapping in it")
    return mappings
