"""The results registry: where each election's official per-bureau results are published.

Why a registry and not URLs in code or in each landing manifest: a real campaign needs the same
few national files (présidentielle 2022, législatives 2024, …); their URL, layout, encoding and
checksum are facts about the publication, written once, reviewed in a diff, and shared by the
command line (`scrutin fetch results ID`) and the landing manifest (`- registry: ID`). A new
election is a YAML entry, not code.

`config/results_registry.yml` (schema version 1):

    version: 1
    pairs:                                   # data.gouv GENERAL/CANDIDATS pairs, by key
      - key: datagouv-agregees
        page: https://www.data.gouv.fr/fr/datasets/donnees-des-elections-agregees/
        encoding: utf-8                      # the data.gouv files are UTF-8, `;`-separated
        separator: ";"
        general:   {url: https://…/general_results.csv,   sha256: null}
        candidats: {url: https://…/candidats_results.csv, sha256: null}
    elections:
      - id: 2022_pres_t1                     # the project's id (ingestion/sources/election_types)
        url: https://www.data.gouv.fr/fr/datasets/r/79b5cac4-…   # the Ministry's per-bureau file
        file_name: resultats-par-niveau-burvot-t1-france-entiere.txt  # when the URL has none
        layout: minint_2017_pres             # `scrutin results layouts`
        encoding: cp1252
        separator: ";"
        sha256: null                         # null = not pinned yet (the ledger records it)
        page: https://www.data.gouv.fr/fr/datasets/62581fdf02e05e365ea227a1/
        pair: datagouv-agregees              # also in this data.gouv pair

An entry has a `url` (one wide file), a `pair`, or both; the file is used unless the pair is
asked for (`--from pair`) or the entry has no file. Every key is checked: an unknown key (a typo
such as `sha265`) is an error, and every error names the file, the entry (with its line) and
the key.

`sha256: null` means "not pinned yet", as in the census registry: the file is accepted as
published and its sha256 is printed and recorded in `raw.batch_ledger`. Pin it once checked;
from then on a republished file with other bytes is refused until someone reviews it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ingestion.sources.election_types import check_round, parse_election_id
from ingestion.sources.elections import (
    DATAGOUV_LAYOUTS,
    LAYOUT_ELECTION_TYPES,
    LAYOUT_MININT_2024,
    LAYOUT_TITLES,
)
from ingestion.sources.results_layouts import WIDE_LAYOUTS
from scrutin.config import CONFIG_DIR

DEFAULT_RESULTS_REGISTRY = CONFIG_DIR / "results_registry.yml"
SCHEMA_VERSION = 1

ENCODINGS = ("utf-8", "cp1252")
"""The encodings the results parsers read (`latin-1` files are read as cp1252, a superset)."""
SEPARATORS = (";",)
"""Every official per-bureau layout, and data.gouv's pair, is `;`-separated."""

Source = Literal["file", "pair"]
SOURCES: tuple[Source, ...] = ("file", "pair")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ELECTION_KEYS = frozenset(
    {"id", "url", "file_name", "layout", "encoding", "separator", "sha256", "page", "pair"}
)
_PAIR_KEYS = frozenset({"key", "page", "encoding", "separator", "general", "candidats"})
_FILE_KEYS = frozenset({"url", "sha256", "file_name"})


class ResultsRegistryError(ValueError):
    """The results registry is not usable: the message names the file, the entry and the key."""


@dataclass(frozen=True)
class RemoteFile:
    """One published file: where it is, its pinned sha256 (None: not pinned yet) and the name to
    cache it under (data.gouv's stable `/datasets/r/<uuid>` links carry no file name)."""

    url: str
    sha256: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class PairSource:
    """A data.gouv GENERAL/CANDIDATS pair (one file may hold many elections)."""

    key: str
    general: RemoteFile
    candidats: RemoteFile
    page: str | None = None
    encoding: str = "utf-8"
    separator: str = ";"


@dataclass(frozen=True)
class ResultsEntry:
    """Where one election's per-bureau results come from."""

    election_id: str
    registry: Path
    line: int | None = None
    file: RemoteFile | None = None
    layout: str | None = None
    encoding: str | None = None
    separator: str = ";"
    page: str | None = None
    pair: PairSource | None = None

    @property
    def label(self) -> str:
        where = f"{self.registry}"
        if self.line is not None:
            where += f":{self.line}"
        return f"registry entry {self.election_id} ({where})"

    @property
    def sources(self) -> tuple[Source, ...]:
        """The ways this election can be fetched, preferred first."""
        out: list[Source] = []
        if self.file is not None:
            out.append("file")
        if self.pair is not None:
            out.append("pair")
        return tuple(out)

    def source(self, wanted: Source | None = None) -> Source:
        """The source to fetch: `wanted`, or the preferred one; refuses one the entry lacks."""
        if wanted is None:
            return self.sources[0]
        if wanted not in self.sources:
            raise ResultsRegistryError(
                f"{self.label}: has no {wanted} source (it has: {', '.join(self.sources)})"
            )
        return wanted


