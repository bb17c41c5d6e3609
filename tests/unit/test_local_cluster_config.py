"""How every client finds the embedded cluster's password (scrutin.config), with no server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scrutin import config


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded cluster's folder (SCRUTIN_PGDATA under it) and nothing else in the env."""
    monkeypatch.setenv("SCRUTIN_PGPORT", "55999")
    monkeypatch.setenv("SCRUTIN_PGDATA", str(tmp_path / "data"))
    for variable in ("SCRUTIN_DATABASE_URL", "SCRUTIN_BI_PASSWORD", "SCRUTIN_BI_ROLE"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


def test_the_pass_file_sits_beside_the_data_directory(cluster: Path) -> None:
    assert config.local_pgdata() == cluster / "data"
    assert config.local_passfile() == cluster / "pgpass"


def test_the_default_data_directory_follows_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRUTIN_PGPORT", "55123")
    monkeypatch.delenv("SCRUTIN_PGDATA", raising=False)
    assert config.local_pgdata() == Path("/tmp/scrutin-pg-55123/data")


def test_the_local_url_carries_the_password_of_the_pass_file(cluster: Path) -> None:
    (cluster / "pgpass").write_text("*:55999:*:scrutin:s3cr-et_x\n")
    url = config.local_database_url("airflow")
    assert url == "postgresql://scrutin:s3cr-et_x@127.0.0.1:55999/airflow"
    assert config.database_url() == config.local_database_url()
    assert config.dbt_env(url)["SCRUTIN_DB_PASSWORD"] == "s3cr-et_x"
    assert "s3cr-et_x" not in config.redact(url)


def test_no_pass_file_yet_gives_a_url_without_password(cluster: Path) -> None:
    assert config.local_password() is None
    assert config.local_database_url() == "postgresql://scrutin@127.0.0.1:55999/scrutin"


def test_a_line_for_another_port_or_user_is_not_ours(cluster: Path) -> None:
    (cluster / "pgpass").write_text("*:55432:*:scrutin:other-port\n*:*:*:someone:other-user\n")
    assert config.local_password() is None
    assert config.local_password("someone") == "other-user"


def test_a_stored_password_is_appended_and_the_file_stays_private(cluster: Path) -> None:
    (cluster / "pgpass").write_text("*:55999:*:scrutin:first\n")
    config.store_local_password("scrutin_bi", "bi-secret")
    assert config.local_password() == "first"
    assert config.local_password("scrutin_bi") == "bi-secret"
    assert (cluster / "pgpass").stat().st_mode & 0o777 == 0o600


def test_the_bi_password_comes_from_the_pass_file_on_the_local_cluster_only(
    cluster: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cluster / "pgpass").write_text("*:55999:*:scrutin:su\n*:55999:*:scrutin_bi:bi\n")
    assert config.bi_reader_password() == "bi"
    assert (
        config.bi_reader_url("postgresql://scrutin:su@127.0.0.1:55999/scrutin_test?sslmode=x")
        == "postgresql://scrutin_bi:bi@127.0.0.1:55999/scrutin_test"
    )
    monkeypatch.setenv("SCRUTIN_DATABASE_URL", "postgresql://ops:pw@db.internal:5432/wh")
    assert config.bi_reader_password() is None  # a server of yours: SCRUTIN_BI_PASSWORD
    monkeypatch.setenv("SCRUTIN_BI_PASSWORD", "explicit")
    assert config.bi_reader_password() == "explicit"


def test_is_local_cluster_needs_loopback_and_our_port(cluster: Path) -> None:
    assert config.is_local_cluster("postgresql://scrutin@127.0.0.1:55999/x")
    assert config.is_local_cluster("postgresql://scrutin@localhost:55999/x")
    assert not config.is_local_cluster("postgresql://scrutin@127.0.0.1:55432/x")
    assert not config.is_local_cluster("postgresql://scrutin@db.internal:55999/x")


def test_refresh_derives_again_what_it_derived_and_keeps_what_the_operator_set(
    cluster: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql_conn = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    for variable in (sql_conn, config.WAREHOUSE_CONN_VARIABLE):
        monkeypatch.delenv(variable, raising=False)
    config.apply_environment_defaults()  # before `scrutin setup` made the cluster: no password
    assert "scrutin@127.0.0.1:55999/airflow" in os.environ[sql_conn]

    (cluster / "pgpass").write_text("*:55999:*:scrutin:new-cluster\n")
    config.apply_environment_defaults()  # without refresh, nothing set is touched
    assert "new-cluster" not in os.environ[sql_conn]
    monkeypatch.setenv(config.WAREHOUSE_CONN_VARIABLE, "postgres://operator:own@elsewhere:1/db")
    config.apply_environment_defaults(refresh=True)
    assert os.environ[sql_conn].endswith("scrutin:new-cluster@127.0.0.1:55999/airflow")
    assert os.environ[config.WAREHOUSE_CONN_VARIABLE] == "postgres://operator:own@elsewhere:1/db"


def test_the_demo_prints_a_psql_command_naming_the_pass_file_not_the_password(
    cluster: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.demo import _psql_command

    (cluster / "pgpass").write_text("*:55999:*:scrutin:never-printed\n")
    command = _psql_command()
    assert command == (
        f"PGPASSFILE={cluster / 'pgpass'} psql -h 127.0.0.1 -p 55999 -U scrutin scrutin"
    )
    monkeypatch.setenv("SCRUTIN_DATABASE_URL", "postgresql://ops:pw@db.internal:5432/wh")
    assert _psql_command() == "psql postgresql://ops:***@db.internal:5432/wh"
