"""Load one canvassing-app export into `raw.canvass_knocks` (all or nothing, idempotent).

Semantics a DAG and an engineer rely on:
- Pseudonymised before landing: rows are mapped, their canvasser and address turned into HMAC
  keys, and only then COPYed into a temporary table (which also holds coordinates, for the
  bureau lookup and the distance check, and is dropped at commit). Names, phones, e-mails and
  notes are never read from the export; quarantine rows say where and why, never what.
- One transaction per file: ledger row, quarantined rows, upserted knocks, opposition register
  and integrity flags commit together or not at all. A file-level problem (empty, truncated JSON
  document, wrong delimiter, unknown layout) or a database error rolls everything back; the
  failure is then written to the ledger in its own transaction and re-raised.
- Idempotent: the same bytes (sha256) already loaded are skipped (a `skipped` ledger row). The
  same knock in another file is upserted by (source, knock_id): an equal or older version changes
  nothing and counts as a duplicate; a strictly newer version (the app's modification time, else
  its knock time) replaces the row. Within one file the newest version of a knock wins.
- The ledger reconciles: rows_read = rows_loaded + rows_rejected + rows_duplicate.
- Serialised: canvass loads take one advisory lock, so two workers never interleave their
  upserts and integrity recomputations.

Integrity checks (flags on the row; see docs/canvass.md): a timestamp up to 1 h in the future is
flagged `future_timestamp`, more than 1 h ahead the row is quarantined; outside the campaign window
`outside_campaign_window`; knocks by one canvasser less than 60 s apart at doors more than 200 m
apart (or at different buildings when coordinates are missing) `too_fast_distant` (within the
file); a canvasser with more than 90 % conversations over at least 20 knocks of the campaign
`high_contact_rate_canvasser` (all their knocks); a knock after a `do_not_contact` at the same
building `suppressed_building`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ingestion.canvass import model
from ingestion.canvass.model import RowRejected
from ingestion.canvass.pseudonymise import Pseudonymiser, address_sha256, resolve_secret
from ingestion.canvass.readers import Export, open_export
from ingestion.errors import SourceFormatError
from scrutin.db import connect
from scrutin.warehouse import ledger
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    import psycopg

    from scrutin.campaign import Campaign

log = logging.getLogger("scrutin.ingestion.canvass")

LEDGER_SOURCE = "canvass"
REU_TABLE = "raw.reu_addresses"
PROGRESS_EVERY = 100_000
CHUNK_ROWS = 5_000
RANGE_ROWS = 20_000
WORKERS_ENV = "SCRUTIN_CANVASS_WORKERS"
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
FUTURE_TOLERANCE = dt.timedelta(hours=1)
REU_RADIUS_M = 150.0
FAST_SECONDS = 60
FAST_DISTANCE_M = 200.0
HIGH_RATE = 0.9
HIGH_RATE_MIN_KNOCKS = 20
EARTH_RADIUS_M = 6_371_008.8
_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*")

_INCOMING_COLUMNS = (
    "line_no",
    "knock_id",
    "canvasser_key",
    "bureau_id",
    "building_key",
    "address_key",
    "longitude",
    "latitude",
    "knocked_at",
    "version_at",
    "outcome",
    "topics",
    "intends_to_vote",
    "registered_here",
    "sentiment",
    "wants_to_volunteer",
    "consent",
    "flags",
)
NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A value escaped for COPY's text format (app ids are the only free text written)."""
    return value.translate(_COPY_ESCAPES)


def _copy_bool(value: bool | None) -> str:
    return NULL if value is None else ("t" if value else "f")


class CanvassNotReady(RuntimeError):
    """The warehouse has no bureau reference yet (election results or REU bureaux): canvass
    rows could not be checked against it. Not a data problem: load the references, retry."""


