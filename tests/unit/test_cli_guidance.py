"""The CLI guides its user: a version, documented exit codes, errors that say what to do.

Exit codes (pipeline/exit_codes.py, docs/operations.md): 2 bad arguments, 3 bad input data,
4 refused by the gate, 5 infrastructure down. No database here: the "database down" case
points the CLI at a port where nothing listens.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import exit_codes
from pipeline.cli import exit_code_for, main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "results"
WIDE = FIXTURES / "reg2021_t1_burvot.txt"


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The socket is closed: nothing listens there, a connection is refused at once.
    return f"postgresql://scrutin:hunter2@127.0.0.1:{port}/scrutin"


def _scrutin(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCRUTIN_DATABASE_URL": url or _closed_port_url()}
    env.pop("SCRUTIN_TRACEBACK", None)
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_version_names_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"scrutin {version('scrutin')}"


def test_database_down_says_what_to_run_and_hides_the_password() -> None:
    done = _scrutin("status")
    assert done.returncode == exit_codes.INFRASTRUCTURE == 5, done.stderr
    assert "not reachable" in done.stderr
    assert "make setup" in done.stderr and "scrutin setup" in done.stderr
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


def test_a_missing_file_is_named_before_any_connection(capsys: pytest.CaptureFixture[str]) -> None:
    # The database is down too (unit tier: connecting raises): the file is what is reported.
    with pytest.raises(SystemExit) as done:
        main(["ingest", "elections", "/no/such/results.csv", "--election-id", "2024_legi_t1"])
    assert done.value.code == exit_codes.USAGE == 2
    err = capsys.readouterr().err
    assert "no such file: /no/such/results.csv" in err
    assert "connect" not in err.lower()


def test_an_output_folder_that_does_not_exist_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "dir" / "x.csv"
    with pytest.raises(SystemExit) as done:
        main(["results", "tidy", str(WIDE), "-o", str(target), "--election-id", "2021_reg_t1"])
    assert done.value.code == exit_codes.USAGE
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()
    with pytest.raises(SystemExit):
        main(["results", "tidy", str(WIDE), "-o", str(tmp_path), "--election-id", "2021_reg_t1"])
    assert "is a folder" in capsys.readouterr().err


def test_tidy_refuses_a_wide_file_without_its_election(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.csv"
    assert main(["results", "tidy", str(WIDE), "-o", str(out)]) == exit_codes.BAD_INPUT == 3
    err = capsys.readouterr().err
    assert "--election-id" in err and "reg2021_t1_burvot.txt" in err
    assert not out.exists() and not list(tmp_path.iterdir())
    assert main(["results", "tidy", str(WIDE), "-o", str(out), "--election-id", "2021_reg_t1"]) == 0
    assert out.exists()


def test_a_refused_gate_exits_4_and_says_why_in_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline import gate

    def refuse(
        url: str,
        run_id: str | None,
        *,
        wait_seconds: float,
        accept_bureau_loss: list[str],
        full: bool = False,
    ) -> None:
        raise gate.GateRefused("audit", ["dbt test: not_null_polling_stations_bureau_id"])

    monkeypatch.setattr(gate, "build_audit_publish", refuse)
    assert main(["build", "--json"]) == exit_codes.GATE_REFUSED == 4
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "status": "refused",
        "stage": "audit",
        "failed_checks": ["dbt test: not_null_polling_stations_bureau_id"],
    }


def _refusing_gate(monkeypatch: pytest.MonkeyPatch, message: str) -> list[dict[str, object]]:
    """Replace the gate by one that records the options `scrutin build` passed, then refuses."""
    from pipeline import gate

    seen: list[dict[str, object]] = []

    def refuse(
        url: str,
        run_id: str | None,
        *,
        wait_seconds: float,
        accept_bureau_loss: list[str],
        full: bool = False,
    ) -> None:
        seen.append({"accept_bureau_loss": accept_bureau_loss, "full": full})
        raise gate.GateRefused("dbt build", [message])

    monkeypatch.setattr(gate, "build_audit_publish", refuse)
    return seen


def test_accept_bureau_loss_reaches_the_gate_for_each_election(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The one-build override of the volume check (docs/quality.md): every election named,
    none by default."""
    seen = _refusing_gate(monkeypatch, "volume: election 2024_legi_t2 lost 1 ...")
    main(["build"])
    main(["build", "--accept-bureau-loss", "2024_legi_t1", "--accept-bureau-loss", "2022_legi_t1"])
    assert [s["accept_bureau_loss"] for s in seen] == [[], ["2024_legi_t1", "2022_legi_t1"]]
    assert "volume: election 2024_legi_t2" in capsys.readouterr().err


