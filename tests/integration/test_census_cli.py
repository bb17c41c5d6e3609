"""`scrutin ingest census` as a user runs it: a subprocess against the test warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_census_parser import FIXTURES, edited_sample, sample_line

pytestmark = pytest.mark.db

SCRUTIN = [sys.executable, "-m", "pipeline.cli"]
ACTIVITE_2022 = FIXTURES / "base-ic-activite-residents-2022_csv.zip"


def run(args: list[str], url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SCRUTIN, "ingest", "census", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SCRUTIN_DATABASE_URL": url, **env},
        timeout=300,
        check=False,
    )


def test_local_file_loads_then_skips(warehouse_url: str) -> None:
    first = run([str(ACTIVITE_2022)], warehouse_url)
    assert first.returncode == 0, first.stderr
    assert "activite_residents 2022" in first.stdout
    assert "96 IRIS, 88 indicators" in first.stdout or "skipped" in first.stdout
    again = run([str(ACTIVITE_2022)], warehouse_url)
    assert again.returncode == 0, again.stderr
    assert "skipped" in again.stdout


def test_bad_file_names_file_line_and_column(warehouse_url: str, tmp_path: Path) -> None:
    fields = sample_line(12)
    fields[1] = "29099"
    bad = edited_sample(tmp_path, {12: ";".join(fields)})
    result = run([str(bad)], warehouse_url)
    assert result.returncode == 3  # bad input
    assert "base-ic-evol-struct-pop-2021_csv.zip!base-ic-evol-struct-pop-2021.CSV" in result.stderr
    assert "line 12" in result.stderr and "'IRIS'" in result.stderr
    assert "Traceback" not in result.stderr


def test_vintage_without_registry_entry_is_a_clear_error(warehouse_url: str) -> None:
    result = run(["--vintage", "1999"], warehouse_url)
    assert result.returncode == 3  # bad input
    assert "no entry for 1999" in result.stderr


def test_nothing_to_load_is_a_usage_error(warehouse_url: str) -> None:
    result = run([], warehouse_url)
    assert result.returncode == 2
    assert "--vintage" in result.stderr