@dataclass(frozen=True)
class CanvassLoadReport:
    """What one call did. `loaded_batch_id` is the batch that holds this file's rows."""

    batch_id: int
    status: Literal["loaded", "skipped"]
    source: str
    file_name: str
    sha256: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    new_suppressions: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    loaded_batch_id: int = 0

    def summary(self) -> str:
        if self.status == "skipped":
            return (
                f"{self.file_name}: skipped (identical file already loaded as batch "
                f"{self.loaded_batch_id})"
            )
        flags = ", ".join(f"{k} {v}" for k, v in sorted(self.flags.items())) or "none"
        return (
            f"{self.file_name} ({self.source}): batch {self.batch_id}, {self.rows_read} read, "
            f"{self.rows_loaded} loaded ({self.rows_inserted} new, {self.rows_updated} updated), "
            f"{self.rows_rejected} quarantined, {self.rows_duplicate} duplicates, "
            f"{self.new_suppressions} new do-not-contact buildings, flags: {flags}, "
            f"{self.duration_s:.2f} s"
        )


@dataclass
class _Job:
    path: Path
    file_name: str
    sha256: str
    campaign: Campaign
    secret: str
    now: dt.datetime
    fmt: str | None
    reu_table: str
    started: float
    source: str | None = None
    rows_read: int = 0
    quarantined: list[tuple[int | None, str | None, str]] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def load_canvass_file(
    url_or_conn: str | psycopg.Connection | None,
    path: str | Path,
    *,
    fmt: str | None = None,
    campaign: Campaign | None = None,
    secret: str | None = None,
    now: dt.datetime | None = None,
    file_name: str | None = None,
    reu_table: str = REU_TABLE,
) -> CanvassLoadReport:
    """Load one export; see the module docstring for the semantics.

    `url_or_conn`: a DSN, None for the configured warehouse, or an idle psycopg connection
    (committed to). `fmt`: the app (qomon, ecanvasser, nationbuilder, osdi, pap), detected when
    None. `campaign`: defaults to `scrutin.campaign.load_campaign()`. `secret`: the HMAC secret,
    defaults to `resolve_secret()`. `now`: the reference time of the future-timestamp check (tests
    pin it). `file_name`: the name recorded in the ledger (the drop zone passes the delivered name
    of a file it copied locally). `reu_table`: where REU addresses are looked up.
    """
    from scrutin.campaign import load_campaign

    if not _TABLE_NAME.fullmatch(reu_table):
        raise ValueError(f"reu_table must be a plain schema.table name, got {reu_table!r}")
    path = Path(path)
    job = _Job(
        path=path,
        file_name=file_name or path.name,
        sha256=ledger.file_sha256(path),
        campaign=campaign or load_campaign(),
        secret=secret or resolve_secret(),
        now=(now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC),
        fmt=fmt,
        reu_table=reu_table,
        started=time.perf_counter(),
    )
    if url_or_conn is None or isinstance(url_or_conn, str):
        url = url_or_conn
        with connect(url) as conn:
            return _load(conn, job, lambda: connect(url))
    return _load(url_or_conn, job, None)


def _load(
    conn: psycopg.Connection,
    job: _Job,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> CanvassLoadReport:
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            "load_canvass_file commits its own transactions: pass a connection with no "
            "transaction open (autocommit, or after commit/rollback)"
        )
    require_migrated(conn)
    log.info("loading canvass export %s (sha256 %s)", job.file_name, job.sha256[:12])
    try:
        if job.now >= job.campaign.retention_ends_at:
            raise SourceFormatError(
                job.path,
                None,
                None,
                f"campaign {job.campaign.campaign_id}: retention ended at "
                f"{job.campaign.retention_ends_at.isoformat()}; door knocks of this campaign "
                "may no longer be loaded",
            )
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('scrutin.canvass'))")
            existing = _loaded_batch(conn, job.sha256)
            if existing is not None:
                report = _skip(conn, job, existing)
            else:
                export = open_export(job.path, job.fmt)
                job.source = export.mapper.name
                report = _land(conn, job, export)
    except Exception as exc:
        _record_failure(conn, job, exc, reconnect)
        raise
    log.info("%s", report.summary())
    return report


def _loaded_batch(conn: psycopg.Connection, sha256: str) -> int | None:
    row = conn.execute(
        "select batch_id from raw.batch_ledger where source = %s and file_sha256 = %s "
        "and status = 'loaded' order by batch_id desc limit 1",
        (LEDGER_SOURCE, sha256),
    ).fetchone()
    return int(row[0]) if row else None


