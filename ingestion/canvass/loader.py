"""Land one canvassing-app export in `raw.canvass_knocks` (all or nothing, idempotent).

What the loader does, and nothing more: read the export, map each row to the canonical knock,
validate it, pseudonymise it, and COPY it. Every rule that needs more than the row itself lives
in dbt (`dbt/models/intermediate/canvass/`, docs/canvass.md): which bureau a knock belongs to
(the app's, else the nearest REU address), which version of a knock counts, the fast-knock,
contact-rate and opposition flags, and which knocks the marts leave out and why.

Semantics a DAG and an engineer rely on:
- Pseudonymised before landing: the canvasser and the address become HMAC keys with the
  campaign's secret. Names, phones, e-mails and notes are never read from the export; quarantine
  rows say where and why, never what. The door's coordinates (and, when the app gave no bureau,
  the unkeyed address hash the REU addresses carry) land too, for dbt's bureau matching and
  fast-knock check; they are purged with the knocks (docs/privacy.md).
- Invalid rows are quarantined (`quarantine.canvass_rows`: line, column, reason): a row that
  cannot be mapped, has no street or commune, or is dated more than 1 h after the load. A row
  dated up to 1 h ahead lands flagged `future_timestamp`, one outside the campaign window
  `outside_campaign_window` (the two checks that need only the row and the load).
- The load template (`scrutin.warehouse.batch`) frames the load: one transaction per file
  (ledger row, quarantined rows, landed rows and the opposition register commit together or not
  at all); a file-level problem (empty, truncated JSON document, wrong delimiter, unknown layout,
  a campaign past retention) or a database error rolls everything back, and the failure is then
  written to the ledger in its own transaction (no traceback: frames hold export rows) and
  re-raised.
- Idempotent by file: the same bytes (sha256) already loaded are skipped, whatever app they were
  loaded as (a `skipped` ledger row). The same knock in another file lands again, as another
  version: dbt counts the newest.
- The ledger reconciles: rows_read = rows_loaded + rows_rejected.
- The opposition register (`raw.canvass_suppression`) is landed here, not derived in dbt: it must
  outlive the knocks the retention purge deletes, so a do_not_contact keeps protecting the
  building. Each landed do_not_contact row records its building (earliest knock kept).
- Serialised: canvass loads and the purge hold the same lock (the template's for source `canvass`:
  the app is only known once the file is open).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestion.canvass import model
from ingestion.canvass.model import RowRejected
from ingestion.canvass.pseudonymise import Pseudonymiser, address_sha256, resolve_secret
from ingestion.canvass.readers import Export, open_export
from ingestion.errors import SourceFormatError
from scrutin.warehouse.batch import Batch, BatchLoad, BatchReport, Landed, Run, load_batch

if TYPE_CHECKING:
    import psycopg

    from scrutin.campaign import Campaign

log = logging.getLogger("scrutin.ingestion.canvass")

LEDGER_SOURCE = "canvass"
PROGRESS_EVERY = 100_000
CHUNK_ROWS = 5_000
RANGE_ROWS = 20_000
WORKERS_ENV = "SCRUTIN_CANVASS_WORKERS"
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
FUTURE_TOLERANCE = dt.timedelta(hours=1)

# The columns of raw.canvass_knocks the loader writes, in the order `_prepare_rows` emits them.
KNOCK_COLUMNS = (
    "batch_id",
    "line_no",
    "source",
    "knock_id",
    "campaign_id",
    "canvasser_key",
    "bureau_id",
    "building_key",
    "address_key",
    "longitude",
    "latitude",
    "knocked_at",
    "source_updated_at",
    "outcome",
    "topics",
    "intends_to_vote",
    "registered_here",
    "sentiment",
    "wants_to_volunteer",
    "consent",
    "integrity_flags",
)
NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A value escaped for COPY's text format (app ids are the only free text written)."""
    return value.translate(_COPY_ESCAPES)


def _copy_bool(value: bool | None) -> str:
    return NULL if value is None else ("t" if value else "f")


