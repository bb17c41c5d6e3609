"""The `scrutin` command as a user runs it: a subprocess with the test warehouse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scrutin.config import dsn_parts
from tests.conftest import TOUR1

pytestmark = pytest.mark.db

SCRUTIN = [sys.executable, "-m", "pipeline.cli"]


def run(args: list[str], url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCRUTIN_DATABASE_URL": url}
    return subprocess.run(
        [*SCRUTIN, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_ingest_elections_loads_then_skips(warehouse_url: str) -> None:
    first = run(["ingest", "elections", str(TOUR1), "--election-id", "2024_legi_t1"], warehouse_url)
    assert first.returncode == 0, first.stderr
    assert "201 bureaux" in first.stdout or "skipped" in first.stdout
    again = run(
        ["ingest", "elections", str(TOUR1), "--election-id", "2024_legi_t1", "--json"],
        warehouse_url,
    )
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)  # nothing but the JSON report on standard output
    assert report["status"] == "skipped" and report["election_id"] == "2024_legi_t1"
    assert len(report["sha256"]) == 64 and report["loaded_batch_id"] > 0


def test_ingest_bad_file_names_line_and_column(warehouse_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    lines = TOUR1.read_text(encoding="utf-8").splitlines(keepends=True)
    fields = lines[9].split(";")
    fields[5] = "-3"  # Inscrits
    lines[9] = ";".join(fields)
    bad.write_text("".join(lines), encoding="utf-8")
    result = run(["ingest", "elections", str(bad), "--election-id", "2099_cli_t1"], warehouse_url)
    assert result.returncode == 3  # bad input
    assert "bad.csv" in result.stderr
    assert "line 10" in result.stderr
    assert "Inscrits" in result.stderr
    assert "Traceback" not in result.stderr
    import psycopg

    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute(
            "select status, rows_read, rows_loaded, rows_rejected from raw.batch_ledger "
            "where dataset_key = '2099_cli_t1' order by batch_id desc limit 1"
        ).fetchone()
    # The ledger reconciles for a refused file too: everything read was rejected.
    assert row is not None and row[0] == "failed"
    assert row[1] > 0 and row[2] == 0 and row[3] == row[1]


def test_ingest_rejects_malformed_election_id(warehouse_url: str) -> None:
    result = run(["ingest", "elections", str(TOUR1), "--election-id", "legi 2024"], warehouse_url)
    assert result.returncode == 3  # bad input
    assert "election" in result.stderr.lower()


def test_publish_without_rollback_points_to_the_gate(warehouse_url: str) -> None:
    result = run(["publish"], warehouse_url)
    assert result.returncode == 2
    assert "scrutin build" in result.stderr


def test_status_json_hides_password(warehouse_url: str) -> None:
    password = dsn_parts(warehouse_url).password
    if not password:  # the embedded cluster always has one; a server of yours may not
        pytest.skip("the test warehouse URL carries no password")
    result = run(["status", "--json"], warehouse_url)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert password not in result.stdout + result.stderr
    assert payload["warehouse"].startswith("postgresql://scrutin:***@")
    assert isinstance(payload["mart_row_counts"], dict)


def test_redact_hides_passwords_in_the_authority_and_the_query() -> None:
    from scrutin.config import redact

    assert redact("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert (
        redact("postgresql://u@h/db?sslmode=require&password=other")
        == "postgresql://u@h/db?sslmode=require&password=***"
    )
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_results_load_json_is_a_list_of_reports(warehouse_url: str) -> None:
    run(["ingest", "elections", str(TOUR1), "--election-id", "2024_legi_t1"], warehouse_url)
    done = run(
        ["results", "load", str(TOUR1), "--election-id", "2024_legi_t1", "--json"], warehouse_url
    )
    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)
    assert report["election_id"] == "2024_legi_t1" and report["status"] == "skipped"