def _skip(conn: psycopg.Connection, job: _Job, existing: int) -> CanvassLoadReport:
    row = conn.execute(
        "select dataset_key from raw.batch_ledger where batch_id = %s", (existing,)
    ).fetchone()
    source = str(row[0]) if row and row[0] else "unknown"
    batch_id = ledger.record_skipped(
        conn, LEDGER_SOURCE, job.file_name, job.sha256, source, duration_s=job.elapsed()
    )
    return CanvassLoadReport(
        batch_id=batch_id,
        status="skipped",
        source=source,
        file_name=job.file_name,
        sha256=job.sha256,
        duration_s=job.elapsed(),
        loaded_batch_id=existing,
    )


# ---- landing --------------------------------------------------------------------------------


def _land(conn: psycopg.Connection, job: _Job, export: Export) -> CanvassLoadReport:
    assert job.source is not None
    reu = _reu_available(conn, job.reu_table)
    if not _has_bureau_reference(conn, job.reu_table, reu):
        raise CanvassNotReady(
            "no bureau reference in the warehouse (raw.election_results_bureau and "
            f"{job.reu_table} are empty or missing): load election results or REU addresses "
            "before canvass exports, then retry"
        )
    _register_campaign(conn, job.campaign)
    batch_id = ledger.start_batch(conn, LEDGER_SOURCE, job.file_name, job.sha256, job.source)
    conn.execute(_CREATE_INCOMING)
    with _phase(job, "parse, pseudonymise, copy"):
        _copy_incoming(conn, job, export)
    # Temporary tables are never auto-analysed: without statistics the planner would treat a
    # million incoming rows as a handful for the joins below.
    conn.execute("analyze canvass_incoming")
    with _phase(job, "bureaux"):
        if reu:
            _resolve_bureaux_from_reu(conn, job.reu_table)
        rejected_sql = _quarantine_bureaux(conn, job, export, batch_id, reu)
        _copy_quarantine(conn, job, batch_id)
    with _phase(job, "dedupe, time-distance"):
        duplicates_in_file = _dedupe_incoming(conn)
        _flag_too_fast(conn)
    with _phase(job, "opposition, contact rates"):
        new_suppressions = _update_suppression(conn, job.source)
        _flag_suppressed_incoming(conn)
        _count_contacts(conn, job)
    with _phase(job, "upsert"):
        inserted, updated, remaining = _upsert(conn, job, batch_id)
    with _phase(job, "late opposition, flipped verdicts"):
        _flag_suppressed_existing(conn, batch_id)
        _apply_verdict_changes(conn, batch_id)
        flags = _flag_counts(conn, job, batch_id)

    rows_rejected = len(job.quarantined) + rejected_sql
    rows_loaded = inserted + updated
    rows_duplicate = duplicates_in_file + (remaining - rows_loaded)
    if job.rows_read != rows_loaded + rows_rejected + rows_duplicate:
        raise RuntimeError(
            f"canvass ledger does not reconcile for {job.file_name}: read {job.rows_read}, "
            f"loaded {rows_loaded}, quarantined {rows_rejected}, duplicates {rows_duplicate}"
        )
    duration = job.elapsed()
    ledger.finish_batch(
        conn,
        batch_id,
        status="loaded",
        rows_read=job.rows_read,
        rows_loaded=rows_loaded,
        rows_rejected=rows_rejected,
        duration_s=duration,
    )
    conn.execute(
        "update raw.batch_ledger set rows_duplicate = %s where batch_id = %s",
        (rows_duplicate, batch_id),
    )
    return CanvassLoadReport(
        batch_id=batch_id,
        status="loaded",
        source=job.source,
        file_name=job.file_name,
        sha256=job.sha256,
        rows_read=job.rows_read,
        rows_loaded=rows_loaded,
        rows_inserted=inserted,
        rows_updated=updated,
        rows_rejected=rows_rejected,
        rows_duplicate=rows_duplicate,
        new_suppressions=new_suppressions,
        flags=flags,
        duration_s=duration,
        loaded_batch_id=batch_id,
    )


