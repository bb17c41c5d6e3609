"""Runtime configuration, from environment variables with local defaults (12-factor).

Everything that needs a path or a DSN asks this module, so the CLI, the DAGs, dbt and the tests
agree on one warehouse. `apply_environment_defaults()` fills in the variables Airflow and dbt read
at import time, before either is imported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
DAGS_DIR = PROJECT_ROOT / "dags"
SAMPLE_DATA_DIR = PROJECT_ROOT / "data" / "sample"

# The landing folder of each source and the variable that sets it. Unset (or empty), a folder
# defaults to the bundled sample (`data/sample/<source>/`), so a fresh checkout runs the demo
# with no configuration; library modules ask `landing_dir()` and never know the repo layout.
LANDING_DIR_VARIABLES = {
    "elections": "SCRUTIN_ELECTIONS_DIR",
    "reu": "SCRUTIN_REU_DIR",
    "roll": "SCRUTIN_ROLL_DIR",
    "census": "SCRUTIN_CENSUS_DIR",
    "geo": "SCRUTIN_GEO_DIR",
}


# Configuration files of the checkout, the defaults when no variable names another file.
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_CENSUS_REGISTRY = CONFIG_DIR / "census_registry.yml"
DEFAULT_ROLL_MAPPING = CONFIG_DIR / "roll_mapping.yml"
# One YAML mapping per canvassing app (docs/canvass.md); SCRUTIN_CANVASS_MAPPINGS names another
# folder (a campaign's own mappings, a test's).
CANVASS_MAPPINGS_VARIABLE = "SCRUTIN_CANVASS_MAPPINGS"
DEFAULT_CANVASS_MAPPINGS = CONFIG_DIR / "canvass"


def canvass_mappings_dir() -> Path:
    """The folder of the canvass app mappings: SCRUTIN_CANVASS_MAPPINGS, else config/canvass/."""
    return Path(os.environ.get(CANVASS_MAPPINGS_VARIABLE) or DEFAULT_CANVASS_MAPPINGS)


def cache_dir() -> Path:
    """Where downloads are cached by sha256 (SCRUTIN_CACHE_DIR, default var/cache/)."""
    return Path(os.environ.get("SCRUTIN_CACHE_DIR") or PROJECT_ROOT / "var" / "cache")


# The canvass drop zone (SCRUTIN_CANVASS_DROP) when unset: a local folder of the checkout.
DEFAULT_CANVASS_DROP = PROJECT_ROOT / "var" / "canvass-drop"


def landing_dir(source: str) -> Path:
    """The landing folder of `source` (one of LANDING_DIR_VARIABLES)."""
    variable = LANDING_DIR_VARIABLES[source]
    return Path(os.environ.get(variable) or sample_dir(source))


DEMO_ENV = "SCRUTIN_DEMO"


def demo_mode() -> bool:
    """`SCRUTIN_DEMO=1`: synthetic sample data (public pseudonymisation key, re-anchored sample)."""
    return os.environ.get(DEMO_ENV, "").strip().lower() in ("1", "true", "yes")


def sample_dir(source: str) -> Path:
    """The bundled sample files of `source` (the demo's default landing folder)."""
    return SAMPLE_DATA_DIR / source


DEFAULT_PORT = "55432"
# Airflow tasks reach the warehouse through this connection (pipeline.airflow_warehouse); when
# no one sets it, apply_environment_defaults() derives it from SCRUTIN_DATABASE_URL.
WAREHOUSE_CONN_ID = "scrutin_warehouse"
WAREHOUSE_CONN_VARIABLE = f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"


def local_database_url(database: str = "scrutin") -> str:
    """DSN of the project's own local cluster (see scripts/local_pg.sh)."""
    port = os.environ.get("SCRUTIN_PGPORT", DEFAULT_PORT)
    return f"postgresql://scrutin@127.0.0.1:{port}/{database}"


def database_url() -> str:
    """The warehouse DSN: SCRUTIN_DATABASE_URL, else the local cluster."""
    return os.environ.get("SCRUTIN_DATABASE_URL") or local_database_url()


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def redact(url: str) -> str:
    """A DSN safe to print: the password (in the authority or as `?password=`) becomes ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(":" + parts.password + "@", ":***@", 1)
    query = re.sub(r"(?i)(^|&)(password)=[^&]*", r"\1\2=***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@dataclass(frozen=True)
class DsnParts:
    host: str
    port: int
    user: str
    password: str
    dbname: str


def dsn_parts(url: str) -> DsnParts:
    parts = urlsplit(url)
    return DsnParts(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        dbname=(parts.path or "/").lstrip("/") or "postgres",
    )


def airflow_database_url() -> str:
    """Airflow metadata DB: SCRUTIN_AIRFLOW_DATABASE_URL, else db `airflow` on the same server."""
    explicit = os.environ.get("SCRUTIN_AIRFLOW_DATABASE_URL")
    if explicit:
        return explicit
    url = with_database(database_url(), os.environ.get("SCRUTIN_AIRFLOW_DB", "airflow"))
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def airflow_conn_uri(url: str) -> str:
    """The warehouse as an Airflow connection URI (AIRFLOW_CONN_SCRUTIN_WAREHOUSE)."""
    p = dsn_parts(url)
    auth = quote(p.user, safe="")
    if p.password:
        auth += ":" + quote(p.password, safe="")
    return f"postgres://{auth}@{p.host}:{p.port}/{p.dbname}"


def warehouse_environment(url: str) -> dict[str, str]:
    """The variables that point both the CLI (SCRUTIN_DATABASE_URL) and Airflow's tasks (the
    connection scrutin_warehouse) at the warehouse `url`: set them together to move both."""
    return {"SCRUTIN_DATABASE_URL": url, WAREHOUSE_CONN_VARIABLE: airflow_conn_uri(url)}


def apply_environment_defaults() -> None:
    """Set the variables Airflow, dbt and GX read, unless the operator already set them."""
    url = database_url()
    defaults = {
        "AIRFLOW_HOME": str(PROJECT_ROOT / ".airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_database_url(),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        WAREHOUSE_CONN_VARIABLE: airflow_conn_uri(url),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


def data_docs_dir() -> Path:
    """Where the quality Checkpoints build their Great Expectations Data Docs site:
    SCRUTIN_DATA_DOCS_DIR, else `var/data-docs/` of the checkout (git-ignored)."""
    explicit = os.environ.get("SCRUTIN_DATA_DOCS_DIR")
    return Path(explicit) if explicit else PROJECT_ROOT / "var" / "data-docs"


def dbt_docs_dir() -> Path:
    """Where every gate run writes the dbt docs site (static `index.html`, models, columns,
    tests, lineage, exposures): SCRUTIN_DBT_DOCS_DIR, else `var/dbt-docs/` of the checkout."""
    explicit = os.environ.get("SCRUTIN_DBT_DOCS_DIR")
    return Path(explicit) if explicit else PROJECT_ROOT / "var" / "dbt-docs"


def docs_links() -> dict[str, str]:
    """The human-readable sites of the last gate run that exist on disk, as file:// URLs."""
    sites = {
        "dbt docs (models, columns, tests, lineage)": dbt_docs_dir() / "index.html",
        "Great Expectations Data Docs (quality checks)": data_docs_dir() / "index.html",
    }
    return {label: path.resolve().as_uri() for label, path in sites.items() if path.exists()}


def dbt_env(url: str) -> dict[str, str]:
    """The variables dbt/profiles.yml reads, for the warehouse at `url`."""
    p = dsn_parts(url)
    return {
        "SCRUTIN_DB_HOST": p.host,
        "SCRUTIN_DB_PORT": str(p.port),
        "SCRUTIN_DB_USER": p.user,
        "SCRUTIN_DB_PASSWORD": p.password,
        "SCRUTIN_DB_NAME": p.dbname,
    }


def bi_reader_role() -> str:
    return os.environ.get("SCRUTIN_BI_ROLE", "scrutin_bi")


def bi_reader_password() -> str | None:
    """Password of the read-only BI role; local demo default only when using the local cluster."""
    explicit = os.environ.get("SCRUTIN_BI_PASSWORD")
    if explicit:
        return explicit
    return None
