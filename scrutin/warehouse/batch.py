"""The one batch-load template: every source lands its files through it.

A source supplies only what is its own: how to read its file and COPY the rows (`land`), the
dataset a file belongs to (`dataset_key`, also the lock and ledger key) and the scope of what a
new version replaces (`ReplaceDataset` or `ReplaceCommunes`). The template owns the rest, the
same for every source, which is what an operator relies on when a figure looks wrong:

- Connections: a DSN (or None for the configured warehouse) is opened and closed here; a
  caller's connection must be idle, since the load and its failure record are two transactions.
  The warehouse must be migrated (`scrutin setup`): checked, never created, here.
- Identity: the file's sha256 (or a given digest: a file pair, a pinned download, the inputs'
  fingerprint of a computed dataset).
- Serialisation: one advisory lock per (source, dataset), for the whole load transaction.
- Idempotence: the same bytes already `loaded` for the dataset are skipped, the data tables are
  not touched, and a `skipped` ledger row records the attempt (`force` reloads them).
- Replacement, all or nothing: the ledger row, the deletion of what the file replaces and the
  COPY share one transaction; earlier batches are marked `superseded` (kept, never deleted).
- Failure: the transaction rolls back, so the previous version stays in place; then a `failed`
  ledger row (rows read so far, error text) is committed on its own, and the error re-raised.
- A trace of every attempt: a `loading` ledger row is committed before the transaction, and the
  transaction turns it into the outcome. A load killed mid-way leaves that row; the next load
  (or `scrutin status`) marks it `abandoned` once its process is gone (`ledger.open_attempt`).
- Logs: the start, the progress every N rows, the summary with timing and rate, the failure.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypedDict, TypeVar

from scrutin.db import connect
from scrutin.progress import Progress, estimate_rows
from scrutin.warehouse import ledger
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("scrutin.warehouse.batch")

ZERO_SHA256 = "0" * 64
"""The digest recorded for a failure before any content could be read (a missing file)."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ReplaceDataset:
    """A new version replaces the whole dataset (an election, a census theme and vintage).

    Before the COPY, the rows of `tables` matching `where` (with `params`) are deleted and every
    earlier `loaded` batch of the dataset is marked `superseded`.
    """

    tables: tuple[str, ...]
    where: str = "true"
    params: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class ReplaceCommunes:
    """A new file replaces the rows of the communes it covers, so that a department extract
    does not wipe the rest of the country.

    After the COPY, the rows of `tables` in those communes written by other batches are deleted;
    an earlier batch is `superseded` once it holds no row of `tables[0]` any more.
    """

    tables: tuple[str, ...]


Scope = ReplaceDataset | ReplaceCommunes


@dataclass(frozen=True, slots=True)
class Landed:
    """What `land` read and wrote: the ledger counts (they reconcile: read = loaded + rejected +
    duplicate), the communes a `ReplaceCommunes` file covers, and the source's own words for the
    summary log line ("201 bureaux, ...")."""

    rows_read: int
    rows_loaded: int
    rows_rejected: int = 0
    rows_duplicate: int = 0
    communes: Collection[str] = ()
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchReport:
    """What one call did for one dataset; each source's report extends it with its own counts.

    `batch_id` is the ledger row this call wrote (0 when it wrote none: nothing to load);
    `loaded_batch_id` the batch whose rows hold the dataset now.
    """

    batch_id: int
    status: Literal["loaded", "skipped", "empty"]
    duration_s: float
    sha256: str
    loaded_batch_id: int | None
    superseded: tuple[int, ...] = ()
    rows_replaced: int = 0

    def outcome(self) -> BatchOutcome:
        """The template's fields, to build a source's report from (`Report(**r.outcome(), ...)`)."""
        return BatchOutcome(
            batch_id=self.batch_id,
            status=self.status,
            duration_s=self.duration_s,
            sha256=self.sha256,
            loaded_batch_id=self.loaded_batch_id,
            superseded=self.superseded,
            rows_replaced=self.rows_replaced,
        )


