"""One idempotent setup: local server, databases, warehouse migrations, BI role, Airflow DB.

`scrutin setup` (and so `make demo` / `make test`) runs this. Each step checks before it acts, so a
re-run costs about a second. It is the only place that changes the warehouse layout: it applies the
versioned migrations (`scrutin.warehouse.migrate`); loads and the gate only check the version.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from scrutin.config import (
    PROJECT_ROOT,
    airflow_database_url,
    apply_environment_defaults,
    bi_reader_password,
    bi_reader_role,
    database_url,
    dsn_parts,
    with_database,
)

log = logging.getLogger("pipeline.setup")


def start_local_server() -> None:
    """Start the project's own PostgreSQL unless SCRUTIN_DATABASE_URL names a server."""
    if os.environ.get("SCRUTIN_DATABASE_URL"):
        log.info("SCRUTIN_DATABASE_URL is set: using that server")
        return
    script = PROJECT_ROOT / "scripts" / "local_pg.sh"
    subprocess.run(["bash", str(script), "start"], check=True)


def ensure_database(server_url: str, name: str) -> bool:
    """Create database `name` on the server of `server_url` if missing; True when created."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        # JIT compilation costs seconds per dbt test query and buys nothing for these
        # short analytical queries (measured at national scale).
        conn.execute(sql.SQL("alter database {} set jit = off").format(sql.Identifier(name)))
        log.info("created database %s", name)
        return True


def ensure_reader_role(
    url: str, role: str, password: str | None, closed_databases: tuple[str, ...] = ()
) -> None:
    """A read-only BI role: it can connect and read `mart` (its campaign's rows) and nothing else.

    Grants on the tables of `mart` are (re)applied at every publication; here we make sure the
    role exists and can connect, and that nothing else is open to PUBLIC.
    """
    import psycopg
    from psycopg import sql

    dbname = dsn_parts(url).dbname
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))
            log.info("created read-only BI role %s", role)
        if password:
            conn.execute(
                sql.SQL("alter role {} login password {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
        conn.execute(
            sql.SQL("grant connect on database {} to {}").format(
                sql.Identifier(dbname), sql.Identifier(role)
            )
        )
        # PUBLIC may use schema public by default: close it so the role sees `mart` only.
        conn.execute("revoke all on schema public from public")
        conn.execute(sql.SQL("alter role {} set search_path = mart").format(sql.Identifier(role)))
        # Our other databases on this server (Airflow's metadata) are closed to PUBLIC.
        for other in closed_databases:
            conn.execute(
                sql.SQL("revoke connect on database {} from public").format(sql.Identifier(other))
            )


def grant_campaign_reader(
    url: str,
    campaign_id: str,
    role: str,
    password: str | None = None,
    closed_databases: tuple[str, ...] = (),
) -> bool:
    """Create (or update) `role` and let it read `campaign_id`'s rows of `mart`, at once and
    after every publication; True when the mapping is new. A role already reading another
    campaign is refused (CampaignAccessError), never remapped."""
    from pipeline.campaign_access import (
        apply_row_security,
        check_role_name,
        grant_mart,
        lock_publication,
        map_role,
    )
    from scrutin.db import connect

    check_role_name(role)
    ensure_reader_role(url, role, password, closed_databases)
    with connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        lock_publication(cur)  # never re-create the policies under a swap in progress
        new = map_role(cur, role, campaign_id)
        grant_mart(cur, role)
        apply_row_security(cur, "mart")
    return new


def ensure_bi_role(url: str, closed_databases: tuple[str, ...] = ()) -> None:
    """The BI role of the configured campaign (SCRUTIN_BI_ROLE, default `scrutin_bi`, for the
    campaign_id of the campaign file), as Metabase and the docs use it."""
    from scrutin.campaign import load_campaign

    role = bi_reader_role()
    campaign_id = load_campaign().campaign_id
    if grant_campaign_reader(url, campaign_id, role, bi_reader_password(), closed_databases):
        log.info("BI role %s reads campaign %s", role, campaign_id)


def _airflow_stamp_path() -> Path:
    return Path(os.environ["AIRFLOW_HOME"]) / ".scrutin-migrated"


def migrate_airflow(force: bool = False) -> None:
    """`airflow db migrate` once per (Airflow version, metadata DB); re-runs are skipped."""
    from importlib.metadata import version

    stamp = _airflow_stamp_path()
    want = f"{version('apache-airflow')} {airflow_database_url()}"
    if not force and stamp.exists() and stamp.read_text() == want and _airflow_db_has_tables():
        return
    Path(os.environ["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    log.info("migrating Airflow's metadata database (first run only, ~10 s)")
    airflow_bin = Path(sys.executable).parent / "airflow"
    subprocess.run(
        [str(airflow_bin), "db", "migrate"],
        check=True,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(want)


def _airflow_db_has_tables() -> bool:
    import psycopg

    url = airflow_database_url().replace("postgresql+psycopg2://", "postgresql://", 1)
    try:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "select to_regclass('public.alembic_version') is not null"
            ).fetchone()
            return bool(row and row[0])
    except psycopg.OperationalError:
        return False


def setup(with_airflow: bool = True) -> None:
    """Everything a run needs, idempotently."""
    from scrutin.db import connect
    from scrutin.warehouse.migrate import migrate

    start_local_server()
    apply_environment_defaults()
    url = database_url()
    ensure_database(url, dsn_parts(url).dbname)
    with connect(url) as conn:
        migrate(conn)
    closed: tuple[str, ...] = ()
    if with_airflow:
        airflow_url = airflow_database_url().replace("postgresql+psycopg2://", "postgresql://", 1)
        airflow_db = dsn_parts(airflow_url).dbname
        ensure_database(airflow_url, airflow_db)
        if dsn_parts(airflow_url).host == dsn_parts(url).host:
            closed = (airflow_db,)
    # Metabase's application database (the compose stack sets SCRUTIN_METABASE_DB): on the
    # warehouse server, closed to PUBLIC like Airflow's.
    metabase_db = os.environ.get("SCRUTIN_METABASE_DB")
    if metabase_db:
        ensure_database(url, metabase_db)
        closed = (*closed, metabase_db)
    ensure_bi_role(url, closed)
    if with_airflow:
        migrate_airflow()