@dataclass(frozen=True, slots=True, kw_only=True)
class CanvassLoadReport(BatchReport):
    """What one call did; `loaded_batch_id` is the batch that holds this file's rows."""

    source: str
    file_name: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    new_suppressions: int = 0
    flags: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if self.status == "skipped":
            return (
                f"{self.file_name}: skipped (identical file already loaded as batch "
                f"{self.loaded_batch_id})"
            )
        flags = ", ".join(f"{k} {v}" for k, v in sorted(self.flags.items())) or "none"
        return (
            f"{self.file_name} ({self.source}): batch {self.batch_id}, {self.rows_read} read, "
            f"{self.rows_loaded} loaded, {self.rows_rejected} quarantined, "
            f"{self.new_suppressions} new do-not-contact buildings, row flags: {flags}, "
            f"{self.duration_s:.2f} s"
        )


@dataclass
class _Job:
    """The canvass part of one load: the campaign and key it runs under, what the file turned out
    to be, and what the landing counted."""

    path: Path
    file_name: str
    campaign: Campaign
    secret: str
    now: dt.datetime
    fmt: str | None
    # A replay (requeue.py) maps only these physical lines of the file; None: every line.
    lines: frozenset[int] | None = None
    source: str | None = None
    run: Run | None = None
    quarantined: list[tuple[int | None, str | None, str]] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    new_suppressions: int = 0
    flags: dict[str, int] = field(default_factory=dict)

    def prepare(self, run: Run) -> None:
        """Refuse a campaign past retention before anything is read (its knocks may no longer be
        held), as a file problem the ledger records."""
        if self.now >= self.campaign.retention_ends_at:
            raise SourceFormatError(
                self.path,
                None,
                None,
                f"campaign {self.campaign.campaign_id}: retention ended at "
                f"{self.campaign.retention_ends_at.isoformat()}; door knocks of this campaign "
                "may no longer be loaded",
            )

    def find_loaded(self, conn: psycopg.Connection, batch: Batch) -> int | None:
        """The same bytes loaded before, whatever app they were read as (the skip is recorded
        under that app)."""
        row = conn.execute(
            "select batch_id, dataset_key from raw.batch_ledger where source = %s "
            "and file_sha256 = %s and status = 'loaded' order by batch_id desc limit 1",
            (LEDGER_SOURCE, batch.run.sha256),
        ).fetchone()
        if row is None:
            return None
        batch.dataset_key = self.source = str(row[1]) if row[1] else "unknown"
        return int(row[0])

    def land(self, conn: psycopg.Connection, batch: Batch) -> Landed:
        export = open_export(self.path, self.fmt)
        batch.dataset_key = self.source = export.mapper.name
        _register_campaign(conn, self.campaign)
        batch_id = batch.begin(conn)
        self.run = run = batch.run
        with _phase(self, "parse, pseudonymise, copy"):
            _copy_knocks(conn, self, export, batch_id)
            _copy_quarantine(conn, self, batch_id)
        with _phase(self, "opposition register"):
            self.new_suppressions = _record_opposition(conn, self.source, batch_id)
        self.rows_loaded, self.flags = _landed(conn, batch_id)
        self.rows_read = run.rows_read
        rows_rejected = len(self.quarantined)
        if run.rows_read != self.rows_loaded + rows_rejected:
            raise RuntimeError(
                f"canvass ledger does not reconcile for {self.file_name}: read {run.rows_read}, "
                f"landed {self.rows_loaded}, quarantined {rows_rejected}"
            )
        return Landed(
            run.rows_read,
            self.rows_loaded,
            rows_rejected,
            detail=f"{self.rows_loaded} of {run.rows_read} rows landed, {rows_rejected} "
            f"quarantined ({self.source})",
        )


