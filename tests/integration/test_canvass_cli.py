"""`scrutin ingest canvass` and `scrutin canvass purge|drop` as a user runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.canvass import support

pytestmark = pytest.mark.db

SCRUTIN = [sys.executable, "-m", "pipeline.cli"]


@pytest.fixture(scope="module")
def url() -> str:
    return support.fresh_warehouse("canvass_cli")


def run(args: list[str], url: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "campaign.yml"
    config.write_text(
        "campaign_id: cli_test\nelection_date: 2099-04-11\ncampaign_start: 2020-01-01\n"
    )
    full_env = {
        **os.environ,
        "SCRUTIN_DATABASE_URL": url,
        "SCRUTIN_CAMPAIGN_CONFIG": str(config),
        **env,
    }
    for name in ("SCRUTIN_CANVASS_SECRET", "SCRUTIN_DEMO"):
        if name not in env:
            full_env.pop(name, None)
    return subprocess.run(
        [*SCRUTIN, *args], capture_output=True, text=True, env=full_env, timeout=300, check=False
    )


def test_ingest_refuses_without_secret_then_loads_and_skips(url: str, tmp_path: Path) -> None:
    refused = run(["ingest", "canvass", str(support.PAP)], url, tmp_path)
    assert refused.returncode == 1
    assert "SCRUTIN_CANVASS_SECRET" in refused.stderr
    loaded = run(
        ["ingest", "canvass", str(support.PAP), "--format", "pap"],
        url,
        tmp_path,
        SCRUTIN_CANVASS_SECRET=support.SECRET,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "5 read, 3 loaded" in loaded.stdout and "2 quarantined" in loaded.stdout
    again = run(["ingest", "canvass", str(support.PAP)], url, tmp_path, SCRUTIN_DEMO="1")
    assert again.returncode == 0 and "skipped" in again.stdout


def test_bad_file_error_names_line(url: str, tmp_path: Path) -> None:
    bad = tmp_path / "qomon.csv"
    bad.write_text(support.QOMON.read_text(encoding="utf-8-sig").replace(";", ","))
    result = run(["ingest", "canvass", str(bad)], url, tmp_path, SCRUTIN_DEMO="1")
    assert result.returncode == 3  # bad input
    assert "qomon.csv, line 1: wrong delimiter" in result.stderr


def test_drop_and_purge_dry_run(url: str, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(support.ECANVASSER, drop / "ecanvasser_small.csv")
    dropped = run(["canvass", "drop", "--root", str(drop)], url, tmp_path, SCRUTIN_DEMO="1")
    assert dropped.returncode == 0, dropped.stderr
    assert "loaded" in dropped.stdout and "processed" in dropped.stdout
    purge = run(["canvass", "purge", "--dry-run"], url, tmp_path)
    assert purge.returncode == 0, purge.stderr
    assert "would delete 0" in purge.stdout and "cli_test: retained" in purge.stdout
