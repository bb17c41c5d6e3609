"""Versioned warehouse migrations: `scrutin/warehouse/migrations/NNNN_name.sql`, each applied once.

Why versions rather than idempotent DDL before every load: a loader that runs DDL takes ACCESS
EXCLUSIVE locks it does not need (two concurrent loads deadlocked on a guarded ALTER), and an
`alter table` hidden in a `do` block is a migration nobody can see was applied. Here the layout
changes only when an operator runs `scrutin setup`, and the warehouse says which version it is at.

Rules an engineer relies on:
- A migration file is `NNNN_name.sql` (four digits, a lower-case name). Versions are unique and
  applied in ascending order; a new file must come after every applied one.
- `ops.schema_migrations` records each applied version with the sha256 of its file. A released
  migration is never edited: `migrate` refuses to run when an applied migration's file changed,
  and names the file (write a new migration instead).
- `migrate` holds a session advisory lock, so two `scrutin setup` at once are safe (the second
  waits, then finds nothing to do); each migration runs in its own transaction with its record
  row, so a failing migration leaves the warehouse at the previous version.
- Only `scrutin setup` (and the test fixtures that stand in for it) call `migrate`. Loaders, the
  gate, the fit step and the purge call `require_migrated`: two catalogue reads, no DDL.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrutin.warehouse.migrate")

MIGRATIONS_TABLE = "ops.schema_migrations"
_LOCK = "select pg_advisory_lock(hashtext('scrutin.migrate'))"
_UNLOCK = "select pg_advisory_unlock(hashtext('scrutin.migrate'))"
_FILE_NAME = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql")

# The one piece of DDL outside a migration: the table that records them.
_BOOKKEEPING = f"""
create schema if not exists ops;
create table if not exists {MIGRATIONS_TABLE} (
    version     integer     primary key,
    name        text        not null,
    checksum    text        not null,
    applied_at  timestamptz not null default now(),
    duration_s  double precision
)
"""


class MigrationError(RuntimeError):
    """The migrations on disk and the ones recorded in the warehouse do not fit together."""


class WarehouseNotMigrated(MigrationError):
    """The warehouse lacks migrations this code needs: `scrutin setup` applies them."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: its version, name, text and the sha256 of that text."""

    version: int
    name: str
    file_name: str
    sql: str
    checksum: str


@dataclass(frozen=True, slots=True)
class AppliedMigration:
    """One row of `ops.schema_migrations`."""

    version: int
    name: str
    checksum: str


def parse_file_name(file_name: str) -> tuple[int, str]:
    """(version, name) of `NNNN_name.sql`; a MigrationError names a file that does not fit,
    since a misnamed migration would otherwise be skipped without a word."""
    match = _FILE_NAME.fullmatch(file_name)
    if match is None:
        raise MigrationError(
            f"{file_name}: a migration file is named NNNN_name.sql (four digits, an underscore, "
            "a lower-case name of letters, digits and underscores)"
        )
    return int(match["version"]), match["name"]


def migration_from_text(file_name: str, text: bytes) -> Migration:
    """A Migration from a file's name and bytes (the checksum is over the bytes as stored)."""
    version, name = parse_file_name(file_name)
    return Migration(
        version=version,
        name=name,
        file_name=file_name,
        sql=text.decode("utf-8"),
        checksum=hashlib.sha256(text).hexdigest(),
    )


def read_migrations(folder: Traversable | Path | None = None) -> list[Migration]:
    """The migrations of `folder` (default: the package's own), in version order.

    Every `.sql` file must be a migration, and no two may share a version: either would make the
    order ambiguous between two machines.
    """
    root = folder if folder is not None else resources.files("scrutin.warehouse") / "migrations"
    found = sorted(
        (
            migration_from_text(entry.name, entry.read_bytes())
            for entry in root.iterdir()
            if entry.name.endswith(".sql")
        ),
        key=lambda m: m.version,
    )
    for before, after in itertools.pairwise(found):
        if before.version == after.version:
            raise MigrationError(
                f"{before.file_name} and {after.file_name} share version {after.version:04d}: "
                "renumber the newer one"
            )
    return found


@cache
def packaged_migrations() -> tuple[Migration, ...]:
    """The package's migrations, read once per process (loaders check against the latest)."""
    return tuple(read_migrations())