def load_canvass_file(
    url_or_conn: str | psycopg.Connection | None,
    path: str | Path,
    *,
    fmt: str | None = None,
    campaign: Campaign | None = None,
    secret: str | None = None,
    now: dt.datetime | None = None,
    file_name: str | None = None,
) -> CanvassLoadReport:
    """Land one export; see the module docstring for the semantics.

    `url_or_conn`: a DSN, None for the configured warehouse, or an idle psycopg connection
    (committed to). `fmt`: the app (qomon, ecanvasser, nationbuilder, osdi, pap), detected when
    None. `campaign`: defaults to `scrutin.campaign.load_campaign()`. `secret`: the HMAC secret,
    defaults to `resolve_secret()`. `now`: the reference time of the future-timestamp check (tests
    pin it). `file_name`: the name recorded in the ledger (the drop zone passes the delivered name
    of a file it copied locally).
    """
    from scrutin.campaign import load_campaign

    path = Path(path)
    job = _Job(
        path=path,
        file_name=file_name or path.name,
        campaign=campaign or load_campaign(),
        secret=secret or resolve_secret(),
        now=(now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC),
        fmt=fmt,
    )
    # The app, hence the dataset key, is known once the file is open: the lock and the skip are
    # the source's (dataset None), and `land` names the batch's dataset.
    load = BatchLoad(
        source=LEDGER_SOURCE,
        path=path,
        ledger_name=job.file_name,
        dataset_key=None,
        label=job.file_name,
        find_loaded=job.find_loaded,
        error_text=failure_reason,
        traceback=False,  # the frames of a canvass load hold export rows (names, notes)
        progress_every=PROGRESS_EVERY,
        logger=log,
    )
    outcome = load_batch(
        url_or_conn, load, job.land, caller="load_canvass_file", prepare=job.prepare
    )
    report = CanvassLoadReport(
        **outcome.outcome(),
        source=job.source or "unknown",
        file_name=job.file_name,
        rows_read=job.rows_read,
        rows_loaded=job.rows_loaded,
        rows_rejected=len(job.quarantined),
        new_suppressions=job.new_suppressions,
        flags=job.flags,
    )
    log.info("%s", report.summary())
    return report


@contextmanager
def _phase(job: _Job, label: str) -> Iterator[None]:
    """Log how long a step of the load took (engineers tune big loads from these lines)."""
    started = time.perf_counter()
    yield
    log.debug("%s: %s in %.2f s", job.file_name, label, time.perf_counter() - started)


@dataclass(frozen=True)
class _RowRules:
    """What a worker needs to turn records into landed rows (picklable, no connection)."""

    batch_id: int
    source: str
    campaign_id: str
    secret: str
    window_start: dt.datetime
    window_end: dt.datetime
    now: dt.datetime
    mappings_dir: str


_KEYS: dict[tuple[str, str], Pseudonymiser] = {}


def _prepare_rows(
    rules: _RowRules, chunk: list[tuple[int, dict[str, Any]]]
) -> tuple[bytes, list[tuple[int | None, str | None, str]]]:
    """Map, check and pseudonymise a chunk of records: (COPY text data, quarantined rows).

    The rows come back already written in COPY's text format: the loading process only streams
    bytes, which keeps it off the critical path when workers map in parallel.

    Pure and picklable so that big files can spread it over worker processes; the keyed-hash
    caches live per process (`_KEYS`).
    """
    from ingestion.canvass.mappers import get_mapper

    mapper = get_mapper(rules.source, rules.mappings_dir)
    keys = _KEYS.get((rules.secret, rules.source))
    if keys is None:
        keys = _KEYS[(rules.secret, rules.source)] = Pseudonymiser(rules.secret, rules.source)
    future_limit = rules.now + FUTURE_TOLERANCE
    batch = str(rules.batch_id)
    campaign = _copy_text(rules.campaign_id)
    rows: list[str] = []
    rejected: list[tuple[int | None, str | None, str]] = []
    for line_no, record in chunk:
        try:
            knock = mapper.map(record)
        except RowRejected as exc:
            rejected.append((line_no, exc.column, exc.reason))
            continue
        except (TypeError, AttributeError, KeyError, IndexError):
            rejected.append((line_no, None, "unexpected record structure for this app's export"))
            continue
        normalised = keys.address(knock.address)
        if normalised is None:
            rejected.append(
                (
                    line_no,
                    mapper.address_column,
                    "missing street or commune: the building cannot be keyed",
                )
            )
            continue
        if knock.knocked_at > future_limit:
            rejected.append(
                (
                    line_no,
                    mapper.time_column,
                    "timestamp more than 1 h in the future: clock or time-zone error",
                )
            )
            continue
        flags = []
        if knock.knocked_at > rules.now:
            flags.append(model.FLAG_FUTURE)
        if not rules.window_start <= knock.knocked_at < rules.window_end:
            flags.append(model.FLAG_OUTSIDE_WINDOW)
        rows.append(
            "\t".join(
                (
                    batch,
                    str(line_no),
                    rules.source,
                    keys.record_key(knock.knock_id),
                    campaign,
                    keys.canvasser_key(knock.canvasser_id),
                    knock.bureau_hint or NULL,
                    keys.building_key(normalised),
                    address_sha256(normalised) if knock.bureau_hint is None else NULL,
                    NULL if knock.longitude is None else repr(knock.longitude),
                    NULL if knock.latitude is None else repr(knock.latitude),
                    knock.knocked_at.isoformat(),
                    knock.version_at.isoformat(),
                    knock.outcome,
                    NULL if knock.topics is None else "{" + ",".join(knock.topics) + "}",
                    knock.intends_to_vote or NULL,
                    _copy_bool(knock.registered_here),
                    knock.sentiment or NULL,
                    _copy_bool(knock.wants_to_volunteer),
                    _copy_bool(knock.consent),
                    "{" + ",".join(flags) + "}",
                )
            )
        )
    data = ("\n".join(rows) + "\n").encode("utf-8") if rows else b""
    return data, rejected