@dataclass(frozen=True)
class ResultsRegistry:
    path: Path
    entries: dict[str, ResultsEntry]
    pairs: dict[str, PairSource]

    def entry(self, election_id: str) -> ResultsEntry:
        """The entry of `election_id`, or an error listing the known ids."""
        try:
            return self.entries[election_id]
        except KeyError:
            raise ResultsRegistryError(
                f"{self.path}: no entry for election {election_id!r}; known: "
                + ", ".join(sorted(self.entries))
            ) from None


# ---------------------------------------------------------------------------- YAML with lines


def _load_yaml_with_lines(path: Path) -> Any:
    """The YAML document, each mapping carrying its line under the key `__line__`."""
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[str, Any]:
        data = {str(k): v for k, v in loader.construct_mapping(node, deep=True).items()}
        data["__line__"] = node.start_mark.line + 1
        return data

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ResultsRegistryError(f"{path}: not valid YAML: {exc}") from exc


class _Where:
    """Error messages naming the file, the entry and its line."""

    def __init__(self, path: Path, section: str, index: int, item: Any) -> None:
        self.text = f"{path}: {section}[{index}]"
        if isinstance(item, dict):
            name = item.get("id") or item.get("key")
            if name:
                self.text += f" ({name})"
            if item.get("__line__"):
                self.text += f", line {item['__line__']}"

    def error(self, key: str | None, message: str) -> ResultsRegistryError:
        return ResultsRegistryError(f"{self.text}: " + (f"key '{key}': " if key else "") + message)