def test_full_reaches_the_gate_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """`scrutin build` lets the gate decide (incremental when only knocks changed); `--full`
    forces a full refresh (docs/operations.md)."""
    seen = _refusing_gate(monkeypatch, "dbt: x")
    main(["build"])
    main(["build", "--full"])
    assert [s["full"] for s in seen] == [False, True]


def test_a_busy_build_exits_6_and_names_the_owner(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline import gate
    from pipeline.build_lock import BuildBusy

    seen: dict[str, float] = {}

    def busy(
        url: str,
        run_id: str | None,
        *,
        wait_seconds: float,
        accept_bureau_loss: list[str],
        full: bool = False,
    ) -> None:
        seen["wait"] = wait_seconds
        raise BuildBusy("another build is running: run r1 is in stage 'fit_scores'")

    monkeypatch.setattr(gate, "build_audit_publish", busy)
    assert main(["build", "--wait", "12.5", "--json"]) == exit_codes.BUSY == 6
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {
        "status": "busy",
        "reason": "another build is running: run r1 is in stage 'fit_scores'",
    }
    assert "run r1" in captured.err and seen == {"wait": 12.5}


def test_a_build_with_nothing_new_says_so_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mode `unchanged` (docs/operations.md): nothing published, said as such, exit 0."""
    from pipeline import gate

    reason = (
        "nothing changed since publication #7 (run r7): `mart` already is what these inputs give"
    )

    def unchanged(url: str, run_id: str | None, **_: object) -> gate.GateReport:
        return gate.GateReport(run_id="r8", mode="unchanged", reason=reason)

    monkeypatch.setattr(gate, "build_audit_publish", unchanged)
    assert main(["build"]) == exit_codes.OK
    out = capsys.readouterr().out
    assert out == f"nothing to publish (run r8): {reason}\n"
    assert main(["build", "--json"]) == exit_codes.OK
    report = json.loads(capsys.readouterr().out)
    assert (report["status"], report["mode"], report["published_counts"]) == (
        "unchanged",
        "unchanged",
        {},
    )


def test_exit_codes_by_kind_of_error() -> None:
    import psycopg

    from ingestion.errors import SourceFormatError
    from scrutin.warehouse.migrate import WarehouseNotMigrated

    assert exit_code_for(SourceFormatError("a.csv", 3, "Inscrits", "not a number"))[0] == 3
    assert exit_code_for(FileNotFoundError("x.csv"))[0] == 3
    refused = psycopg.OperationalError("connection refused")
    assert exit_code_for(refused)[0] == 5
    wrapped = RuntimeError("task failed")
    wrapped.__cause__ = refused
    assert exit_code_for(wrapped)[0] == 5
    # A server that answered with an error (it has a SQLSTATE) is not "down".
    assert exit_code_for(psycopg.errors.DeadlockDetected("deadlock"))[0] == 1
    assert exit_code_for(WarehouseNotMigrated("run `scrutin setup`"))[0] == 5
    assert exit_code_for(RuntimeError("boom")) == (1, "RuntimeError: boom")


def test_json_reports_are_plain_json(capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses
    import datetime as dt

    from pipeline.cli_args import print_json

    @dataclasses.dataclass(frozen=True)
    class Report:
        status: str
        communes: tuple[str, ...]
        reference_date: dt.date
        path: Path
        counts: dict[str, int]

    print_json([Report("loaded", ("29019",), dt.date(2024, 6, 11), Path("a/b.csv"), {"x": 1})])
    assert json.loads(capsys.readouterr().out) == [
        {
            "status": "loaded",
            "communes": ["29019"],
            "reference_date": "2024-06-11",
            "path": "a/b.csv",
            "counts": {"x": 1},
        }
    ]


def test_a_reader_that_goes_away_is_not_an_error() -> None:
    """`scrutin fetch results --list | head -1`: no traceback, no error line, exit 0."""
    child = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "fetch", "results", "--list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    child.stdout.close()  # before the command writes: its first write meets a closed pipe
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "-o", "/no/such/folder/report.html"],
        ["export", "geojson", "-o", "/no/such/folder/bureaux.geojson"],
    ],
)
def test_report_and_export_refuse_an_output_folder_that_does_not_exist(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Checked before any database work, like every other `-o` of the CLI (exit 2)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == exit_codes.USAGE
    assert "/no/such/folder" in capsys.readouterr().err