def pending_migrations(
    available: Iterable[Migration], applied: Mapping[int, AppliedMigration]
) -> list[Migration]:
    """The migrations still to apply, in order, after checking the applied ones (pure).

    Refuses (MigrationError) an applied migration whose file changed or is gone, and a new
    migration numbered below the latest applied one: applying it late would give this warehouse
    a layout that a fresh one, built in order, does not have.
    """
    by_version = {m.version: m for m in available}
    for version, record in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"the warehouse has migration {version:04d}_{record.name} applied, which this "
                "code does not have: it was migrated by a newer Scrutin (upgrade this one)"
            )
        if migration.checksum != record.checksum:
            raise MigrationError(
                f"{migration.file_name} changed after it was applied to this warehouse "
                f"(sha256 {record.checksum[:12]} applied, {migration.checksum[:12]} on disk): "
                "an applied migration is never edited; restore it and put the change in a new "
                "migration file"
            )
    latest = max(applied, default=0)
    pending = [m for v, m in sorted(by_version.items()) if v not in applied]
    late = [m.file_name for m in pending if m.version < latest]
    if late:
        raise MigrationError(
            f"{', '.join(late)} numbered below the latest applied migration ({latest:04d}): "
            f"renumber it after {latest:04d}"
        )
    return pending


def applied_migrations(conn: psycopg.Connection) -> dict[int, AppliedMigration]:
    """What `ops.schema_migrations` records (empty when the table does not exist yet)."""
    with conn.transaction():
        exists = conn.execute("select to_regclass(%s) is not null", (MIGRATIONS_TABLE,)).fetchone()
        if not (exists and exists[0]):
            return {}
        rows = conn.execute(f"select version, name, checksum from {MIGRATIONS_TABLE}").fetchall()
    return {int(v): AppliedMigration(int(v), str(n), str(c)) for v, n, c in rows}


def migrate(
    conn: psycopg.Connection, migrations: Iterable[Migration] | None = None
) -> list[Migration]:
    """Apply the missing migrations in order; return those applied now (empty: up to date).

    `conn` must have no transaction open: each migration commits on its own. `migrations`
    defaults to the package's own (tests pass others).
    """
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError("migrate commits one transaction per migration: pass an idle connection")
    available = list(packaged_migrations() if migrations is None else migrations)
    with conn.transaction():
        conn.execute(_LOCK)  # a session lock: it outlives this transaction, until the unlock
    try:
        with conn.transaction():
            conn.execute(_BOOKKEEPING)
        pending = pending_migrations(available, applied_migrations(conn))
        for migration in pending:
            _apply(conn, migration)
    finally:
        if not conn.closed and not conn.broken:
            with conn.transaction():
                conn.execute(_UNLOCK)
    if pending:
        log.info("warehouse migrated to %s", pending[-1].file_name)
    return pending


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    started = time.perf_counter()
    log.info("applying migration %s", migration.file_name)
    try:
        with conn.transaction():
            conn.execute(migration.sql.encode("utf-8"))
            conn.execute(
                f"insert into {MIGRATIONS_TABLE} (version, name, checksum, duration_s) "
                "values (%s, %s, %s, %s)",
                (
                    migration.version,
                    migration.name,
                    migration.checksum,
                    time.perf_counter() - started,
                ),
            )
    except Exception as exc:
        raise MigrationError(f"{migration.file_name} failed, nothing of it applied: {exc}") from exc


def require_migrated(
    conn: psycopg.Connection, migrations: Iterable[Migration] | None = None
) -> int:
    """Raise WarehouseNotMigrated unless every migration this code has is applied; the version.

    Cheap (catalogue reads, no DDL, no lock), so every load can afford it: a warehouse that
    `scrutin setup` has not brought to this code's layout fails here with what to run, not in
    the middle of a COPY with a missing column.
    """
    available = list(packaged_migrations() if migrations is None else migrations)
    applied = applied_migrations(conn)
    missing = [m.file_name for m in available if m.version not in applied]
    if missing:
        where = f"{conn.info.dbname} on {conn.info.host}:{conn.info.port}"
        state = "has no migration applied" if not applied else f"is at migration {max(applied):04d}"
        raise WarehouseNotMigrated(
            f"the warehouse {where} {state}; this code needs {', '.join(missing)}: "
            "run `scrutin setup` to apply them"
        )
    return max(applied, default=0)
