"""Manifest paths stay inside their landing folder (hostile input: `path: ../../etc/passwd`).

Before: each manifest reader resolved any relative or absolute path, so a manifest could make a
loader read a file outside its folder and quote its first line in `raw.batch_ledger.error`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingestion.census.registry import RegistryError, read_registry
from ingestion.geo.manifest import GeoManifestError, read_geo_manifest
from ingestion.manifest import ManifestError, read_elections_manifest
from ingestion.paths import OutsideLandingFolderError, inside_folder

ESCAPES = ("../../../../etc/passwd", "/etc/passwd", "sub/../../outside.csv")


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    (folder / "sub").mkdir(parents=True)
    (folder / "ok.csv").write_text("x\n", encoding="utf-8")
    (tmp_path / "outside.csv").write_text("secret\n", encoding="utf-8")
    os.symlink(tmp_path / "outside.csv", folder / "link.csv")
    return folder


def test_inside_folder_accepts_files_of_the_folder_only(landing: Path) -> None:
    assert inside_folder(landing, "ok.csv") == (landing / "ok.csv").resolve()
    assert inside_folder(landing, str(landing / "sub" / "../ok.csv")) == (landing / "ok.csv")
    for escape in (*ESCAPES, "link.csv"):  # a symlink out of the folder escapes too
        with pytest.raises(OutsideLandingFolderError, match="outside the landing folder"):
            inside_folder(landing, escape)


@pytest.mark.parametrize("escape", [*ESCAPES, "link.csv"])
def test_results_manifest_refuses_a_path_outside_its_folder(landing: Path, escape: str) -> None:
    (landing / "manifest.yml").write_text(
        f"files:\n  - path: ok.csv\n    election_id: 2024_legi_t1\n"
        f"  - path: {escape}\n    election_id: 2024_legi_t2\n",
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as refused:
        read_elections_manifest(landing)
    message = str(refused.value)
    assert "entry 2" in message or "#2" in message or "[2]" in message, message
    assert "key 'path'" in message and "outside the landing folder" in message
    assert "secret" not in message and "root:" not in message


@pytest.mark.parametrize("escape", [*ESCAPES, "link.csv"])
def test_geo_manifest_refuses_a_path_outside_its_folder(landing: Path, escape: str) -> None:
    (landing / "manifest.yml").write_text(
        f"files:\n  - path: {escape}\n    kind: bureau\n", encoding="utf-8"
    )
    with pytest.raises(GeoManifestError, match="outside the landing folder"):
        read_geo_manifest(landing)


@pytest.mark.parametrize("escape", [*ESCAPES, "link.csv"])
def test_census_manifest_refuses_a_path_outside_its_folder(landing: Path, escape: str) -> None:
    (landing / "manifest.yml").write_text(
        f"files:\n  - theme: logement\n    vintage: 2021\n    path: {escape}\n",
        encoding="utf-8",
    )
    with pytest.raises(RegistryError, match="outside the landing folder"):
        read_registry(landing / "manifest.yml")


def test_results_registry_may_live_outside_but_must_be_yaml(landing: Path) -> None:
    (landing / "manifest.yml").write_text(
        "registry: ../../../../etc/passwd\nfiles: []\n", encoding="utf-8"
    )
    with pytest.raises(ManifestError, match=r"not a \.yml registry file"):
        read_elections_manifest(landing)
