"""Acquisition of registry entries with HTTP replayed (`responses`): the downloader path, pynsee's
catalogue path, and failures that must surface in seconds without caching anything.

pynsee writes its config and cache under the user's folders on import: this module points
XDG_CONFIG_HOME / XDG_CACHE_HOME at a temporary folder before pynsee is first imported.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import responses

_PYNSEE_HOME = tempfile.mkdtemp(prefix="scrutin-pynsee-")
os.environ["XDG_CONFIG_HOME"] = str(Path(_PYNSEE_HOME) / "config")
os.environ["XDG_CACHE_HOME"] = str(Path(_PYNSEE_HOME) / "cache")

from ingestion.census.acquire import acquire  # noqa: E402
from ingestion.census.pipeline import load_entry  # noqa: E402
from ingestion.census.registry import spec_from_dict  # noqa: E402
from ingestion.download import DownloadError, DownloadRefused  # noqa: E402
from tests.unit.test_census_parser import POP_2021  # noqa: E402

BODY = POP_2021.read_bytes()
SHA = hashlib.sha256(BODY).hexdigest()
REGISTRY_URL = (
    "https://www.insee.fr/fr/statistiques/fichier/8268806/base-ic-evol-struct-pop-2021_csv.zip"
)
CATALOGUE_LINK = (
    "https://www.insee.fr/fr/statistiques/fichier/1234567/base-ic-evol-struct-pop-2021_csv.zip"
)
URL_MELODI = "https://minio.lab.sspcloud.fr/pierrelamarche/melodi/liste_donnees.json"
URL_DOREMIFASOL = (
    "https://raw.githubusercontent.com/InseeFrLab/DoReMIFaSol/master/data-raw/liste_donnees.json"
)


def _entry(**extra: object) -> dict[str, object]:
    return {
        "nom": "RP_POP_IRIS",
        "libelle": "Population en 2021 - IRIS",
        "lien": CATALOGUE_LINK,
        "date_ref": "2021-01-01",
        "md5": hashlib.md5(BODY).hexdigest(),
        "size": len(BODY),
        **extra,
    }


def _spec(**extra: object):  # type: ignore[no-untyped-def]
    return spec_from_dict(
        {
            "key": "population-2021",
            "theme": "population",
            "vintage": 2021,
            "geo_year": 2023,
            "url": REGISTRY_URL,
            "sha256": SHA,
            "member": r"base-ic-evol-struct-pop-2021\.CSV",
            **extra,
        }
    )


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SCRUTIN_CACHE_DIR", str(folder))
    monkeypatch.delenv("pynsee_file_list", raising=False)
    yield folder


def _cached_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@responses.activate
def test_registry_url_is_fetched_once_then_served_from_the_cache(cache: Path) -> None:
    responses.get(REGISTRY_URL, body=BODY)
    first = acquire(_spec())
    assert (first.via, first.from_cache, first.sha256) == ("registry-url", False, SHA)
    assert first.path.read_bytes() == BODY and cache in first.path.parents
    second = acquire(_spec())
    assert second.from_cache and second.path == first.path
    assert len(responses.calls) == 1


@responses.activate
def test_changed_file_under_a_pinned_url_is_refused_and_not_cached(cache: Path) -> None:
    responses.get(REGISTRY_URL, body=BODY + b"republished")
    with pytest.raises(DownloadRefused, match="does not match the registry"):
        acquire(_spec())
    assert _cached_files(cache) == []


@responses.activate
def test_network_failure_surfaces_within_seconds_and_caches_nothing(cache: Path) -> None:
    responses.get(REGISTRY_URL, body=requests.ConnectionError("no route to host"))
    started = time.monotonic()
    with pytest.raises(DownloadError, match="could not be fetched"):
        acquire(_spec(), use_pynsee=False)
    assert time.monotonic() - started < 5
    assert _cached_files(cache) == []


@responses.activate
def test_pynsee_catalogue_link_is_used_when_it_lists_the_file() -> None:
    responses.get(URL_MELODI, json=[_entry()])
    responses.get(URL_DOREMIFASOL, json=[_entry(nom="TAG_COM", lien="https://x/tag.zip")])
    responses.get(CATALOGUE_LINK, body=BODY)
    got = acquire(_spec(pynsee_id="RP_POP_IRIS"))
    assert (got.via, got.url, got.sha256) == ("pynsee", CATALOGUE_LINK, SHA)
    assert [c.request.url for c in responses.calls][-1] == CATALOGUE_LINK
    assert REGISTRY_URL not in [c.request.url for c in responses.calls]


@responses.activate
def test_pynsee_spreadsheet_edition_is_not_used() -> None:
    # pynsee's IRIS catalogue lists the old .xlsx-in-zip editions: not the CSV Scrutin parses.
    old = _entry(lien="https://www.insee.fr/fr/statistiques/fichier/4799323/base-ic-2021.zip")
    responses.get(URL_MELODI, json=[old])
    responses.get(URL_DOREMIFASOL, json=[])
    responses.get(REGISTRY_URL, body=BODY)
    got = acquire(_spec(pynsee_id="RP_POP_IRIS"))
    assert got.via == "registry-url"
    assert got.note is not None and "base-ic-2021.zip" in got.note


@responses.activate
def test_unreachable_pynsee_catalogue_falls_back_within_seconds() -> None:
    responses.get(URL_MELODI, body=requests.ConnectionError("catalogue down"))
    responses.get(URL_DOREMIFASOL, body=requests.ConnectionError("catalogue down"))
    responses.get(REGISTRY_URL, body=BODY)
    started = time.monotonic()
    got = acquire(_spec(pynsee_id="RP_POP_IRIS"))
    assert time.monotonic() - started < 5
    assert got.via == "registry-url"
    assert got.note is not None and "unreachable" in got.note
    catalogue_calls = [c for c in responses.calls if c.request.url == URL_MELODI]
    assert len(catalogue_calls) == 1  # no pynsee retries


@responses.activate
def test_a_catalogue_failure_is_never_cached() -> None:
    from pynsee.download import get_file_list

    from ingestion.census.pynsee_catalogue import CatalogueUnavailable, find_file

    responses.get(URL_MELODI, body=requests.ConnectionError("down"))
    with pytest.raises(CatalogueUnavailable, match="unreachable"):
        find_file("RP_POP_IRIS", 2021)
    assert get_file_list.cache_info().currsize == 0
    responses.replace(responses.GET, URL_MELODI, json=[])
    responses.get(URL_DOREMIFASOL, json=[])
    with pytest.raises(CatalogueUnavailable):  # pynsee itself chokes on an empty list
        find_file("RP_POP_IRIS", 2021)
    assert get_file_list.cache_info().currsize == 0
    responses.replace(responses.GET, URL_MELODI, json=[_entry()])
    hit = find_file("RP_POP_IRIS", 2021)
    assert hit is not None and hit.link == CATALOGUE_LINK
    assert find_file("RP_POP_IRIS", 2019) is None

    from pynsee.constants import CONFIG_FILE

    # pynsee's config landed in this module's temporary folder, not in the user's home.
    assert CONFIG_FILE.startswith(_PYNSEE_HOME)


@pytest.mark.db
@responses.activate
def test_load_entry_skips_a_loaded_pinned_file_without_fetching(warehouse_url: str) -> None:
    import psycopg

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("delete from raw.census_iris_values where theme = 'population'")
        conn.execute("delete from raw.census_iris where theme = 'population'")
        conn.execute(
            "delete from raw.batch_ledger where source = 'census' "
            "and dataset_key like 'population:%'"
        )
    responses.get(REGISTRY_URL, body=BODY)
    first = load_entry(warehouse_url, _spec(), use_pynsee=False)
    assert (first.status, first.iris_rows) == ("loaded", 96)
    assert len(responses.calls) == 1
    responses.replace(responses.GET, REGISTRY_URL, body=requests.ConnectionError("offline"))
    again = load_entry(warehouse_url, _spec(), use_pynsee=False)
    assert again.status == "skipped" and again.loaded_batch_id == first.batch_id
    assert len(responses.calls) == 1
