"""The results registry (config/results_registry.yml): the project's entries, and validation errors
that name the file, the entry (with its line) and the key; the manifest's registry and pair
entries; the downloader's cache name and checksum error."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import responses

from ingestion.download import ChecksumMismatch, fetch
from ingestion.manifest import ManifestError, entry_from_dict, read_elections_manifest
from ingestion.sources.election_types import parse_election_id
from ingestion.sources.elections import LAYOUT_ELECTION_TYPES
from ingestion.sources.results_registry import (
    DEFAULT_RESULTS_REGISTRY,
    ResultsRegistryError,
    read_results_registry,
)

ROOT = Path(__file__).resolve().parents[2]
DATAGOUV = ROOT / "tests" / "fixtures" / "results" / "datagouv"

# Every national election 2017-2024 whose results exist per bureau.
EXPECTED_IDS = {
    "2017_pres_t1",
    "2017_pres_t2",
    "2017_legi_t1",
    "2017_legi_t2",
    "2019_euro_t1",
    "2020_muni_t1",
    "2020_muni_t2",
    "2021_dep_t1",
    "2021_dep_t2",
    "2021_reg_t1",
    "2021_reg_t2",
    "2022_pres_t1",
    "2022_pres_t2",
    "2022_legi_t1",
    "2022_legi_t2",
    "2024_euro_t1",
    "2024_legi_t1",
    "2024_legi_t2",
}

PAIR = """\
pairs:
  - key: agg
    encoding: utf-8
    separator: ";"
    general: {url: https://example.org/general_results.csv, sha256: null}
    candidats: {url: https://example.org/candidats_results.csv, sha256: null}
"""
GOOD = """\
  - id: 2022_pres_t1
    url: https://example.org/burvot-t1.txt
    layout: minint_2017_pres
    encoding: cp1252
    separator: ";"
    sha256: null
    pair: agg
"""


def _write(tmp_path: Path, elections: str, *, head: str = "version: 1\n" + PAIR) -> Path:
    path = tmp_path / "results_registry.yml"
    path.write_text(head + "elections:\n" + elections, encoding="utf-8")
    return path


def test_project_registry_lists_every_election_with_a_consistent_layout() -> None:
    registry = read_results_registry(DEFAULT_RESULTS_REGISTRY)
    assert set(registry.entries) == EXPECTED_IDS
    for entry in registry.entries.values():
        assert entry.pair is not None, entry.election_id  # the data.gouv pair holds them all
        if entry.file is None:
            continue
        assert entry.file.url.startswith("https://"), entry.election_id
        kind = parse_election_id(entry.election_id).kind
        assert entry.layout is not None and kind in LAYOUT_ELECTION_TYPES[entry.layout]
        # data.gouv's /datasets/r/<uuid> links carry no file name: the registry gives one.
        if "/datasets/r/" in entry.file.url:
            assert entry.file.file_name, entry.election_id
    assert registry.entry("2024_legi_t1").encoding == "utf-8"
    assert registry.entry("2022_pres_t1").encoding == "cp1252"
    assert registry.entry("2021_reg_t1").sources == ("pair",)
    assert registry.entry("2022_pres_t1").sources == ("file", "pair")


def test_a_valid_registry_reads_with_entry_lines(tmp_path: Path) -> None:
    registry = read_results_registry(_write(tmp_path, GOOD))
    entry = registry.entry("2022_pres_t1")
    assert entry.line == 9 and entry.source() == "file" and entry.source("pair") == "pair"
    assert entry.pair is not None and entry.pair.general.url.endswith("general_results.csv")
    assert f"{tmp_path / 'results_registry.yml'}:9" in entry.label


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("sha256: null", "sha265: null"), r"key 'sha265': unknown key"),
        (("sha256: null", "sha256: abc"), r"key 'sha256': expected 64 hex digits"),
        (("sha256: null", "sha256: " + "1" * 64), r"key 'sha256': quote the sha256"),
        (("    sha256: null\n", ""), r"key 'sha256': missing \(write null"),
        (("minint_2017_pres", "minint_2017_legi"), r"key 'layout': .*legi results, not pres"),
        (("minint_2017_pres", "datagouv_general"), r"key 'layout': .*go under 'pairs:'"),
        (("minint_2017_pres", "minint_2024"), r"key 'encoding': expected one of 'utf-8'"),
        (("cp1252", "latin-9"), r"key 'encoding'"),
        (('separator: ";"', 'separator: ","'), r"key 'separator'"),
        (("pair: agg", "pair: nope"), r"key 'pair': no pair 'nope'"),
        (("2022_pres_t1", "2022_pres_t3"), r"key 'id': election_id .* is not valid"),
        (("2022_pres_t1", "2022_sena_t1"), r"key 'id': election type 'sena'"),
        (("https://example.org/burvot-t1.txt", "ftp://x/y.txt"), r"key 'url': expected an http"),
    ],
)
def test_errors_name_the_file_the_entry_its_line_and_the_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = _write(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(ResultsRegistryError, match=message) as caught:
        read_results_registry(path)
    assert str(caught.value).startswith(f"{path}: elections[1]")
    assert "line 9" in str(caught.value)


def test_european_elections_have_one_round(tmp_path: Path) -> None:
    bad = GOOD.replace("2022_pres_t1", "2024_euro_t2").replace("minint_2017_pres", "minint_2024")
    with pytest.raises(ResultsRegistryError, match=r"key 'id': .*1 round"):
        read_results_registry(_write(tmp_path, bad))


@pytest.mark.parametrize(
    ("elections", "head", "message"),
    [
        ("  - id: 2022_pres_t1\n", None, r"elections\[1\] \(2022_pres_t1\), line 9: give a 'url'"),
        (
            "  - id: 2021_reg_t1\n    pair: agg\n    layout: minint_2021_reg\n",
            None,
            r"key 'layout': only meaningful with a 'url'",
        ),
        (GOOD + GOOD, None, r"elections\[2\].*key 'id': 2022_pres_t1 already has an entry"),
        (GOOD, PAIR, r"key 'version': expected 1"),
        (GOOD, "version: 1\nfiles: []\n" + PAIR, r"key 'files': unknown top-level key"),
        (
            GOOD,
            "version: 1\n" + PAIR.replace("encoding: utf-8", "encoding: cp1252"),
            r"pairs\[1\] \(agg\), line 3: key 'encoding'",
        ),
        (
            GOOD,
            "version: 1\n" + PAIR.replace("candidats: {url", "candidates: {url"),
            r"pairs\[1\].*key 'candidates': unknown key",
        ),
        (
            GOOD,
            "version: 1\n" + PAIR.replace("general_results.csv, sha256: null", "x.csv"),
            r"key 'general.sha256': missing",
        ),
        (GOOD, "version: 1\npairs: [\n", r"not valid YAML"),
    ],
)
def test_structural_errors_are_named(
    tmp_path: Path, elections: str, head: str | None, message: str
) -> None:
    kwargs = {} if head is None else {"head": head}
    with pytest.raises(ResultsRegistryError, match=message):
        read_results_registry(_write(tmp_path, elections, **kwargs))


def test_unknown_election_and_missing_source_are_named(tmp_path: Path) -> None:
    registry = read_results_registry(_write(tmp_path, GOOD))
    with pytest.raises(ResultsRegistryError, match=r"no entry for election '2017_pres_t1'"):
        registry.entry("2017_pres_t1")
    only_pair = read_results_registry(_write(tmp_path, "  - id: 2021_reg_t1\n    pair: agg\n"))
    with pytest.raises(ResultsRegistryError, match=r"2021_reg_t1 .*has no file source"):
        only_pair.entry("2021_reg_t1").source("file")
    with pytest.raises(ResultsRegistryError, match="results registry not found"):
        read_results_registry(tmp_path / "nowhere.yml")


# ------------------------------------------------------------------------- landing manifest


def _manifest(folder: Path, text: str) -> None:
    (folder / "manifest.yml").write_text(text, encoding="utf-8")


def test_manifest_accepts_registry_ids_and_pairs(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    for name in ("general_results.csv", "candidats_results.csv"):
        shutil.copyfile(DATAGOUV / name, tmp_path / name)
    _manifest(
        tmp_path,
        "registry: results_registry.yml\n"
        "files:\n"
        "  - registry: 2022_pres_t1\n"
        "  - registry: 2022_pres_t1\n    from: pair\n"
        f"  - general: {tmp_path / 'general_results.csv'}\n"  # absolute, inside the folder
        "    candidats: candidats_results.csv\n"
        "    only: [2022_pres_t1]\n",
    )
    by_file, by_pair, pair = read_elections_manifest(tmp_path)
    assert (by_file.registry_id, by_file.source) == ("2022_pres_t1", None)
    assert by_file.registry_path == (tmp_path / "results_registry.yml").resolve()
    assert by_pair.source == "pair"
    assert pair.general == (tmp_path / "general_results.csv").resolve()
    assert pair.only == ("2022_pres_t1",)
    for entry in (by_file, by_pair, pair):
        assert entry_from_dict(entry.as_dict()) == entry  # through Airflow's XCom and back


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  - registry: 2017_pres_t1\n", r"entry 1: key 'registry': .*no entry for election"),
        ("  - registry: 2022_pres_t1\n    from: web\n", r"key 'from': expected file or pair"),
        ("  - registry: 2022_pres_t1\n    election_id: x\n", r"key 'election_id' does not belong"),
        ("  - general: general_results.csv\n", r"needs both 'general' and 'candidats'"),
        (
            "  - general: nowhere.csv\n    candidats: c.csv\n",
            r"key 'general': file .*nowhere.csv does not exist",
        ),
        (
            f"  - general: {DATAGOUV / 'general_results.csv'}\n"
            f"    candidats: {DATAGOUV / 'candidats_results.csv'}\n    only: [2022]\n",
            r"key 'only': election_id '2022' is not valid",
        ),
        ("  - registry: 2022_pres_t1\n    path: a.csv\n", r"give exactly one of"),
    ],
)
def test_manifest_registry_and_pair_errors_name_the_entry(
    tmp_path: Path, entry: str, message: str
) -> None:
    _write(tmp_path, GOOD)
    _manifest(tmp_path, "registry: results_registry.yml\nfiles:\n" + entry)
    with pytest.raises(ManifestError, match=message):
        read_elections_manifest(tmp_path)


def test_manifest_pair_without_registry_pair_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace("    pair: agg\n", ""))
    _manifest(
        tmp_path,
        "registry: results_registry.yml\nfiles:\n  - registry: 2022_pres_t1\n    from: pair\n",
    )
    with pytest.raises(ManifestError, match=r"has no pair source"):
        read_elections_manifest(tmp_path)


# ------------------------------------------------------------------------------ downloader

URL = "https://www.data.gouv.fr/fr/datasets/r/79b5cac4-4957-486b-bbda-322d80868224"


@responses.activate
def test_fetch_caches_under_the_given_name(tmp_path: Path) -> None:
    responses.get(URL, body=b"Code du d\xe9partement;...\r\n")
    got = fetch(URL, folder=tmp_path, name="resultats-burvot-t1.txt")
    assert got.path.name == "resultats-burvot-t1.txt"
    assert fetch(URL, folder=tmp_path, name="resultats-burvot-t1.txt").from_cache


@responses.activate
def test_checksum_mismatch_carries_both_digests(tmp_path: Path) -> None:
    body = b"republished"
    responses.get(URL, body=body)
    with pytest.raises(ChecksumMismatch) as caught:
        fetch(URL, sha256="0" * 64, folder=tmp_path)
    assert caught.value.expected == "0" * 64
    assert caught.value.actual == hashlib.sha256(body).hexdigest()
