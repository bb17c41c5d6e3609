"""`scrutin fetch results` against recorded HTTP answers (`responses`, as the census tests do):
fetch, check and land; served from the cache the second time; a checksum mismatch refused with
nothing loaded; a data.gouv pair; bounded retries on a 500; the CLI's exit codes and `--json`;
the landing manifest's registry and pair entries.

The recorded bodies are the repository's layout fixtures (tests/fixtures/results/), served under
a test registry whose ids are throw-away (`2<nnn>_pres_t1`), deleted afterwards: the session
warehouse is shared with other modules.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import requests
import responses

from ingestion.download import DownloadError
from ingestion.loaders.results_fetch import FetchRefused, fetch_results, land_manifest_entry
from ingestion.manifest import read_elections_manifest
from pipeline import exit_codes
from pipeline.cli import main
from tests.integration.conftest import purge_elections

pytestmark = pytest.mark.db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "results"
WIDE = (FIXTURES / "pres2022_t1_burvot.txt").read_bytes()
WIDE_SHA = hashlib.sha256(WIDE).hexdigest()
FILE_URL = "https://www.data.gouv.fr/fr/datasets/r/00000000-test-4000-8000-000000000001"
GENERAL_URL = "https://object.files.data.gouv.fr/data-pipeline-open/elections/general_results.csv"
CANDIDATS_URL = (
    "https://object.files.data.gouv.fr/data-pipeline-open/elections/candidats_results.csv"
)
FIXTURE_BUREAUX = 7  # tests/fixtures/results/README.md: the same bureaux in every wide fixture

NewId = Callable[[], str]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SCRUTIN_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_url, autocommit=True) as c:
        yield c


@pytest.fixture
def new_id(conn: psycopg.Connection) -> Iterator[NewId]:
    """Throw-away présidentielle ids (a registered type, so layouts are checked against it)."""
    issued: list[str] = []

    def make() -> str:
        while True:
            election_id = f"2{random.randrange(100, 1000)}_pres_t1"
            if election_id not in issued:
                issued.append(election_id)
                return election_id

    yield make
    purge_elections(conn, issued)


def _registry(
    folder: Path,
    election_id: str,
    *,
    sha256: str | None = WIDE_SHA,
    layout: str = "minint_2017_pres",
    with_file: bool = True,
) -> Path:
    entry = f"  - id: {election_id}\n    pair: agg\n"
    if with_file:
        entry += (
            f"    url: {FILE_URL}\n    file_name: burvot-t1.txt\n    layout: {layout}\n"
            f"    encoding: cp1252\n    separator: ';'\n    sha256: {sha256 or 'null'}\n"
        )
    path = folder / "results_registry.yml"
    path.write_text(
        "version: 1\npairs:\n  - key: agg\n    encoding: utf-8\n    separator: ';'\n"
        f"    general: {{url: {GENERAL_URL}, sha256: null}}\n"
        f"    candidats: {{url: {CANDIDATS_URL}, sha256: null}}\n"
        "elections:\n" + entry,
        encoding="utf-8",
    )
    return path


@pytest.fixture
def fetched(tmp_path: Path, new_id: NewId) -> tuple[str, Path]:
    """A throw-away election and a registry whose entry pins the présidentielle fixture."""
    election_id = new_id()
    return election_id, _registry(tmp_path, election_id)


def _pair_bodies(election_id: str) -> tuple[bytes, bytes]:
    """The data.gouv fixture pair, its présidentielle 2022 renamed to the test id."""
    return tuple(  # type: ignore[return-value]
        (FIXTURES / "datagouv" / name).read_bytes().replace(b"2022_pres_t1", election_id.encode())
        for name in ("general_results.csv", "candidats_results.csv")
    )


def _counts(conn: psycopg.Connection, election_id: str) -> tuple[int, int, int]:
    row = conn.execute(
        "select (select count(*) from raw.election_results_bureau where election_id = %(e)s), "
        "(select count(*) from raw.election_results_candidate where election_id = %(e)s), "
        "(select count(*) from raw.batch_ledger where dataset_key = %(e)s)",
        {"e": election_id},
    ).fetchone()
    assert row is not None
    return row


def _cached(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@responses.activate
def test_fetch_lands_the_election_then_serves_the_cache(
    fetched: tuple[str, Path], conn: psycopg.Connection, warehouse_url: str
) -> None:
    election_id, registry = fetched
    responses.get(FILE_URL, body=WIDE)
    first = fetch_results(warehouse_url, election_id, registry=registry)
    assert (first.source, first.layout) == ("file", "minint_2017_pres")
    (got,) = first.files
    assert (got.sha256, got.pinned, got.from_cache) == (WIDE_SHA, True, False)
    assert got.path.name == "burvot-t1.txt"
    (load,) = first.loads
    assert (load.status, load.bureau_rows, load.rows_rejected) == ("loaded", FIXTURE_BUREAUX, 0)
    bureaux, candidates, _ = _counts(conn, election_id)
    assert (bureaux, candidates) == (FIXTURE_BUREAUX, load.candidate_rows)

    again = fetch_results(warehouse_url, election_id, registry=registry)
    assert again.files[0].from_cache and again.files[0].path == got.path
    assert again.loads[0].status == "skipped"
    assert len(responses.calls) == 1  # the second fetch never touched the network
    assert _counts(conn, election_id)[:2] == (bureaux, candidates)


@responses.activate
def test_checksum_mismatch_is_refused_naming_the_entry_and_loads_nothing(
    fetched: tuple[str, Path], conn: psycopg.Connection, warehouse_url: str, cache: Path
) -> None:
    election_id, registry = fetched
    tampered = WIDE[:-3] + b"8\r\n"  # one vote changed in the last bureau
    assert tampered != WIDE
    responses.get(FILE_URL, body=tampered)
    with pytest.raises(FetchRefused) as caught:
        fetch_results(warehouse_url, election_id, registry=registry)
    message = str(caught.value)
    assert f"registry entry {election_id}" in message and str(registry) in message
    assert f"expected sha256 {WIDE_SHA}" in message
    assert f"got {hashlib.sha256(tampered).hexdigest()}" in message
    assert "Nothing was loaded" in message
    assert _counts(conn, election_id) == (0, 0, 0)  # not even a ledger row
    assert _cached(cache) == []


@responses.activate
def test_a_file_that_does_not_fit_its_declared_layout_is_refused(
    tmp_path: Path, new_id: NewId, conn: psycopg.Connection, warehouse_url: str
) -> None:
    election_id = new_id()
    legi = (FIXTURES / "legi2022_t1_burvot.txt").read_bytes()
    registry = _registry(tmp_path, election_id, sha256=None)
    responses.get(FILE_URL, body=legi)  # a législatives file where a présidentielle is declared
    with pytest.raises(FetchRefused, match=r"does not parse with the declared layout") as caught:
        fetch_results(warehouse_url, election_id, registry=registry)
    assert "--from pair" in str(caught.value)  # the entry has a pair to fall back on
    assert _counts(conn, election_id) == (0, 0, 0)


@responses.activate
def test_pair_fetch_lands_only_the_election(
    tmp_path: Path, new_id: NewId, conn: psycopg.Connection, warehouse_url: str
) -> None:
    election_id = new_id()
    general, candidats = _pair_bodies(election_id)
    responses.get(GENERAL_URL, body=general)
    responses.get(CANDIDATS_URL, body=candidats)
    registry = _registry(tmp_path, election_id, with_file=False)
    report = fetch_results(warehouse_url, election_id, registry=registry)
    assert (report.source, report.layout) == ("pair", "datagouv")
    assert [f.role for f in report.files] == ["general", "candidats"]
    (load,) = report.loads  # the pair's départementales were read past, not loaded
    assert (load.election_id, load.status) == (election_id, "loaded")
    bureaux, candidates, _ = _counts(conn, election_id)
    assert bureaux == load.bureau_rows > 0 and candidates == load.candidate_rows > 0


@responses.activate
def test_server_errors_are_retried_a_bounded_number_of_times(
    fetched: tuple[str, Path], conn: psycopg.Connection, warehouse_url: str, cache: Path
) -> None:
    election_id, registry = fetched
    responses.get(FILE_URL, status=500)
    started = time.monotonic()
    with pytest.raises(DownloadError, match=r"after 3 attempts: HTTP 500"):
        fetch_results(warehouse_url, election_id, registry=registry, retries=2)
    assert time.monotonic() - started < 5
    assert len(responses.calls) == 3
    assert _counts(conn, election_id) == (0, 0, 0)
    assert _cached(cache) == []


# ------------------------------------------------------------------------------------ CLI


def _cli(
    capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, dict[str, object] | None, str]:
    code = main(["fetch", "results", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if "--json" in argv and out else None), err


@responses.activate
def test_cli_json_ok_and_bad_input(
    fetched: tuple[str, Path],
    new_id: NewId,
    conn: psycopg.Connection,
    capsys: pytest.CaptureFixture[str],
) -> None:
    election_id, registry_path = fetched
    registry = str(registry_path)
    responses.get(FILE_URL, body=WIDE)
    code, payload, _ = _cli(capsys, election_id, "--registry", registry, "--json")
    assert code == exit_codes.OK and payload is not None and payload["ok"] is True
    (result,) = payload["results"]  # type: ignore[misc]
    assert result["election_id"] == election_id and result["loads"][0]["status"] == "loaded"

    code, payload, _ = _cli(capsys, "2017_pres_t1", "--registry", registry, "--json")
    assert code == exit_codes.BAD_INPUT and payload is not None
    assert "no entry for election '2017_pres_t1'" in str(payload["error"])

    other = new_id()
    (registry_path.parent / "pinned").mkdir()
    pinned = _registry(registry_path.parent / "pinned", other, sha256="a" * 64)
    code, _, err = _cli(capsys, other, "--registry", str(pinned))
    assert code == exit_codes.BAD_INPUT
    assert f"registry entry {other}" in err and "expected sha256 " + "a" * 64 in err
    assert _counts(conn, other) == (0, 0, 0)


@responses.activate
def test_cli_infrastructure_down_exits_5(
    fetched: tuple[str, Path],
    new_id: NewId,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    cache: Path,
) -> None:
    election_id, registry = fetched
    responses.get(FILE_URL, body=WIDE)
    # Database down: fetched into the cache, then refused with the setup hint.
    monkeypatch.setenv("SCRUTIN_DATABASE_URL", "postgresql://scrutin@127.0.0.1:1/scrutin")
    code, _, err = _cli(capsys, election_id, "--registry", str(registry))
    assert code == exit_codes.INFRASTRUCTURE and "scrutin setup" in err
    assert len(responses.calls) == 1

    # Network down, nothing cached: infrastructure as well, after the bounded retries.
    shutil.rmtree(cache)
    other = new_id()
    (registry.parent / "offline").mkdir()
    offline = _registry(registry.parent / "offline", other)
    responses.replace(responses.GET, FILE_URL, body=requests.ConnectionError("no route to host"))
    code, payload, _ = _cli(capsys, other, "--registry", str(offline), "--retries", "0", "--json")
    assert code == exit_codes.INFRASTRUCTURE and payload is not None
    assert payload["failed"] == other and "no route to host" in str(payload["error"])
    assert len(responses.calls) == 2  # --retries 0: one attempt


def test_cli_without_ids_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "results"]) == exit_codes.USAGE
    assert "--list" in capsys.readouterr().err
    assert main(["fetch", "results", "--list", "--json"]) == exit_codes.OK
    listed = json.loads(capsys.readouterr().out)
    assert {"2022_pres_t1", "2021_reg_t1"} <= {e["election_id"] for e in listed["elections"]}


# ------------------------------------------------------------------------ landing manifest


@responses.activate
def test_manifest_registry_and_pair_entries_land(
    tmp_path: Path, new_id: NewId, conn: psycopg.Connection, warehouse_url: str
) -> None:
    by_registry, by_pair = new_id(), new_id()
    _registry(tmp_path, by_registry)
    responses.get(FILE_URL, body=WIDE)
    general, candidats = _pair_bodies(by_pair)
    (tmp_path / "general_results.csv").write_bytes(general)
    (tmp_path / "candidats_results.csv").write_bytes(candidats)
    (tmp_path / "manifest.yml").write_text(
        "registry: results_registry.yml\nfiles:\n"
        f"  - registry: {by_registry}\n"
        "  - general: general_results.csv\n    candidats: candidats_results.csv\n"
        f"    only: [{by_pair}]\n",
        encoding="utf-8",
    )
    first, second = read_elections_manifest(tmp_path)
    (a,) = land_manifest_entry(warehouse_url, first)
    (b,) = land_manifest_entry(warehouse_url, second)
    assert (a.election_id, a.status, a.bureau_rows) == (by_registry, "loaded", FIXTURE_BUREAUX)
    assert (b.election_id, b.status) == (by_pair, "loaded")
    assert _counts(conn, by_pair)[0] == b.bureau_rows > 0