class BatchOutcome(TypedDict):
    """`BatchReport`'s fields by name: typed, so a source's report is checked field by field."""

    batch_id: int
    status: Literal["loaded", "skipped", "empty"]
    duration_s: float
    sha256: str
    loaded_batch_id: int | None
    superseded: tuple[int, ...]
    rows_replaced: int


def default_error_text(exc: BaseException) -> str:
    """The ledger's error text for an exception whose message was not written for it."""
    return f"{type(exc).__name__}: {exc}"


@dataclass(slots=True, kw_only=True)
class BatchLoad:
    """What a source declares about one load attempt (the template reads, never changes it).

    `path`: the file read (failures are recorded under its name); `ledger_name`: the name the
    loaded and skipped rows record, when it is not the file's (a file pair). `label`: how logs
    name the load (`circos23-tour1.csv as 2024_legi_t1`). `sha256`: a digest computed by the
    caller; else the file's. `fingerprint`: for a dataset computed from the warehouse, its
    inputs' digest, taken under the lock (with `snapshot`, in a REPEATABLE READ transaction so
    the fingerprint and the rows read describe the same state). `find_loaded`: when the source
    tells "already loaded" by other keys than (sha256, dataset key); it may set the batch's
    `dataset_key` (the skip is then recorded under it). `error_text`: the ledger's
    text for a failure. `traceback`: False where frames may hold personal data. `logger`: the
    source's own, so that an operator filters one source's lines by its logger name.
    """

    source: str
    path: Path | str
    dataset_key: str | None
    label: str
    scope: Scope | None = None
    ledger_name: str | None = None
    sha256: str | None = None
    fingerprint: Callable[[psycopg.Connection], str] | None = None
    snapshot: bool = False
    force: bool = False
    find_loaded: Callable[[psycopg.Connection, Batch], int | None] | None = None
    error_text: Callable[[BaseException], str] = default_error_text
    traceback: bool = True
    progress_every: int = 100_000
    unit: str = "rows"
    logger: logging.Logger = log
    started: float | None = None
    """`time.perf_counter()` when the work on this file began, when it began before the load (a
    roll extract counted ahead while the previous one was written): the ledger's duration and
    the logged rate count from it, not from the load's transaction alone."""


@dataclass(slots=True)
class Run:
    """One attempt in progress: its digest, its clock, the rows read so far (a failure records
    them) and the datasets it claimed. `prepare` may still set `dataset_key`, `scope` and
    `label` (a file whose dataset is known from its header)."""

    load: BatchLoad
    sha256: str
    dataset_key: str | None
    scope: Scope | None
    label: str
    started: float = field(default_factory=time.perf_counter)
    rows_read: int = 0
    claimed: dict[str | None, Batch] = field(default_factory=dict)
    progress: Progress | None = None
    attempt: int | None = None
    attempt_used: bool = False

    def take_attempt(self) -> int | None:
        """The committed `loading` row for the first ledger row this run writes, then None."""
        if self.attempt_used:
            return None
        self.attempt_used = True
        return self.attempt

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def end_progress(self) -> None:
        """Erase the live progress line before the summary (or the failure) is logged."""
        if self.progress is not None:
            self.progress.close()

    def count(self, rows: int = 1) -> None:
        """Count rows read, logging progress each time a multiple of `progress_every` passes."""
        before = self.rows_read
        self.rows_read = before + rows
        if self.progress is None:
            # The live line (rows, rate, ETA) shows only on a terminal, after a few seconds.
            self.progress = Progress(
                Path(self.load.path).name,
                total=estimate_rows(self.load.path),
                unit=self.load.unit,
                clock=time.perf_counter,
                started=self.started,
            )
        self.progress.advance(rows)
        if self.progress.enabled:
            return  # the live line says it; a log line would break it on the terminal
        every = self.load.progress_every
        if self.rows_read // every != before // every:
            name = Path(self.load.path).name
            self.load.logger.info("%s: %d %s read", name, self.rows_read, self.load.unit)

    @property
    def ledger_name(self) -> str:
        return self.load.ledger_name or Path(self.load.path).name


