"""The downloader (cache, checksum, bounded retries) and the results manifest; HTTP replayed."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
import requests
import responses

from ingestion.download import DownloadError, DownloadRefused, fetch
from ingestion.manifest import ManifestError, entry_from_dict, read_elections_manifest
from tests.conftest import TOUR2

URL = "https://static.data.gouv.fr/resources/legislatives-2024/circos23-tour2.csv"
BODY = TOUR2.read_bytes()
SHA = hashlib.sha256(BODY).hexdigest()


@responses.activate
def test_fetch_downloads_once_then_serves_the_cache(tmp_path: Path) -> None:
    responses.get(URL, body=BODY)
    first = fetch(URL, sha256=SHA, folder=tmp_path)
    assert not first.from_cache
    assert first.path.read_bytes() == BODY
    second = fetch(URL, sha256=SHA, folder=tmp_path)
    assert second.from_cache and second.path == first.path
    assert len(responses.calls) == 1


@responses.activate
def test_checksum_mismatch_is_refused_and_not_cached(tmp_path: Path) -> None:
    responses.get(URL, body=BODY + b"tampered")
    with pytest.raises(DownloadRefused, match="does not match"):
        fetch(URL, sha256=SHA, folder=tmp_path)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@responses.activate
def test_empty_answer_is_never_cached(tmp_path: Path) -> None:
    responses.get(URL, body=b"")
    with pytest.raises(DownloadRefused, match="empty"):
        fetch(URL, folder=tmp_path)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@responses.activate
def test_not_found_is_not_retried(tmp_path: Path) -> None:
    responses.get(URL, status=404)
    with pytest.raises(DownloadRefused, match="HTTP 404"):
        fetch(URL, folder=tmp_path, retries=3)
    assert len(responses.calls) == 1


@responses.activate
def test_network_failure_surfaces_within_seconds(tmp_path: Path) -> None:
    responses.get(URL, body=requests.ConnectionError("no route to host"))
    started = time.monotonic()
    with pytest.raises(DownloadError, match="after 3 attempts"):
        fetch(URL, folder=tmp_path, retries=2)
    assert time.monotonic() - started < 5
    assert len(responses.calls) == 3
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@responses.activate
def test_server_error_then_success_is_retried(tmp_path: Path) -> None:
    responses.get(URL, status=503)
    responses.get(URL, body=BODY)
    got = fetch(URL, sha256=SHA, folder=tmp_path, retries=2)
    assert got.sha256 == SHA
    assert len(responses.calls) == 2


def _write_manifest(folder: Path, text: str) -> None:
    (folder / "manifest.yml").write_text(text, encoding="utf-8")


@responses.activate
def test_manifest_url_entry_resolves_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCRUTIN_CACHE_DIR", str(tmp_path / "cache"))
    responses.get(URL, body=BODY)
    _write_manifest(
        tmp_path,
        f"files:\n  - url: {URL}\n    sha256: {SHA}\n    election_id: 2024_legi_t2\n",
    )
    (entry,) = read_elections_manifest(tmp_path)
    again = entry_from_dict(entry.as_dict())
    assert again == entry
    assert again.local_path().read_bytes() == BODY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("files:\n  - path: nowhere.csv\n    election_id: 2024_legi_t1\n", "does not exist"),
        ("files:\n  - url: https://x/y.csv\n    election_id: 2024_legi_t1\n", "sha256"),
        ("files:\n  - election_id: 2024_legi_t1\n", "exactly one of"),
        ("files:\n  - path: a.csv\n", "election_id"),
        ("elections: []\n", "'files:' list"),
        ("files: [\n", "not valid YAML"),
    ],
)
def test_manifest_errors_name_the_entry(tmp_path: Path, text: str, message: str) -> None:
    _write_manifest(tmp_path, text)
    with pytest.raises(ManifestError, match=message):
        read_elections_manifest(tmp_path)


def test_missing_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"no manifest\.yml"):
        read_elections_manifest(tmp_path)
