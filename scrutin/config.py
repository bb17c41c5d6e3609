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


LOCAL_SUPERUSER = "scrutin"


def local_port() -> str:
    """Port of the embedded cluster (SCRUTIN_PGPORT, loopback only)."""
    return os.environ.get("SCRUTIN_PGPORT", DEFAULT_PORT)


def local_pgdata() -> Path:
    """Data directory of the embedded cluster: SCRUTIN_PGDATA, else /tmp/scrutin-pg-PORT/data."""
    return Path(os.environ.get("SCRUTIN_PGDATA") or f"/tmp/scrutin-pg-{local_port()}/data")


def local_passfile() -> Path:
    """The embedded cluster's password file (pgpass format, mode 0600), beside its data
    directory: scripts/local_pg.sh writes it at initdb, so no password is in the repo or a URL
    someone typed. `PGPASSFILE=<it> psql -h 127.0.0.1 -p PORT -U scrutin` uses it too."""
    return local_pgdata().parent / "pgpass"


def local_password(user: str = LOCAL_SUPERUSER) -> str | None:
    """`user`'s password on the embedded cluster, from its pass file; None when there is none
    (cluster not initialised yet, or no line for that user)."""
    try:
        lines = local_passfile().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:  # unreadable is an error that names the file, not "no password"
        return None
    for line in lines:
        fields = line.split(":", 4)
        if len(fields) == 5 and fields[1] in ("*", local_port()) and fields[3] == user:
            return fields[4]
    return None


def store_local_password(user: str, password: str) -> None:
    """Add `user`'s line to the embedded cluster's pass file (kept 0600, owner only)."""
    path = local_passfile()
    with path.open("a", encoding="utf-8") as f:
        f.write(f"*:{local_port()}:*:{user}:{password}\n")
    path.chmod(0o600)


def is_local_cluster(url: str) -> bool:
    """Whether `url` points at the embedded cluster (loopback, SCRUTIN_PGPORT)."""
    parts = urlsplit(url)
    return parts.hostname in ("127.0.0.1", "localhost") and str(parts.port) == local_port()


def local_database_url(database: str = "scrutin") -> str:
    """DSN of the project's own local cluster (see scripts/local_pg.sh), with the superuser's
    password read from the cluster's pass file: every client (CLI, dbt, Airflow, GX, tests)
    derives its connection from this URL. Print it only through `redact()`."""
    password = local_password()
    auth = LOCAL_SUPERUSER + (":" + quote(password, safe="") if password else "")
    return f"postgresql://{auth}@127.0.0.1:{local_port()}/{database}"


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


# What apply_environment_defaults() itself put in os.environ, so a later call may refresh it.
_DERIVED_DEFAULTS: dict[str, str] = {}


def apply_environment_defaults(refresh: bool = False) -> None:
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
        # `refresh`: a value this function derived earlier is derived again (the embedded
        # cluster's password exists only once `scrutin setup` started it); one set by anyone
        # else is kept.
        derived_here = refresh and os.environ.get(key) == _DERIVED_DEFAULTS.get(key)
        if key not in os.environ or derived_here:
            os.environ[key] = value
            _DERIVED_DEFAULTS[key] = value


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
    """Password of the read-only BI role: SCRUTIN_BI_PASSWORD, else on the embedded cluster the
    one `scrutin setup` generated into its pass file (every login needs a password there)."""
    explicit = os.environ.get("SCRUTIN_BI_PASSWORD")
    if explicit:
        return explicit
    if is_local_cluster(database_url()):
        return local_password(bi_reader_role())
    return None


def bi_reader_url(url: str) -> str:
    """The BI role's DSN on the server and database of `url` (what Metabase or a test uses)."""
    parts = urlsplit(url)
    auth = quote(bi_reader_role(), safe="")
    password = bi_reader_password()
    if password:
        auth += ":" + quote(password, safe="")
    host = parts.hostname or "127.0.0.1"
    netloc = f"{auth}@{host}:{parts.port}" if parts.port else f"{auth}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
