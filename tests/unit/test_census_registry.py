"""The census registry and the bundled sample: validation errors, pinned checksums, and the
sample generator's determinism (the committed files are exactly what it writes)."""

from __future__ import annotations

import csv
import importlib.util
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from ingestion.census.acquire import acquire
from ingestion.census.registry import DEFAULT_REGISTRY, THEMES, RegistryError, read_registry
from ingestion.download import DownloadRefused
from tests.unit.test_census_parser import FIXTURES, ROOT, SAMPLE

SAMPLE_COMMUNES = 35


def _generator() -> ModuleType:
    path = ROOT / "scripts" / "generate_sample_census.py"
    spec = importlib.util.spec_from_file_location("generate_sample_census", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_project_registry_is_valid() -> None:
    specs = read_registry(DEFAULT_REGISTRY)
    assert {s.theme for s in specs} == set(THEMES)
    for spec in specs:
        assert spec.url is not None and spec.url.startswith("https://")
        assert spec.member is None or re.compile(spec.member)
        if spec.theme != "filosofi":
            assert spec.geo_year == spec.vintage + 2, spec.label
            assert spec.member and str(spec.vintage) in spec.member
    assert {s.vintage for s in specs if s.theme == "population"} == {2021, 2022}


def test_sample_manifest_pins_every_bundled_file() -> None:
    specs = read_registry(SAMPLE / "manifest.yml")
    assert sorted(s.theme for s in specs) == sorted(THEMES)
    for spec in specs:
        got = acquire(spec)  # a path entry: its pinned sha256 must match the bytes
        assert got.via == "local" and got.sha256 == spec.sha256


def test_changed_local_file_is_refused(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "census")
    (tmp_path / "census" / "revenus-2015-extract.csv").write_text("IRIS,COM\n", encoding="utf-8")
    spec = next(
        s for s in read_registry(tmp_path / "census" / "manifest.yml") if s.theme == "filosofi"
    )
    with pytest.raises(DownloadRefused, match="does not match the registry"):
        acquire(spec)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  - vintage: 2021\n    url: https://x/y.zip\n", "missing theme"),
        ("  - theme: logement\n    url: https://x/y.zip\n", "missing vintage"),
        ("  - theme: logement\n    vintage: 2021\n", "exactly one of 'path' or 'url'"),
        ("  - theme: housing\n    vintage: 2021\n    url: https://x/y.zip\n", "not one of"),
        ("  - theme: logement\n    vintage: 2021\n    url: https://x\n    sha256: abc\n", "64 hex"),
        ("  - theme: logement\n    vintage: 2021\n    path: nowhere.zip\n", "does not exist"),
        ("  - theme: logement\n    vintage: 2021\n    url: https://x\n    member: '('\n", "regex"),
        (
            "  - theme: logement\n    vintage: 2021\n    url: https://x\n    format: xlsx\n",
            "format 'xlsx'",
        ),
    ],
)
def test_registry_errors_name_the_entry(tmp_path: Path, entry: str, message: str) -> None:
    registry = tmp_path / "registry.yml"
    registry.write_text("files:\n" + entry, encoding="utf-8")
    with pytest.raises(RegistryError, match=message) as info:
        read_registry(registry)
    assert "registry.yml: entry 1" in str(info.value)


def test_registry_file_errors(tmp_path: Path) -> None:
    registry = tmp_path / "registry.yml"
    with pytest.raises(RegistryError, match="not found"):
        read_registry(registry)
    registry.write_text("files: [\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="not valid YAML"):
        read_registry(registry)
    registry.write_text("vintages: []\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="'files:' list"):
        read_registry(registry)
    entry = "  - key: a\n    theme: logement\n    vintage: 2021\n    url: https://x/y.zip\n"
    registry.write_text("files:\n" + entry + entry, encoding="utf-8")
    with pytest.raises(RegistryError, match="duplicated keys"):
        read_registry(registry)


def test_sample_iris_list_covers_the_35_communes() -> None:
    with (SAMPLE / "iris_sample.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["code_iris", "code_commune", "libiris", "typ_iris"]
    assert len(rows) == 96
    per_commune = Counter(r["code_commune"] for r in rows)
    assert len(per_commune) == SAMPLE_COMMUNES
    assert per_commune["29019"] == 58 and per_commune["29212"] == 5
    zs = [r for r in rows if r["typ_iris"] == "Z"]
    assert len(zs) == 33
    assert all(r["code_iris"] == r["code_commune"] + "0000" for r in zs)
    assert all(r["libiris"].endswith("(commune non irisée)") for r in zs)
    assert all(r["code_iris"].startswith(r["code_commune"]) for r in rows)
    brest = {r["code_iris"]: r["libiris"] for r in rows if r["code_commune"] == "29019"}
    assert brest["290190164"] == "Kerinou"


def test_generator_rewrites_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    sample, fixtures = tmp_path / "census", tmp_path / "fixtures"
    sample.mkdir()
    shutil.copy(SAMPLE / "revenus-2015-extract.csv", sample)
    _generator().generate(sample, fixtures, tmp_path / "no-such-filosofi.csv")
    for produced in sorted(sample.iterdir()):
        assert produced.read_bytes() == (SAMPLE / produced.name).read_bytes(), produced.name
    for produced in sorted(fixtures.iterdir()):
        assert produced.read_bytes() == (FIXTURES / produced.name).read_bytes(), produced.name
    assert len(list(sample.iterdir())) == 8 and len(list(fixtures.iterdir())) == 2