def _check_keys(where: _Where, item: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in item:
        if key != "__line__" and key not in allowed:
            raise where.error(key, f"unknown key (expected: {', '.join(sorted(allowed))})")


def _url(where: _Where, value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise where.error(key, f"expected an http(s) URL, got {value!r}")
    return value


def _sha256(where: _Where, value: Any, key: str = "sha256") -> str | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        raise where.error(key, "quote the sha256: YAML read these digits as a number")
    text = str(value).lower()
    if not _SHA256.match(text):
        raise where.error(key, f"expected 64 hex digits or null (not pinned yet), got {value!r}")
    return text


def _choice(where: _Where, item: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = item.get(key)
    if value not in allowed:
        raise where.error(key, f"expected one of {', '.join(map(repr, allowed))}, got {value!r}")
    return str(value)


def _file_name(where: _Where, value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or "/" in value or value.startswith("."):
        raise where.error(key, f"expected a plain file name, got {value!r}")
    return value


def _remote(where: _Where, item: Any, key: str) -> RemoteFile:
    """A pair's `general:` / `candidats:` mapping."""
    if not isinstance(item, dict):
        raise where.error(key, "expected a mapping with 'url' and 'sha256'")
    for sub in item:
        if sub != "__line__" and sub not in _FILE_KEYS:
            raise where.error(f"{key}.{sub}", f"unknown key (expected: {', '.join(_FILE_KEYS)})")
    if "sha256" not in item:
        raise where.error(f"{key}.sha256", "missing (write null when not pinned yet)")
    return RemoteFile(
        url=_url(where, item.get("url"), f"{key}.url"),
        sha256=_sha256(where, item.get("sha256"), f"{key}.sha256"),
        file_name=_file_name(where, item.get("file_name"), f"{key}.file_name"),
    )


# ---------------------------------------------------------------------------------- entries


def _pair(path: Path, index: int, item: Any) -> PairSource:
    where = _Where(path, "pairs", index, item)
    if not isinstance(item, dict):
        raise where.error(None, "expected a mapping with key, general and candidats")
    _check_keys(where, item, _PAIR_KEYS)
    key = item.get("key")
    if not isinstance(key, str) or not key:
        raise where.error("key", "missing")
    encoding = _choice(where, item, "encoding", ("utf-8",))  # data.gouv writes UTF-8 only
    separator = _choice(where, item, "separator", SEPARATORS)
    page = _url(where, item["page"], "page") if item.get("page") else None
    return PairSource(
        key=key,
        general=_remote(where, item.get("general"), "general"),
        candidats=_remote(where, item.get("candidats"), "candidats"),
        page=page,
        encoding=encoding,
        separator=separator,
    )


def _layout_encodings(layout: str) -> tuple[str, ...]:
    """The encodings a layout's parser reads: 2024 layouts are UTF-8 only; the 2017–2022 ones
    are published in cp1252 and read in UTF-8 too (spreadsheet re-saves)."""
    if layout == LAYOUT_MININT_2024 or WIDE_LAYOUTS[layout].encoding == "utf-8":
        return ("utf-8",)
    return ENCODINGS


def _election(path: Path, index: int, item: Any, pairs: dict[str, PairSource]) -> ResultsEntry:
    where = _Where(path, "elections", index, item)
    if not isinstance(item, dict):
        raise where.error(None, "expected a mapping with id and url or pair")
    _check_keys(where, item, _ELECTION_KEYS)
    election_id = item.get("id")
    try:
        parsed = parse_election_id(str(election_id) if election_id is not None else "")
        check_round(parsed.value)
    except ValueError as exc:
        raise where.error("id", str(exc)) from None
    if not parsed.registered:
        raise where.error("id", f"election type {parsed.kind!r} is not a registered type")
    pair = None
    if item.get("pair") is not None:
        pair = pairs.get(str(item["pair"]))
        if pair is None:
            raise where.error(
                "pair", f"no pair {item['pair']!r} under 'pairs:' (known: {', '.join(pairs)})"
            )
    page = _url(where, item["page"], "page") if item.get("page") else None
    if item.get("url") is None:
        if pair is None:
            raise where.error(None, "give a 'url' (the Ministry's file), a 'pair', or both")
        stray = [k for k in ("layout", "encoding", "sha256", "file_name") if k in item]
        if stray:
            raise where.error(stray[0], "only meaningful with a 'url' (the pair has its own)")
        return ResultsEntry(parsed.value, path, item.get("__line__"), page=page, pair=pair)
    url = _url(where, item["url"], "url")
    layout = item.get("layout")
    if layout not in LAYOUT_TITLES or layout in DATAGOUV_LAYOUTS:
        wide = [name for name in LAYOUT_TITLES if name not in DATAGOUV_LAYOUTS]
        raise where.error(
            "layout",
            f"expected one of {', '.join(wide)} (data.gouv files go under 'pairs:'), "
            f"got {layout!r}",
        )
    allowed = LAYOUT_ELECTION_TYPES.get(layout, frozenset())
    if allowed and parsed.kind not in allowed:
        raise where.error(
            "layout", f"{layout} holds {'/'.join(sorted(allowed))} results, not {parsed.kind}"
        )
    encoding = _choice(where, item, "encoding", _layout_encodings(layout))
    separator = _choice(where, item, "separator", SEPARATORS)
    if "sha256" not in item:
        raise where.error("sha256", "missing (write null when not pinned yet)")
    remote = RemoteFile(
        url=url,
        sha256=_sha256(where, item.get("sha256")),
        file_name=_file_name(where, item.get("file_name"), "file_name"),
    )
    return ResultsEntry(
        election_id=parsed.value,
        registry=path,
        line=item.get("__line__"),
        file=remote,
        layout=layout,
        encoding=encoding,
        separator=separator,
        page=page,
        pair=pair,
    )


def read_results_registry(path: str | Path | None = None) -> ResultsRegistry:
    """The registry at `path` (default `config/results_registry.yml`), validated whole."""
    registry = Path(path) if path is not None else DEFAULT_RESULTS_REGISTRY
    if not registry.exists():
        raise ResultsRegistryError(f"{registry}: results registry not found")
    data = _load_yaml_with_lines(registry)
    if not isinstance(data, dict):
        raise ResultsRegistryError(f"{registry}: expected a mapping with 'elections:'")
    unknown = sorted(k for k in data if k not in ("version", "pairs", "elections", "__line__"))
    if unknown:
        raise ResultsRegistryError(
            f"{registry}: key '{unknown[0]}': unknown top-level key "
            "(expected: version, pairs, elections)"
        )
    if data.get("version") != SCHEMA_VERSION:
        raise ResultsRegistryError(
            f"{registry}: key 'version': expected {SCHEMA_VERSION}, got {data.get('version')!r}"
        )
    raw_pairs = data.get("pairs") or []
    if not isinstance(raw_pairs, list):
        raise ResultsRegistryError(f"{registry}: key 'pairs': expected a list")
    pairs: dict[str, PairSource] = {}
    for i, item in enumerate(raw_pairs, start=1):
        pair = _pair(registry, i, item)
        if pair.key in pairs:
            raise _Where(registry, "pairs", i, item).error("key", f"{pair.key!r} appears twice")
        pairs[pair.key] = pair
    items = data.get("elections")
    if not isinstance(items, list):
        raise ResultsRegistryError(f"{registry}: key 'elections': expected a list")
    entries: dict[str, ResultsEntry] = {}
    for i, item in enumerate(items, start=1):
        entry = _election(registry, i, item, pairs)
        first = entries.get(entry.election_id)
        if first is not None:
            raise _Where(registry, "elections", i, item).error(
                "id", f"{entry.election_id} already has an entry (line {first.line})"
            )
        entries[entry.election_id] = entry
    return ResultsRegistry(registry, entries, pairs)