@dataclass(slots=True)
class Batch:
    """One dataset claimed by a run: skipped (`existing`), or loading once `begin` is called."""

    run: Run
    dataset_key: str | None
    scope: Scope | None
    label: str
    existing: int | None = None
    batch_id: int | None = None
    superseded: tuple[int, ...] = ()

    def begin(self, conn: psycopg.Connection) -> int:
        """Open the `running` ledger row; with a dataset scope, supersede and delete what the
        file replaces. Call it when there is something to write: a run that never calls it
        writes no ledger row (nothing to load)."""
        run = self.run
        source = run.load.source
        self.batch_id = ledger.start_batch(
            conn, source, run.ledger_name, run.sha256, self.dataset_key, attempt=run.take_attempt()
        )
        scope = self.scope
        if isinstance(scope, ReplaceDataset):
            assert self.dataset_key is not None
            self.superseded = tuple(
                ledger.supersede_batches(conn, source, self.dataset_key, keep=self.batch_id)
            )
            for table in scope.tables:
                conn.execute(f"delete from {table} where {scope.where}", scope.params)
        return self.batch_id


def lock_dataset(conn: psycopg.Connection, source: str, dataset_key: str | None) -> None:
    """The advisory lock of one (source, dataset), held until the transaction ends.

    Two-key form: its own lock space, apart from the one-key locks (`migrate`'s). The canvass
    purge takes the canvass loads' lock (dataset None) to never delete while a file lands."""
    conn.execute(
        "select pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
        (f"scrutin.{source}", dataset_key or ""),
    )


def claim(
    conn: psycopg.Connection,
    run: Run,
    dataset_key: str | None,
    scope: Scope | None,
    *,
    label: str | None = None,
) -> Batch:
    """Lock a dataset for the rest of the transaction and tell whether this file is loaded."""
    load = run.load
    lock_dataset(conn, load.source, dataset_key)
    if load.fingerprint is not None:
        run.sha256 = load.fingerprint(conn)
    batch = Batch(run, dataset_key, scope, label or load.label)
    run.claimed[dataset_key] = batch
    if not load.force:
        if load.find_loaded is not None:
            batch.existing = load.find_loaded(conn, batch)
        else:
            batch.existing = ledger.find_loaded_batch(conn, load.source, run.sha256, dataset_key)
    return batch


def skip(conn: psycopg.Connection, batch: Batch) -> BatchReport:
    """Record that the identical file was offered again; the data tables are not touched."""
    run = batch.run
    assert batch.existing is not None
    duration = run.elapsed()
    batch_id = ledger.record_skipped(
        conn,
        run.load.source,
        run.ledger_name,
        run.sha256,
        batch.dataset_key,
        duration_s=duration,
        attempt=run.take_attempt(),
    )
    run.load.logger.info(
        "%s skipped: identical content already loaded as batch %d (ledger batch %d)",
        batch.label,
        batch.existing,
        batch_id,
    )
    return BatchReport(
        batch_id=batch_id,
        status="skipped",
        duration_s=duration,
        sha256=run.sha256,
        loaded_batch_id=batch.existing,
    )


