"""The batch ledger (`raw.batch_ledger`): one row per attempt to land a file.

The ledger is the audit trail engineers read when a number looks wrong: which file (by name and
sha256) produced the rows of a dataset, when, how many rows, and why a load failed. Rows are
never deleted; a replaced load is marked `superseded`, not removed.

Transaction rules (why the functions take a connection and do not commit, except one):
- `start_batch`, `finish_batch`, `supersede_batches`, `supersede_emptied_batches` and
  `record_skipped` run inside the caller's load transaction, so the ledger and the data rows
  commit or roll back together.
- `fail_batch` opens and commits its own transaction on an idle connection: it runs after the
  load transaction was rolled back, and the failure must survive that rollback.
- `open_attempt` also commits on its own, before the load transaction: its `loading` row is the
  record a killed load leaves (a kill rolls the load transaction back, ledger row included).
  The load transaction turns that row into its outcome (`start_batch(..., attempt=...)`); the
  process holds the session advisory lock `(ATTEMPT_LOCK_CLASS, batch_id)` meanwhile, so a
  `loading` row whose lock nobody holds is a dead load: `mark_abandoned` says so.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrutin.warehouse.ledger")

_CHUNK = 1 << 20

ATTEMPT_LOCK_CLASS = 29020
"""The advisory lock class of running loads (two-int form: pg_locks shows classid/objid); the
build lock is 29019 (pipeline/build_lock.py)."""

ABANDONED_ERROR = (
    "the load stopped before it finished (process killed, out of memory or machine stopped): "
    "nothing of it was kept, the previous version of the dataset is in place; load the file again"
)


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks so national files never sit in memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def open_attempt(
    conn: psycopg.Connection,
    source: str,
    path: str | Path,
    sha256: str,
    dataset_key: str | None,
) -> int:
    """Commit a `loading` row for a load about to start, and hold its lock; return its id.

    The lock is taken before the row commits, so nobody ever sees the row without its lock held
    by a live process. `close_attempt` releases it; a dead process releases it with its session.
    The connection must be idle: this commits.
    """
    # One statement, so one round trip on an autocommit connection (a national roll opens
    # ~35,000 attempts): the lock is still taken before the row commits.
    row = _alone(
        conn,
        "with attempt as (insert into raw.batch_ledger "
        "(source, file_name, file_sha256, dataset_key, status) "
        "values (%s, %s, %s, %s, 'loading') returning batch_id) "
        "select batch_id, pg_advisory_lock(%s, batch_id::int) from attempt",
        (source, Path(path).name, sha256, dataset_key, ATTEMPT_LOCK_CLASS),
    )
    assert row is not None
    return int(row[0])


def _alone(conn: psycopg.Connection, sql: str, params: Sequence[object]) -> tuple[Any, ...] | None:
    """Run one statement in a transaction of its own on an idle connection (autocommit: the
    statement is its transaction; otherwise committed here); its first row."""
    if conn.autocommit:
        return conn.execute(sql, params).fetchone()
    with conn.transaction():
        return conn.execute(sql, params).fetchone()


def drop_attempt(conn: psycopg.Connection, batch_id: int) -> None:
    """Delete the attempt's row if it is still `loading` at the end of the load transaction:
    nothing was loaded (a no-op once the row became the outcome)."""
    conn.execute(
        "delete from raw.batch_ledger where batch_id = %s and status = 'loading'", (batch_id,)
    )


def close_attempt(conn: psycopg.Connection, batch_id: int) -> None:
    """Release the attempt's lock once its outcome is committed (a no-op on a dead connection:
    the server released it with the session)."""
    from psycopg.pq import TransactionStatus

    if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
        return
    _alone(conn, "select pg_advisory_unlock(%s, %s::int)", (ATTEMPT_LOCK_CLASS, batch_id))


def mark_abandoned(conn: psycopg.Connection) -> list[int]:
    """Mark `abandoned` every `loading` row whose process is gone (its lock is free).

    Called by each load before it starts and by `scrutin status`, so the ledger never shows a
    dead load as in progress. Commits on an idle connection; returns the batch ids marked.
    """
    with conn.transaction():
        rows = conn.execute(
            "update raw.batch_ledger as l set status = 'abandoned', error = %s, "
            "finished_at = clock_timestamp(), "
            "duration_s = extract(epoch from clock_timestamp() - l.started_at) "
            "where l.status = 'loading' and not exists (select 1 from pg_locks as k "
            "where k.locktype = 'advisory' and k.classid = %s and k.objid = l.batch_id::oid "
            "and k.objsubid = 2 and k.granted "
            # Advisory locks are per database: another warehouse's load 42 is not ours.
            "and k.database = (select oid from pg_database where datname = current_database())) "
            "returning l.batch_id",
            (ABANDONED_ERROR, ATTEMPT_LOCK_CLASS),
        ).fetchall()
    abandoned = sorted(int(r[0]) for r in rows)
    if abandoned:
        log.warning("ledger: loads %s had died mid-way; marked abandoned", abandoned)
    return abandoned


def start_batch(
    conn: psycopg.Connection,
    source: str,
    path: str | Path,
    sha256: str,
    dataset_key: str | None,
    *,
    attempt: int | None = None,
) -> int:
    """Insert a `running` ledger row in the current transaction and return its batch id.

    With `attempt` (the committed `loading` row of this load), that row becomes the `running`
    one instead: one row per attempt, whatever its outcome.

    Only the file name is stored: absolute paths differ between a laptop, a worker and a
    container, while the sha256 identifies the content wherever it was read from.
    """
    if attempt is not None:
        row = conn.execute(
            "update raw.batch_ledger set status = 'running', source = %s, file_name = %s, "
            "file_sha256 = %s, dataset_key = %s where batch_id = %s and status = 'loading' "
            "returning batch_id",
            (source, Path(path).name, sha256, dataset_key, attempt),
        ).fetchone()
        if row is not None:
            return int(row[0])
        # Marked abandoned meanwhile (an operator's sweep raced a lock-less moment): new row.
    return _insert(conn, source, path, sha256, dataset_key, status="running")


def _insert(
    conn: psycopg.Connection,
    source: str,
    path: str | Path,
    sha256: str,
    dataset_key: str | None,
    *,
    status: str,
) -> int:
    row = conn.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
        "values (%s, %s, %s, %s, %s) returning batch_id",
        (source, Path(path).name, sha256, dataset_key, status),
    ).fetchone()
    assert row is not None
    return int(row[0])


def finish_batch(
    conn: psycopg.Connection,
    batch_id: int,
    *,
    status: str = "loaded",
    rows_read: int,
    rows_loaded: int,
    rows_rejected: int = 0,
    rows_duplicate: int = 0,
    duration_s: float,
    error: str | None = None,
) -> None:
    """Close a batch with its counts, in the current transaction.

    `rows_duplicate`: rows already in the warehouse (an upserting source), so that the counts
    reconcile: read = loaded + rejected + duplicate. `finished_at` uses clock_timestamp(): now()
    is frozen at transaction start and would make every batch look instantaneous.
    """
    conn.execute(
        "update raw.batch_ledger set status = %s, rows_read = %s, rows_loaded = %s, "
        "rows_rejected = %s, rows_duplicate = %s, duration_s = %s, error = %s, "
        "finished_at = clock_timestamp() where batch_id = %s",
        (
            status,
            rows_read,
            rows_loaded,
            rows_rejected,
            rows_duplicate,
            duration_s,
            error,
            batch_id,
        ),
    )


def find_loaded_batch(
    conn: psycopg.Connection, source: str, sha256: str, dataset_key: str | None
) -> int | None:
    """The batch currently holding this exact file for this dataset, if any."""
    row = conn.execute(
        "select batch_id from raw.batch_ledger "
        "where source = %s and file_sha256 = %s and dataset_key is not distinct from %s "
        "and status = 'loaded' order by batch_id desc limit 1",
        (source, sha256, dataset_key),
    ).fetchone()
    return int(row[0]) if row else None


def supersede_batches(
    conn: psycopg.Connection, source: str, dataset_key: str, *, keep: int
) -> list[int]:
    """Mark the earlier `loaded` batches of a dataset `superseded` (their rows are replaced)."""
    rows = conn.execute(
        "update raw.batch_ledger set status = 'superseded' "
        "where source = %s and dataset_key = %s and status = 'loaded' and batch_id <> %s "
        "returning batch_id",
        (source, dataset_key, keep),
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def supersede_emptied_batches(
    conn: psycopg.Connection,
    source: str,
    dataset_key: str,
    table: str,
    *,
    keep: int,
    among: Sequence[int],
) -> list[int]:
    """Mark `superseded` the loaded batches of `source`/`dataset_key` that no longer hold a row.

    Replacement is per commune, so an older batch is superseded only once every one of its
    communes was reloaded; until then it still holds the others and stays `loaded`.

    `among`: the batches looked at, the ones a replacement just took rows from (no other batch
    can have been emptied by it). Probing every loaded batch of the dataset instead cost a
    national roll (~35,000 commune files, one batch each) probes that grew with the batches
    already loaded, once per file: quadratic over the whole load.
    """
    if not among:
        return []
    rows = conn.execute(
        "update raw.batch_ledger as l set status = 'superseded' "
        "where l.source = %s and l.dataset_key = %s and l.status = 'loaded' "
        f"and l.batch_id <> %s and l.batch_id = any(%s) and not exists (select 1 from {table} "
        "as t where t.batch_id = l.batch_id) returning l.batch_id",
        (source, dataset_key, keep, list(among)),
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def record_skipped(
    conn: psycopg.Connection,
    source: str,
    path: str | Path,
    sha256: str,
    dataset_key: str | None,
    *,
    duration_s: float,
    attempt: int | None = None,
) -> int:
    """Record that an identical file was offered again and nothing was loaded.

    A row per attempt tells an operator the scheduled run did happen and found nothing new,
    which an absent row cannot distinguish from a run that never started.
    """
    batch_id = start_batch(conn, source, path, sha256, dataset_key, attempt=attempt)
    finish_batch(
        conn, batch_id, status="skipped", rows_read=0, rows_loaded=0, duration_s=duration_s
    )
    return batch_id


def fail_batch(
    conn: psycopg.Connection,
    *,
    source: str,
    path: str | Path,
    sha256: str,
    dataset_key: str | None,
    error: str,
    rows_read: int = 0,
    duration_s: float,
    attempt: int | None = None,
) -> int:
    """Record a `failed` batch with its error, in its own committed transaction.

    Call it after the load transaction rolled back: the `running` row inserted by that
    transaction is gone with it, so a new row is written. The connection must be idle (no
    transaction open), otherwise this would only be a savepoint of a transaction that may
    still roll back.
    """
    from psycopg.pq import TransactionStatus

    status = conn.info.transaction_status
    if status == TransactionStatus.INERROR:
        conn.rollback()
    elif status != TransactionStatus.IDLE:
        raise RuntimeError(
            "fail_batch needs an idle connection: the failure must be committed on its own"
        )
    with conn.transaction():
        batch_id = start_batch(conn, source, path, sha256, dataset_key, attempt=attempt)
        finish_batch(
            conn,
            batch_id,
            status="failed",
            rows_read=rows_read,
            rows_loaded=0,
            # Nothing of a refused file is loaded: every row read counts as rejected, so the
            # ledger reconciles (read = loaded + rejected) for failures too.
            rows_rejected=rows_read,
            duration_s=duration_s,
            error=error,
        )
    return batch_id


def record_failure(
    conn: psycopg.Connection,
    reconnect: Callable[[], psycopg.Connection] | None,
    *,
    source: str,
    path: str | Path,
    sha256: str,
    dataset_keys: Sequence[str | None],
    error: str,
    rows_read: int = 0,
    duration_s: float,
    traceback: bool = True,
    attempt: int | None = None,
) -> None:
    """Write one `failed` batch per dataset key, after the load transaction rolled back.

    Uses `conn` when it is still usable, else a fresh connection from `reconnect` (None when the
    connection belongs to the caller: we never guess its DSN). A ledger that cannot be written is
    logged and never masks the load's own error. `traceback=False` for sources whose frames may
    hold personal data (the electoral roll): only the exception type is logged.
    """
    name = Path(path).name

    def record(target: psycopg.Connection) -> None:
        for i, key in enumerate(dataset_keys):
            fail_batch(
                target,
                source=source,
                path=path,
                sha256=sha256,
                dataset_key=key,
                error=error,
                rows_read=rows_read,
                duration_s=duration_s,
                attempt=attempt if i == 0 else None,  # the first failure closes the attempt
            )

    try:
        if not conn.closed and not conn.broken:
            record(conn)
        elif reconnect is not None:
            with reconnect() as fresh:
                record(fresh)
        else:
            log.error("the caller's connection is broken: the failure is not in the ledger")
    except Exception as ledger_exc:
        if traceback:
            log.exception("could not record the failed batch of %s in raw.batch_ledger", name)
        else:
            log.error(
                "could not record the failed batch of %s in raw.batch_ledger: %s",
                name,
                type(ledger_exc).__name__,
            )