@contextmanager
def _phase(job: _Job, label: str) -> Iterator[None]:
    """Log how long a step of the load took (engineers tune big loads from these lines)."""
    started = time.perf_counter()
    yield
    log.debug("%s: %s in %.2f s", job.file_name, label, time.perf_counter() - started)


_CREATE_INCOMING = """
create temp table canvass_incoming (
    line_no             integer,
    knock_id            text not null,
    canvasser_key       text not null,
    bureau_id           text,
    building_key        text not null,
    address_key         text,
    longitude           double precision,
    latitude            double precision,
    knocked_at          timestamptz not null,
    version_at          timestamptz not null,
    outcome             text not null,
    topics              text[],
    intends_to_vote     text,
    registered_here     boolean,
    sentiment           text,
    wants_to_volunteer  boolean,
    consent             boolean,
    flags               text[] not null
) on commit drop
"""


@dataclass(frozen=True)
class _RowRules:
    """What a worker needs to turn records into incoming rows (picklable, no connection)."""

    source: str
    secret: str
    window_start: dt.datetime
    window_end: dt.datetime
    now: dt.datetime


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

    mapper = get_mapper(rules.source)
    keys = _KEYS.get((rules.secret, rules.source))
    if keys is None:
        keys = _KEYS[(rules.secret, rules.source)] = Pseudonymiser(rules.secret, rules.source)
    future_limit = rules.now + FUTURE_TOLERANCE
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
                    str(line_no),
                    _copy_text(knock.knock_id),
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
    chunk: list[tuple[int, dict[str, Any]]] = []
    for line_no, record in export.records:
        job.rows_read += 1
        if job.rows_read % PROGRESS_EVERY == 0:
            log.info("%s: %d rows read", job.file_name, job.rows_read)
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


def _copy_incoming(conn: psycopg.Connection, job: _Job, export: Export) -> None:
    """Map, check and pseudonymise every record, streaming the good ones into COPY."""
    assert job.source is not None
    rules = _RowRules(
        source=job.source,
        secret=job.secret,
        window_start=job.campaign.window_start,
        window_end=job.campaign.window_end,
        now=job.now,
    )
    workers = worker_count(job.path)
    copy_sql = f"copy canvass_incoming ({', '.join(_INCOMING_COLUMNS)}) from stdin"
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        if workers == 1 or export.layout != "csv":
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

    export.records.close()  # this path reads the file by ranges instead
    ranges = csv_ranges(job.path, export.data_start, export.mapper.delimiter, RANGE_ROWS)
    task = functools.partial(
        _prepare_range, rules, str(job.path), export.header, export.mapper.delimiter
    )
    # spawn, not fork: the loading process may hold threads (an Airflow task runner, a
    # connection pool) whose locks a forked child would inherit locked and wait on forever.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for data, rejected, rows in pool.imap(task, ranges):
            job.rows_read += rows
            job.quarantined.extend(rejected)
            copy.write(data)
    log.info("%s: %d rows read by %d worker processes", job.file_name, job.rows_read, workers)
    if job.rows_read == 0:
        raise SourceFormatError(job.path, 2, None, "no data row: the export holds a header only")


# ---- bureau resolution ----------------------------------------------------------------------


def _reu_available(conn: psycopg.Connection, reu_table: str) -> bool:
    """True when the REU address table exists with the columns the lookup needs."""
    schema, _, table = reu_table.partition(".")
    rows = conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = %s and table_name = %s",
        (schema, table),
    ).fetchall()
    columns = {r[0] for r in rows}
    if not columns:
        return False
    needed = {"bureau_id", "longitude", "latitude", "address_key"}
    if not needed <= columns:
        log.warning(
            "%s lacks %s: bureau lookup from REU addresses skipped",
            reu_table,
            ", ".join(sorted(needed - columns)),
        )
        return False
    return True


def _has_bureau_reference(conn: psycopg.Connection, reu_table: str, reu: bool) -> bool:
    sql = "select exists (select 1 from raw.election_results_bureau)"
    if reu:
        sql += f" or exists (select 1 from {reu_table})"
    row = conn.execute(sql).fetchone()
    return bool(row and row[0])