def _chunks(job: _Job, export: Export) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Records in chunks; rows the reader already refused go straight to quarantine."""
    assert job.run is not None
    chunk: list[tuple[int, dict[str, Any]]] = []
    lines = job.lines
    for line_no, record in export.records:
        if lines is not None and line_no not in lines:
            continue
        job.run.count()
        if isinstance(record, RowRejected):
            job.quarantined.append((line_no, record.column, record.reason))
            continue
        chunk.append((line_no, record))
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def worker_count(path: Path) -> int:
    """Processes that parse and map a CSV export: `SCRUTIN_CANVASS_WORKERS`, else 2 for big
    files (JSON exports are always read in-process).

    Mapping and keyed hashing dominate a big load; a second process on the machine's second core
    roughly halves it. Small deliveries (the 15-minute drops) stay in-process: starting workers
    would cost more than it saves.
    """
    explicit = os.environ.get(WORKERS_ENV)
    if explicit:
        return max(1, int(explicit))
    if path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def _copy_knocks(conn: psycopg.Connection, job: _Job, export: Export, batch_id: int) -> None:
    """Map, check and pseudonymise every record, streaming the good ones into COPY."""
    assert job.source is not None
    rules = _RowRules(
        batch_id=batch_id,
        source=job.source,
        campaign_id=job.campaign.campaign_id,
        secret=job.secret,
        window_start=job.campaign.window_start,
        window_end=job.campaign.window_end,
        now=job.now,
        mappings_dir=str(export.mapper.mapping.path.parent),
    )
    workers = worker_count(job.path)
    copy_sql = f"copy raw.canvass_knocks ({', '.join(KNOCK_COLUMNS)}) from stdin"
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        if workers == 1 or export.layout != "csv" or job.lines is not None:
            for chunk in _chunks(job, export):
                data, rejected = _prepare_rows(rules, chunk)
                job.quarantined.extend(rejected)
                copy.write(data)
            return
        _copy_in_workers(job, export, rules, workers, copy)


def _prepare_range(
    rules: _RowRules,
    path: str,
    header: tuple[str, ...],
    delimiter: str,
    span: tuple[int, int, int],
) -> tuple[bytes, list[tuple[int | None, str | None, str]], int]:
    """A worker's share: parse one byte range of a CSV export, then `_prepare_rows` it."""
    from ingestion.canvass.readers import csv_range_records

    start, end, first_line = span
    records, rows = csv_range_records(
        Path(path), header, delimiter, start=start, end=end, first_line=first_line
    )
    good: list[tuple[int, dict[str, Any]]] = []
    rejected: list[tuple[int | None, str | None, str]] = []
    for line_no, record in records:
        if isinstance(record, RowRejected):
            rejected.append((line_no, record.column, record.reason))
        else:
            good.append((line_no, record))
    data, mapped_rejected = _prepare_rows(rules, good)
    return data, rejected + mapped_rejected, rows


def _copy_in_workers(job: _Job, export: Export, rules: _RowRules, workers: int, copy: Any) -> None:
    """Big CSV files: worker processes parse and map byte ranges, this process only streams.

    The ranges are cut at record boundaries by the CSV parser itself (`csv_ranges`), so quoted
    values spanning lines are never split; results are written in file order.
    """
    import multiprocessing

    from ingestion.canvass.readers import csv_ranges

    run = job.run
    assert run is not None
    export.records.close()  # this path reads the file by ranges instead
    ranges = csv_ranges(job.path, export.data_start, export.mapper.delimiter, RANGE_ROWS)
    task = functools.partial(
        _prepare_range, rules, str(job.path), export.header, export.mapper.delimiter
    )
    # spawn, not fork: the loading process may hold threads (an Airflow task runner, a
    # connection pool) whose locks a forked child would inherit locked and wait on forever.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for data, rejected, rows in pool.imap(task, ranges):
            run.count(rows)
            job.quarantined.extend(rejected)
            copy.write(data)
    log.info("%s: %d rows read by %d worker processes", job.file_name, run.rows_read, workers)
    if run.rows_read == 0:
        raise SourceFormatError(job.path, 2, None, "no data row: the export holds a header only")


