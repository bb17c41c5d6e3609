"""The embedded cluster asks every connection for a password and keeps its socket private.

Another local OS user cannot be simulated here, so these tests check what would let one in:
a `trust` line in pg_hba, a connection without the password that succeeds, a socket or folder
others may open, a readable pass file, the password in a log or in `scrutin status`.
The first tests read the session's cluster; the last one makes a cluster of its own with
scripts/local_pg.sh, turns it into an old trust cluster and checks the next start upgrades it.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from scrutin.config import (
    bi_reader_url,
    dsn_parts,
    is_local_cluster,
    local_database_url,
    local_passfile,
    local_password,
    local_pgdata,
)
from tests.conftest import TEST_URL

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local_pg.sh"

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(
        not is_local_cluster(TEST_URL), reason="the tests run on a server of yours, not ours"
    ),
]


def _without_password(url: str, host: str | None = None) -> dict[str, object]:
    """Connection arguments for `url` minus its password, and no pgpass file to fall back on."""
    p = dsn_parts(url)
    return {
        "host": host or p.host,
        "port": p.port,
        "user": p.user,
        "dbname": p.dbname,
        "passfile": "/nonexistent",
        "connect_timeout": 5,
    }


def test_pg_hba_asks_a_scram_password_of_every_connection(conn: psycopg.Connection) -> None:
    rules = conn.execute(
        "select type, auth_method, error from pg_hba_file_rules order by line_number"
    ).fetchall()
    assert rules, "pg_hba.conf has no rule"
    assert all(error is None for _, _, error in rules), rules
    assert {method for _, method, _ in rules} == {"scram-sha-256"}, rules
    assert {kind for kind, _, _ in rules} == {"local", "host"}, rules


@pytest.mark.parametrize("over", ["tcp", "socket"])
def test_a_connection_without_the_password_is_refused(over: str) -> None:
    host = str(local_pgdata().parent) if over == "socket" else None
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(**_without_password(TEST_URL, host))  # type: ignore[arg-type]


def test_a_wrong_password_is_refused() -> None:
    arguments = {**_without_password(TEST_URL), "password": "not-the-password"}
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(**arguments)  # type: ignore[arg-type]


def test_the_url_with_the_password_connects_as_the_superuser() -> None:
    with psycopg.connect(local_database_url("postgres")) as conn:
        row = conn.execute(
            "select current_user, rolsuper, rolpassword like 'SCRAM-SHA-256$%' "
            "from pg_authid where rolname = current_user"
        ).fetchone()
    assert row == ("scrutin", True, True)


def test_the_socket_and_its_folder_are_the_owners_only(conn: psycopg.Connection) -> None:
    (permissions,) = conn.execute("show unix_socket_permissions").fetchone()  # type: ignore[misc]
    (directories,) = conn.execute("show unix_socket_directories").fetchone()  # type: ignore[misc]
    port = dsn_parts(TEST_URL).port
    folder = Path(directories.split(",")[0].strip())
    socket_file = folder / f".s.PGSQL.{port}"
    assert permissions == "0700"
    assert folder == local_pgdata().parent
    assert stat.S_ISSOCK(socket_file.stat().st_mode)
    assert stat.S_IMODE(socket_file.stat().st_mode) & 0o077 == 0, oct(socket_file.stat().st_mode)
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, oct(folder.stat().st_mode)


def test_the_pass_file_is_the_owners_only_and_holds_the_url_password() -> None:
    path = local_passfile()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    password = local_password()
    assert password and len(password) >= 32
    assert dsn_parts(TEST_URL).password == password
    assert path.resolve().is_relative_to(ROOT.resolve()) is False  # never inside the checkout


def test_the_bi_role_needs_its_own_password(conn: psycopg.Connection) -> None:
    from pipeline.setup import ensure_bi_role

    ensure_bi_role(TEST_URL)
    bi_url = bi_reader_url(TEST_URL)
    bi = dsn_parts(bi_url)
    assert bi.password and bi.password != local_password()
    with psycopg.connect(bi_url) as bi_conn:
        assert bi_conn.execute("select current_user").fetchone() == (bi.user,)
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(**_without_password(bi_url))  # type: ignore[arg-type]


def test_the_password_is_in_no_log_nor_in_scrutin_status() -> None:
    password = local_password()
    assert password
    env = {**os.environ, "SCRUTIN_DATABASE_URL": TEST_URL}
    outputs = []
    for args in (["status"], ["status", "--json"], ["-v", "status"]):
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", *args],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    assert all(password not in output for output in outputs)
    server_log = local_pgdata().parent / "postgres.log"
    assert password not in server_log.read_text(errors="replace")
    stamp = Path(os.environ["AIRFLOW_HOME"]) / ".scrutin-migrated"
    if stamp.exists():
        assert password not in stamp.read_text()


def _psql() -> Path:
    """The psql of the server's binaries (what scripts/local_pg.sh finds)."""
    if os.environ.get("SCRUTIN_PG_BINDIR"):
        return Path(os.environ["SCRUTIN_PG_BINDIR"]) / "psql"
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"), key=lambda p: int(p.parts[4]))
    return found[-1] if found else Path(shutil.which("psql") or "psql")


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another local OS user")
def test_another_local_user_gets_nothing(conn: psycopg.Connection) -> None:
    """`nobody` on the same machine: no socket, no password-less TCP, no pass file, no log."""
    folder = local_pgdata().parent
    port = str(dsn_parts(TEST_URL).port)

    def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "nobody", "--", *command],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/nonexistent"},
            cwd="/",
        )

    psql = str(_psql())
    over_socket = as_nobody(
        psql, "-w", "-h", str(folder), "-p", port, "-U", "scrutin", "-c", "select 1"
    )
    assert over_socket.returncode != 0
    assert "Permission denied" in over_socket.stderr, over_socket.stderr
    over_tcp = as_nobody(
        psql, "-w", "-h", "127.0.0.1", "-p", port, "-U", "scrutin", "-c", "select 1"
    )
    assert over_tcp.returncode != 0
    assert "no password supplied" in over_tcp.stderr, over_tcp.stderr
    for secret_or_log in (local_passfile(), folder / "postgres.log"):
        read = as_nobody("cat", str(secret_or_log))
        assert read.returncode != 0 and "Permission denied" in read.stderr, read.stderr