def _distance_sql(lon_a: str, lat_a: str, lon_b: str, lat_b: str) -> str:
    """Great-circle distance in metres (haversine), for two points given as SQL expressions."""
    return (
        f"(2 * {EARTH_RADIUS_M} * asin(sqrt("
        f"power(sin(radians({lat_b} - {lat_a}) / 2), 2) + "
        f"cos(radians({lat_a})) * cos(radians({lat_b})) * "
        f"power(sin(radians({lon_b} - {lon_a}) / 2), 2))))"
    )


def _resolve_bureaux_from_reu(conn: psycopg.Connection, reu_table: str) -> None:
    """Bureau of the nearest REU address within 150 m, else of the same address key.

    The REU rows near the file's points are first copied into an indexed temporary table: the
    national table has no spatial index, and a bounding box keeps the lookup to the campaign's
    area.
    """
    degrees = REU_RADIUS_M / 111_000.0
    conn.execute(
        f"""
        create temp table canvass_reu_near on commit drop as
        select r.bureau_id, r.longitude, r.latitude
        from {reu_table} as r,
            (
                select
                    min(latitude) as lat_min,
                    max(latitude) as lat_max,
                    min(longitude) as lon_min,
                    max(longitude) as lon_max,
                    max(abs(latitude)) as lat_abs
                from canvass_incoming
                where bureau_id is null and longitude is not null
            ) as box
        where box.lat_min is not null
            and r.latitude between box.lat_min - {degrees} and box.lat_max + {degrees}
            and r.longitude between box.lon_min - {degrees} / cos(radians(box.lat_abs))
                and box.lon_max + {degrees} / cos(radians(box.lat_abs))
            and r.bureau_id is not null
        """
    )
    conn.execute("create index on canvass_reu_near (latitude)")
    distance = _distance_sql("i.longitude", "i.latitude", "r.longitude", "r.latitude")
    conn.execute(
        f"""
        update canvass_incoming as t
        set bureau_id = nearest.bureau_id
        from (
            select distinct on (i.line_no)
                i.line_no,
                r.bureau_id,
                {distance} as metres
            from canvass_incoming as i
            inner join canvass_reu_near as r
                on r.latitude between i.latitude - {degrees} and i.latitude + {degrees}
                and r.longitude between i.longitude - {degrees} / cos(radians(i.latitude))
                    and i.longitude + {degrees} / cos(radians(i.latitude))
            where i.bureau_id is null
                and i.longitude is not null
            order by i.line_no, metres
        ) as nearest
        where nearest.line_no = t.line_no
            and nearest.metres <= {REU_RADIUS_M}
        """
    )
    conn.execute(
        f"""
        update canvass_incoming as t
        set bureau_id = r.bureau_id
        from (
            select distinct on (address_key) address_key, bureau_id
            from {reu_table}
            where address_key in (
                select address_key from canvass_incoming where bureau_id is null
            )
            order by address_key, bureau_id
        ) as r
        where t.bureau_id is null
            and r.address_key = t.address_key
        """
    )


def _quarantine_bureaux(
    conn: psycopg.Connection, job: _Job, export: Export, batch_id: int, reu: bool
) -> int:
    """Move rows with no bureau, or a bureau unknown to the reference, to quarantine."""
    reu_check = (
        f"and not exists (select 1 from {job.reu_table} as r where r.bureau_id = b.bureau_id)"
        if reu
        else ""
    )
    cur = conn.execute(
        f"""
        with unknown as (
            select b.bureau_id
            from (select distinct bureau_id from canvass_incoming where bureau_id is not null) as b
            where not exists (
                select 1 from raw.election_results_bureau as e where e.bureau_id = b.bureau_id
            )
            {reu_check}
        ),

        gone as (
            delete from canvass_incoming as i
            where i.bureau_id is null
                or i.bureau_id in (select bureau_id from unknown)
            returning i.line_no, i.bureau_id is null as missing
        )

        insert into quarantine.canvass_rows
            (batch_id, source, file_name, line_no, reason, column_name)
        select
            %(batch_id)s,
            %(source)s,
            %(file_name)s,
            line_no,
            case
                when missing then 'bureau missing and not found from the REU addresses '
                    || '(no REU address within 150 m of the coordinates, no address match)'
                else 'bureau not in the reference (bureaux of the loaded election results '
                    || 'and REU addresses)'
            end,
            %(column)s
        from gone
        """,
        {
            "batch_id": batch_id,
            "source": job.source,
            "file_name": job.file_name,
            "column": export.mapper.bureau_column,
        },
    )
    return cur.rowcount


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


