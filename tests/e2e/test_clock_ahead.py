"""`make demo` with the clock years ahead: no time bomb in the bundled sample.

The whole demo (`scrutin demo`: its own cluster, Airflow metadata, every DAG, the gate) runs in a
subprocess under libfaketime (Debian package `faketime`, installed by scripts/ensure_test_tools.sh),
and so does its PostgreSQL server, whose now() the canvass checks read. Before the fix the
bundled canvass sample was refused as past its retention from 2027-05-12 on.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from scrutin.config import local_database_url

ROOT = Path(__file__).resolve().parents[2]
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
FAKE_TODAY = dt.date(2030, 6, 3)

pytestmark = [pytest.mark.db, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env(tmp: Path, port: int) -> dict[str, str]:
    """The environment of a fresh checkout's `make demo`, on a private cluster and folders."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCRUTIN_", "AIRFLOW", "DBT_", "PYTEST", "LD_PRELOAD", "FAKETIME"))
    }
    # Against the real date: when the whole suite itself runs under libfaketime (the 2030 run),
    # today() is already faked and an offset from it would give the demo the real clock.
    real_env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
    real_today = subprocess.run(
        ["date", "+%F"], env=real_env, capture_output=True, text=True, check=True
    ).stdout.strip()
    offset = (FAKE_TODAY - dt.date.fromisoformat(real_today)).days
    env.update(
        SCRUTIN_PGPORT=str(port),
        SCRUTIN_PGDATA=str(tmp / "pg" / "data"),
        SCRUTIN_PG_FSYNC="off",  # a throwaway cluster, deleted after the test (like CI's)
        AIRFLOW_HOME=str(tmp / "airflow"),
        SCRUTIN_CANVASS_DROP=str(tmp / "drop"),
        SCRUTIN_CACHE_DIR=str(tmp / "cache"),
        SCRUTIN_DATA_DOCS_DIR=str(tmp / "data-docs"),
        DBT_LOG_PATH=str(tmp / "dbt-logs"),
        LD_PRELOAD=str(LIBFAKETIME),
        FAKETIME=f"+{offset}d",
        FAKETIME_DONT_FAKE_MONOTONIC="1",
    )
    return env


def test_demo_publishes_the_canvass_sample_with_the_clock_in_2030(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert LIBFAKETIME.exists(), "libfaketime missing: run `bash scripts/ensure_test_tools.sh`"
    # Not pytest's tmp_path: as root the cluster runs as `postgres`, which must reach its folder.
    tmp_path = Path(tempfile.mkdtemp(prefix="scrutin-clock-"))
    tmp_path.chmod(0o755)
    port = _free_port()
    env = _clean_env(tmp_path, port)
    scrutin = str(Path(sys.executable).parent / "scrutin")
    try:
        demo = subprocess.run(
            [scrutin, "demo"],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,  # minutes alone; more when the machine is shared
        )
        output = demo.stdout + demo.stderr
        assert demo.returncode == 0, output[-4000:]
        # The demo's cluster asks for the password its initdb generated (in its pass file).
        monkeypatch.setenv("SCRUTIN_PGPORT", env["SCRUTIN_PGPORT"])
        monkeypatch.setenv("SCRUTIN_PGDATA", env["SCRUTIN_PGDATA"])
        url = local_database_url()
        with psycopg.connect(url) as conn:
            server_today = conn.execute("select current_date").fetchone()
            retention = conn.execute(
                "select retention_ends_at from ops.canvass_campaigns"
            ).fetchall()
            published = conn.execute(
                "select count(*) filter (where not suppressed) from mart.canvass_bureau_opinion"
            ).fetchone()
            knocks = conn.execute(
                "select min(knocked_at)::date, max(knocked_at)::date from raw.canvass_knocks"
            ).fetchone()
        assert server_today is not None and server_today[0] == FAKE_TODAY  # the clock was moved
        assert len(retention) == 1 and retention[0][0].date() > FAKE_TODAY
        assert published is not None and published[0] > 0, output[-4000:]
        assert knocks is not None and knocks[1] <= FAKE_TODAY
        assert knocks[0] > dt.date(2029, 1, 1)  # the sample moved with the campaign
    finally:
        subprocess.run(
            ["bash", "scripts/local_pg.sh", "stop"],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
        )
        shutil.rmtree(tmp_path, ignore_errors=True)