def close(conn: psycopg.Connection, batch: Batch, landed: Landed) -> BatchReport:
    """Finish a begun batch: replace by commune if that is its scope, then its ledger counts."""
    run = batch.run
    if batch.batch_id is None:  # `land` found nothing to write and began no batch
        return BatchReport(
            batch_id=0,
            status="empty",
            duration_s=run.elapsed(),
            sha256=run.sha256,
            loaded_batch_id=None,
        )
    replaced = 0
    if isinstance(batch.scope, ReplaceCommunes):
        replaced = _replace_communes(conn, batch, batch.scope, landed.communes)
    duration = run.elapsed()
    run.end_progress()
    ledger.finish_batch(
        conn,
        batch.batch_id,
        status="loaded",
        rows_read=landed.rows_read,
        rows_loaded=landed.rows_loaded,
        rows_rejected=landed.rows_rejected,
        rows_duplicate=landed.rows_duplicate,
        duration_s=duration,
    )
    rate = landed.rows_read / duration if duration > 0 else float("inf")
    run.load.logger.info(
        "%s loaded: batch %d, %s in %.2fs (%.0f %s/s)%s",
        batch.label,
        batch.batch_id,
        landed.detail or f"{landed.rows_loaded} of {landed.rows_read} {run.load.unit}",
        duration,
        rate,
        run.load.unit,
        f", superseded batches {list(batch.superseded)}" if batch.superseded else "",
    )
    return BatchReport(
        batch_id=batch.batch_id,
        status="loaded",
        duration_s=duration,
        sha256=run.sha256,
        loaded_batch_id=batch.batch_id,
        superseded=batch.superseded,
        rows_replaced=replaced,
    )


def _replace_communes(
    conn: psycopg.Connection, batch: Batch, scope: ReplaceCommunes, communes: Collection[str]
) -> int:
    assert batch.batch_id is not None and batch.dataset_key is not None
    replaced = 0
    touched: set[int] = set()  # the batches that lost rows: only they can have been emptied
    for table in scope.tables:
        for batch_id, rows in conn.execute(
            f"with gone as (delete from {table} where code_commune = any(%s) and batch_id <> %s "
            "returning batch_id) select batch_id, count(*) from gone group by batch_id",
            (list(communes), batch.batch_id),
        ).fetchall():
            touched.add(int(batch_id))
            replaced += int(rows)
    batch.superseded = tuple(
        ledger.supersede_emptied_batches(
            conn,
            batch.run.load.source,
            batch.dataset_key,
            scope.tables[0],
            keep=batch.batch_id,
            among=sorted(touched),
        )
    )
    return replaced


def run_batches(
    url_or_conn: str | psycopg.Connection | None,
    load: BatchLoad,
    body: Callable[[psycopg.Connection, Run], T],
    *,
    caller: str,
    prepare: Callable[[Run], None] | None = None,
) -> T:
    """The frame of every load: connection, migration check, digest, one transaction running
    `body` (which claims, skips or lands datasets), and the failure record.

    `prepare` runs before the transaction (detecting a layout, reading contours), with its
    failures recorded like the load's. `caller` names the public function in errors.
    """
    if url_or_conn is None or isinstance(url_or_conn, str):
        url = url_or_conn
        with connect(url) as conn:
            return _run(conn, load, body, prepare, caller=caller, reconnect=lambda: connect(url))
    # A caller's connection: never guess its DSN to reconnect (it may not be the default one).
    return _run(url_or_conn, load, body, prepare, caller=caller, reconnect=None)


def _run(
    conn: psycopg.Connection,
    load: BatchLoad,
    body: Callable[[psycopg.Connection, Run], T],
    prepare: Callable[[Run], None] | None,
    *,
    caller: str,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> T:
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            f"{caller} commits its own transactions: pass a connection with no "
            "transaction open (autocommit, or after commit/rollback)"
        )
    started = time.perf_counter() if load.started is None else load.started
    _check_connection(conn)
    sha = load.sha256 or (ZERO_SHA256 if load.fingerprint else ledger.file_sha256(load.path))
    run = Run(load, sha, load.dataset_key, load.scope, load.label, started=started)
    run.attempt = ledger.open_attempt(conn, load.source, run.ledger_name, sha, load.dataset_key)
    try:
        if prepare is not None:
            prepare(run)
        with conn.transaction():
            if load.snapshot:
                conn.execute("set transaction isolation level repeatable read")
            result = body(conn, run)
            # Nothing to load (or a savepoint undid its ledger row): no ledger row, as before.
            ledger.drop_attempt(conn, run.attempt)
        return result
    except Exception as exc:
        run.end_progress()
        run.attempt_used = False  # the transaction's use of it rolled back with it
        _record_failure(conn, run, exc, reconnect)
        raise
    finally:
        run.end_progress()
        ledger.close_attempt(conn, run.attempt)