# ---- upsert and integrity -------------------------------------------------------------------


def _dedupe_incoming(conn: psycopg.Connection) -> int:
    """Keep the newest version of each knock of the file (latest line on ties)."""
    row = conn.execute(
        "select exists (select 1 from canvass_incoming group by knock_id having count(*) > 1)"
    ).fetchone()
    if not (row and row[0]):
        return 0  # the usual case: a cheap aggregate instead of a self-join
    cur = conn.execute(
        """
        delete from canvass_incoming as a
        using canvass_incoming as b
        where a.knock_id = b.knock_id
            and (b.version_at, b.line_no) > (a.version_at, a.line_no)
        """
    )
    return cur.rowcount


def _flag_too_fast(conn: psycopg.Connection) -> None:
    distance = _distance_sql("longitude", "latitude", "prev_lon", "prev_lat")
    conn.execute(
        f"""
        with ordered as (
            select
                line_no,
                knocked_at,
                building_key,
                longitude,
                latitude,
                lag(line_no) over w as prev_line,
                lag(knocked_at) over w as prev_at,
                lag(building_key) over w as prev_building,
                lag(longitude) over w as prev_lon,
                lag(latitude) over w as prev_lat
            from canvass_incoming
            window w as (partition by canvasser_key order by knocked_at, line_no)
        ),

        pairs as (
            select line_no, prev_line
            from ordered
            where prev_at is not null
                and knocked_at - prev_at < interval '{FAST_SECONDS} seconds'
                and case
                    when longitude is not null and prev_lon is not null
                        then {distance} > {FAST_DISTANCE_M}
                    else building_key <> prev_building
                end
        )

        update canvass_incoming
        set flags = array_append(flags, '{model.FLAG_TOO_FAST}')
        where line_no in (select line_no from pairs union select prev_line from pairs)
            and not ('{model.FLAG_TOO_FAST}' = any(flags))
        """
    )