def _copy_quarantine(conn: psycopg.Connection, job: _Job, batch_id: int) -> None:
    if not job.quarantined:
        return
    with (
        conn.cursor() as cur,
        cur.copy(
            "copy quarantine.canvass_rows "
            "(batch_id, source, file_name, line_no, reason, column_name) from stdin"
        ) as copy,
    ):
        for line_no, column, reason in job.quarantined:
            copy.write_row((batch_id, job.source, job.file_name, line_no, reason, column))


def _record_opposition(conn: psycopg.Connection, source: str, batch_id: int) -> int:
    """Add this file's do_not_contact buildings to the register; the number of new ones.

    An entry keeps the earliest do_not_contact knock of its building (`first_seen_at`): dbt flags
    the knocks made there after it. Every landed do_not_contact row counts, whatever dbt later
    decides about its bureau or version: the person asked not to be contacted again.
    """
    row = conn.execute(
        """
        with changed as (
            insert into raw.canvass_suppression (building_key, first_seen_at, source)
            select building_key, min(knocked_at), %(source)s
            from raw.canvass_knocks
            where batch_id = %(batch_id)s
                and outcome = %(dnc)s
            group by building_key
            on conflict (building_key) do update set
                first_seen_at = excluded.first_seen_at,
                source = excluded.source
            where excluded.first_seen_at < raw.canvass_suppression.first_seen_at
            returning (xmax = 0) as inserted
        )

        select count(*) filter (where inserted) from changed
        """,
        {"source": source, "batch_id": batch_id, "dnc": model.DO_NOT_CONTACT},
    ).fetchone()
    return int(row[0]) if row else 0


def _landed(conn: psycopg.Connection, batch_id: int) -> tuple[int, dict[str, int]]:
    """Rows this batch landed (counted in the table, so the ledger check is a real one) and its
    row flags."""
    row = conn.execute(
        "select count(*) from raw.canvass_knocks where batch_id = %s", (batch_id,)
    ).fetchone()
    flags = conn.execute(
        "select flag, count(*) from raw.canvass_knocks "
        "cross join lateral unnest(integrity_flags) as flag "
        "where batch_id = %s group by flag",
        (batch_id,),
    ).fetchall()
    return (int(row[0]) if row else 0), {str(flag): int(n) for flag, n in flags}


def _register_campaign(conn: psycopg.Connection, campaign: Campaign) -> None:
    conn.execute(
        """
        insert into ops.canvass_campaigns (
            campaign_id, election_date, campaign_start, retention_days, k_min,
            retention_ends_at, params_hash
        )
        values (%s, %s, %s, %s, %s, %s, %s)
        on conflict (campaign_id) do update set
            election_date = excluded.election_date,
            campaign_start = excluded.campaign_start,
            retention_days = excluded.retention_days,
            k_min = excluded.k_min,
            retention_ends_at = excluded.retention_ends_at,
            params_hash = excluded.params_hash,
            updated_at = now()
        where ops.canvass_campaigns.params_hash <> excluded.params_hash
        """,
        (
            campaign.campaign_id,
            campaign.election_date,
            campaign.campaign_start,
            campaign.retention_days,
            campaign.k_min,
            campaign.retention_ends_at,
            campaign.params_hash(),
        ),
    )


# ---- failures -------------------------------------------------------------------------------


def failure_reason(exc: BaseException) -> str:
    """The message recorded for a failed file (ledger, drop zone reason file).

    Data errors carry their own message (file, line, column, expectation; never values).
    Anything else is named by type only plus its first line: a database error could quote a
    value of the row it failed on.
    """
    if isinstance(exc, SourceFormatError):
        return str(exc)
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    if type(exc).__module__.startswith("psycopg"):
        return f"{type(exc).__name__} (database error; see the server log)"
    return f"{type(exc).__name__}: {first_line}"[:500]