CHECK_EVERY_S = 10.0
"""How often a connection that loads file after file (the ~35,000 roll extracts of a national
load, over one connection per group) checks the migrations again and sweeps dead loads."""
_CHECKED: weakref.WeakKeyDictionary[psycopg.Connection, float] = weakref.WeakKeyDictionary()


def _check_connection(conn: psycopg.Connection) -> None:
    """Before a load: the warehouse is migrated (else WarehouseNotMigrated, with what to run),
    and the `loading` rows of dead loads are marked `abandoned` (before our own attempt: its lock
    is ours, and re-entrant). Both once per connection every CHECK_EVERY_S: seven round trips
    that a commune's extract, loaded in ~10 ms, would otherwise pay each time. A new
    connection always checks: a DAG task, a CLI command, `scrutin status`."""
    now = time.monotonic()
    checked = _CHECKED.get(conn)
    if checked is not None and now - checked < CHECK_EVERY_S:
        return
    require_migrated(conn)
    ledger.mark_abandoned(conn)
    _CHECKED[conn] = now


def _record_failure(
    conn: psycopg.Connection,
    run: Run,
    exc: Exception,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> None:
    """Log and ledger the failure; never mask the original error if the ledger is unreachable."""
    load = run.load
    error = load.error_text(exc)
    duration = run.elapsed()
    load.logger.error("load of %s failed after %.2fs: %s", run.label, duration, error)
    keys: Sequence[str | None] = [b.dataset_key for b in run.claimed.values()] or [run.dataset_key]
    ledger.record_failure(
        conn,
        reconnect,
        source=load.source,
        path=load.path,
        sha256=run.sha256,
        dataset_keys=keys,
        error=error,
        rows_read=run.rows_read,
        duration_s=duration,
        traceback=load.traceback,
        attempt=run.attempt,
    )


def load_batch(
    url_or_conn: str | psycopg.Connection | None,
    load: BatchLoad,
    land: Callable[[psycopg.Connection, Batch], Landed],
    *,
    caller: str,
    prepare: Callable[[Run], None] | None = None,
) -> BatchReport:
    """Load one file as one dataset: skip it when identical, else `land` it (see the module).

    `land(conn, batch)` parses the file, calls `batch.begin(conn)` for the batch id when it is
    ready to write (checks that need no warehouse go before it), COPYs, and returns its counts.
    """

    def body(conn: psycopg.Connection, run: Run) -> BatchReport:
        batch = claim(conn, run, run.dataset_key, run.scope, label=run.label)
        load.logger.info("loading %s (sha256 %s)", run.label, run.sha256[:12])
        if batch.existing is not None:
            return skip(conn, batch)
        return close(conn, batch, land(conn, batch))

    return run_batches(url_or_conn, load, body, caller=caller, prepare=prepare)


def skip_if_loaded(
    url_or_conn: str | psycopg.Connection | None, load: BatchLoad, *, caller: str
) -> BatchReport | None:
    """When `load.sha256` is already loaded for the dataset, record the skip and return it;
    None otherwise. For a pinned download: the file need not even be fetched."""

    def body(conn: psycopg.Connection, run: Run) -> BatchReport | None:
        batch = claim(conn, run, run.dataset_key, run.scope)
        return None if batch.existing is None else skip(conn, batch)

    return run_batches(url_or_conn, load, body, caller=caller)