# --- a cluster of its own: fresh initdb, then the upgrade of an old trust cluster ---


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """SCRUTIN_PGPORT/PGDATA of a cluster made for this test; stopped and removed after."""
    # Not pytest's tmp_path: as root the cluster runs as `postgres`, which must reach its folder.
    tmp = Path(tempfile.mkdtemp(prefix="scrutin-pgsec-"))
    tmp.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("SCRUTIN_DATABASE_URL", "PGPASSFILE")}
    env.update(SCRUTIN_PGPORT=str(_free_port()), SCRUTIN_PGDATA=str(tmp / "pg" / "data"))
    monkeypatch.setenv("SCRUTIN_PGPORT", env["SCRUTIN_PGPORT"])
    monkeypatch.setenv("SCRUTIN_PGDATA", env["SCRUTIN_PGDATA"])
    try:
        yield env
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def _local_pg(env: dict[str, str], action: str, *, exit_code: int = 0) -> str:
    """Run scripts/local_pg.sh ACTION; its output, once its exit code is the one expected."""
    done = subprocess.run(
        ["bash", str(SCRIPT), action],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == exit_code, done.stderr
    return done.stdout + done.stderr


def _as_owner(*command: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else list(command)


def test_a_new_cluster_has_a_password_and_an_old_trust_cluster_is_upgraded(
    own_cluster: dict[str, str],
) -> None:
    env = own_cluster
    output = _local_pg(env, "start")
    first_password = local_password()
    assert first_password and first_password not in output
    assert stat.S_IMODE(local_passfile().stat().st_mode) == 0o600
    hba = local_pgdata() / "pg_hba.conf"
    with psycopg.connect(local_database_url("postgres")) as conn:
        assert conn.execute("select count(*) from pg_hba_file_rules").fetchone() == (3,)
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(**_without_password(local_database_url("postgres")))  # type: ignore[arg-type]

    # Make it what the earlier script made: trust everywhere, a world-usable socket, no pass file.
    _local_pg(env, "stop")
    subprocess.run(
        _as_owner(
            "sh", "-c", f"printf 'local all all trust\\nhost all all 127.0.0.1/32 trust\\n' > {hba}"
        ),
        check=True,
    )
    subprocess.run(
        _as_owner(
            "sh",
            "-c",
            f"echo 'unix_socket_permissions = 0777' >> {local_pgdata() / 'postgresql.conf'}",
        ),
        check=True,
    )
    local_passfile().unlink()
    local_pgdata().parent.chmod(0o755)
    trusting = _without_password(local_database_url("postgres"))
    output = _local_pg(env, "start")
    assert "upgrading the cluster" in output
    password = local_password()
    assert password and password != first_password and password not in output
    assert stat.S_IMODE(local_passfile().stat().st_mode) == 0o600
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(**trusting)  # type: ignore[arg-type]
    with psycopg.connect(local_database_url("postgres")) as conn:
        methods = conn.execute("select distinct auth_method from pg_hba_file_rules").fetchall()
        (permissions,) = conn.execute("show unix_socket_permissions").fetchone()  # type: ignore[misc]
    assert methods == [("scram-sha-256",)]
    assert permissions == "0700"
    socket_file = local_pgdata().parent / f".s.PGSQL.{env['SCRUTIN_PGPORT']}"
    assert stat.S_IMODE(socket_file.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(local_pgdata().parent.stat().st_mode) == 0o700
    server_log = local_pgdata().parent / "postgres.log"
    assert password not in server_log.read_text(errors="replace")

    # A password cluster whose pass file is gone: a clear message, not a silent failure later.
    _local_pg(env, "stop")
    local_passfile().unlink()
    output = _local_pg(env, "start", exit_code=1)
    assert str(local_passfile()) in output and "start afresh" in output


def test_a_cluster_directly_in_a_shared_folder_is_refused(own_cluster: dict[str, str]) -> None:
    """SCRUTIN_PGDATA=/tmp/x would make /tmp (the cluster's folder) private to postgres: the
    script refuses before touching the folder, and says what to set instead."""
    shared = Path(own_cluster["SCRUTIN_PGDATA"]).parents[1] / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # world-writable with the sticky bit, as /tmp
    env = {**own_cluster, "SCRUTIN_PGDATA": str(shared / "data")}
    out = _local_pg(env, "start", exit_code=1)
    assert f"its parent {shared} is a shared directory" in out
    assert f"SCRUTIN_PGDATA={shared}/scrutin-pg/data" in out
    mode = shared.stat()
    assert stat.S_IMODE(mode.st_mode) == 0o1777 and mode.st_uid == os.getuid()
    assert not (shared / "data").exists()