def _upsert(conn: psycopg.Connection, job: _Job, batch_id: int) -> tuple[int, int, int]:
    """Insert new knocks, replace strictly newer versions; (inserted, updated, offered)."""
    row = conn.execute(
        """
        with up as (
            insert into raw.canvass_knocks (
                source,
                knock_id,
                campaign_id,
                canvasser_key,
                bureau_id,
                building_key,
                knocked_at,
                outcome,
                topics,
                intends_to_vote,
                registered_here,
                sentiment,
                wants_to_volunteer,
                consent,
                integrity_flags,
                batch_id,
                source_updated_at
            )
            select
                %(source)s,
                knock_id,
                %(campaign_id)s,
                canvasser_key,
                bureau_id,
                building_key,
                knocked_at,
                outcome,
                topics,
                intends_to_vote,
                registered_here,
                sentiment,
                wants_to_volunteer,
                consent,
                flags,
                %(batch_id)s,
                version_at
            from canvass_incoming
            -- key order: the unique index is filled sequentially instead of at random
            order by knock_id
            on conflict (source, knock_id) do update set
                campaign_id = excluded.campaign_id,
                canvasser_key = excluded.canvasser_key,
                bureau_id = excluded.bureau_id,
                building_key = excluded.building_key,
                knocked_at = excluded.knocked_at,
                outcome = excluded.outcome,
                topics = excluded.topics,
                intends_to_vote = excluded.intends_to_vote,
                registered_here = excluded.registered_here,
                sentiment = excluded.sentiment,
                wants_to_volunteer = excluded.wants_to_volunteer,
                consent = excluded.consent,
                integrity_flags = excluded.integrity_flags,
                batch_id = excluded.batch_id,
                source_updated_at = excluded.source_updated_at,
                updated_at = now()
            where raw.canvass_knocks.source_updated_at < excluded.source_updated_at
            returning (xmax = 0) as inserted
        )
        select
            count(*) filter (where inserted),
            count(*) filter (where not inserted),
            (select count(*) from canvass_incoming)
        from up
        """,
        {"source": job.source, "campaign_id": job.campaign.campaign_id, "batch_id": batch_id},
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _update_suppression(conn: psycopg.Connection, source: str) -> int:
    """Record this file's do_not_contact buildings (earliest knock = first_seen_at).

    The buildings whose register entry is new or moved earlier are kept in a temporary table:
    only their older knocks can become `suppressed_building` (see `_flag_suppressed_existing`).
    """
    conn.execute(
        """
        create temp table canvass_suppression_changed on commit drop as
        with changed as (
            insert into raw.canvass_suppression (building_key, first_seen_at, source)
            select building_key, min(knocked_at), %(source)s
            from canvass_incoming
            where outcome = %(dnc)s
            group by building_key
            on conflict (building_key) do update set
                first_seen_at = excluded.first_seen_at,
                source = excluded.source
            where excluded.first_seen_at < raw.canvass_suppression.first_seen_at
            returning building_key, (xmax = 0) as inserted
        )
        select building_key, inserted from changed
        """,
        {"source": source, "dnc": model.DO_NOT_CONTACT},
    )
    row = conn.execute(
        "select count(*) filter (where inserted) from canvass_suppression_changed"
    ).fetchone()
    return int(row[0]) if row else 0


def _flag_suppressed_incoming(conn: psycopg.Connection) -> None:
    """Flag this file's knocks made after their building's first do_not_contact.

    Done on the temporary table before the upsert, so the rows land with their flag instead of
    being rewritten afterwards.
    """
    conn.execute(
        f"""
        update canvass_incoming as i
        set flags = array_append(i.flags, '{model.FLAG_SUPPRESSED}')
        from raw.canvass_suppression as s
        where s.building_key = i.building_key
            and i.knocked_at > s.first_seen_at
        """
    )


def _flag_suppressed_existing(conn: psycopg.Connection, batch_id: int) -> None:
    """Flag earlier batches' knocks at buildings this file newly suppressed (late exports)."""
    conn.execute(
        f"""
        update raw.canvass_knocks as k
        set integrity_flags = array_append(k.integrity_flags, '{model.FLAG_SUPPRESSED}'),
            updated_at = now()
        from canvass_suppression_changed as c
        inner join raw.canvass_suppression as s
            on s.building_key = c.building_key
        where k.building_key = c.building_key
            and k.batch_id <> %(batch_id)s
            and k.knocked_at > s.first_seen_at
            and not ('{model.FLAG_SUPPRESSED}' = any(k.integrity_flags))
        """,
        {"batch_id": batch_id},
    )


def _count_contacts(conn: psycopg.Connection, job: _Job) -> None:
    """Update the canvassers' running totals with this file's new and replaced knocks, and flag
    the incoming knocks of canvassers now above the contact-rate threshold.

    Runs after the in-file dedupe and before the upsert: a knock counts when it will be inserted
    or will replace an older version (the old version is subtracted, from its own canvasser).
    The verdicts land in `canvass_verdicts`; `_apply_verdict_changes` rewrites older knocks only
    for canvassers whose verdict flipped.
    """
    conn.execute(
        f"""
        create temp table canvass_verdicts on commit drop as
        with changes as (
            select
                i.canvasser_key as new_key,
                (i.outcome = %(conversation)s)::integer as new_conversation,
                k.canvasser_key as old_key,
                k.campaign_id as old_campaign,
                (k.outcome = %(conversation)s)::integer as old_conversation
            from canvass_incoming as i
            left join raw.canvass_knocks as k
                on k.source = %(source)s
                and k.knock_id = i.knock_id
            where k.knock_id is null
                or k.source_updated_at < i.version_at
        ),

        deltas as (
            select %(campaign_id)s as campaign_id, new_key as canvasser_key, 1 as knocks,
                new_conversation as conversations
            from changes
            union all
            select old_campaign, old_key, -1, -old_conversation
            from changes
            where old_key is not null
        ),

        totals as (
            insert into raw.canvass_canvasser_totals as t
                (campaign_id, canvasser_key, knocks, conversations)
            select campaign_id, canvasser_key, sum(knocks), sum(conversations)
            from deltas
            group by campaign_id, canvasser_key
            on conflict (campaign_id, canvasser_key) do update set
                knocks = t.knocks + excluded.knocks,
                conversations = t.conversations + excluded.conversations
            returning t.campaign_id, t.canvasser_key, t.knocks, t.conversations, t.flagged
        )

        select
            campaign_id,
            canvasser_key,
            flagged as was_high,
            knocks >= {HIGH_RATE_MIN_KNOCKS}
                and conversations > {HIGH_RATE} * knocks as high
        from totals
        """,
        {
            "conversation": model.CONVERSATION,
            "source": job.source,
            "campaign_id": job.campaign.campaign_id,
        },
    )
    conn.execute(
        f"""
        update canvass_incoming as i
        set flags = array_append(i.flags, '{model.FLAG_HIGH_CONTACT_RATE}')
        from canvass_verdicts as v
        where v.canvasser_key = i.canvasser_key
            and v.campaign_id = %(campaign_id)s
            and v.high
        """,
        {"campaign_id": job.campaign.campaign_id},
    )


def _apply_verdict_changes(conn: psycopg.Connection, batch_id: int) -> None:
    """(Un)flag the earlier knocks of canvassers whose contact-rate verdict flipped."""
    flag = model.FLAG_HIGH_CONTACT_RATE
    conn.execute(
        f"""
        update raw.canvass_knocks as k
        set integrity_flags = case
                when v.high then array_append(k.integrity_flags, '{flag}')
                else array_remove(k.integrity_flags, '{flag}')
            end,
            updated_at = now()
        from canvass_verdicts as v
        where v.high <> v.was_high
            and k.canvasser_key = v.canvasser_key
            and k.campaign_id = v.campaign_id
            and k.batch_id <> %(batch_id)s
            and v.high <> ('{flag}' = any(k.integrity_flags))
        """,
        {"batch_id": batch_id},
    )
    conn.execute(
        """
        update raw.canvass_canvasser_totals as t
        set flagged = v.high
        from canvass_verdicts as v
        where v.campaign_id = t.campaign_id
            and v.canvasser_key = t.canvasser_key
            and v.high <> v.was_high
        """
    )


def _flag_counts(conn: psycopg.Connection, job: _Job, batch_id: int) -> dict[str, int]:
    """Flags of the rows this batch wrote (looked up by key: no scan of the whole table)."""
    rows = conn.execute(
        """
        select flag, count(*)
        from canvass_incoming as i
        inner join raw.canvass_knocks as k
            on k.source = %(source)s
            and k.knock_id = i.knock_id
            and k.batch_id = %(batch_id)s
        cross join lateral unnest(k.integrity_flags) as flag
        group by flag
        """,
        {"source": job.source, "batch_id": batch_id},
    ).fetchall()
    return {str(flag): int(n) for flag, n in rows}


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


def _record_failure(
    conn: psycopg.Connection,
    job: _Job,
    exc: Exception,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> None:
    """Write the failed batch; never mask the original error if the ledger is unreachable."""
    error = failure_reason(exc)
    duration = job.elapsed()
    log.error("canvass load of %s failed after %.2fs: %s", job.file_name, duration, error)
    # No traceback in the log: the frames of a canvass load hold export rows (names, notes).
    ledger.record_failure(
        conn,
        reconnect,
        source=LEDGER_SOURCE,
        path=job.file_name,
        sha256=job.sha256,
        dataset_keys=[job.source],
        error=error,
        rows_read=job.rows_read,
        duration_s=duration,
        traceback=False,
    )


def failure_reason(exc: BaseException) -> str:
    """The message recorded for a failed file (ledger, drop zone reason file).

    Data errors carry their own message (file, line, column, expectation; never values).
    Anything else is named by type only plus its first line: a database error could quote a
    value of the row it failed on.
    """
    if isinstance(exc, (SourceFormatError, CanvassNotReady)):
        return str(exc)
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    if type(exc).__module__.startswith("psycopg"):
        return f"{type(exc).__name__} (database error; see the server log)"
    return f"{type(exc).__name__}: {first_line}"[:500]
