"""One build at a time: build, validate and publish run under one lock, whatever starts them.

Before, two `scrutin build` at once both rebuilt `mart_audit` and one published the other's
tables with its own fit; only the final swap was locked. A killed build left its
`ops.gate_runs` row `running` forever, even when its publication had committed.

How the lock holds across processes (the DAG's stages are separate Airflow tasks):

- `ops.build_lock` (one row) names the run that owns the build, from its first stage until its
  publication, refusal or error releases it.
- While a stage runs, its process holds the session advisory lock `(BUILD_LOCK_CLASS, 1)` on a
  connection of its own. A killed process loses its connection, so the server frees the lock:
  "a stage is alive" is what the server says, not a heartbeat we hope was written.
- Between two stages nobody holds the advisory lock; `stage_ended_at` says since when. An owner
  idle for longer than `SCRUTIN_BUILD_IDLE_MINUTES` (default 30) is presumed dead: the next build
  marks its run `abandoned` and takes the build over. Any other run left `running` with no live
  stage is marked `abandoned` by the next build too.
- A second build that finds the build owned waits up to `wait_seconds` (`scrutin build --wait`),
  then stops with `BuildBusy`, which names the owner, its stage and since when.

`scrutin status` uses `run_liveness` so it never shows a dead run as running.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrutin.db import connect

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("pipeline.build_lock")

# The advisory lock (two-int form, so pg_locks shows it as classid/objid): 29019 is Brest's
# INSEE code, nothing more; 1 is the build.
BUILD_LOCK_CLASS = 29019
BUILD_LOCK_ID = 1
IDLE_ENV = "SCRUTIN_BUILD_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30.0
_POLL_SECONDS = 2.0
_LATER_STAGE_WAIT = 60.0


class BuildBusy(RuntimeError):
    """Another live build owns the build lock; nothing of this run was started."""


class BuildLockLost(RuntimeError):
    """This run no longer owns the build (it was idle too long and another build took over)."""


def idle_window() -> dt.timedelta:
    """How long an owner may sit between two stages before it is presumed dead."""
    raw = os.environ.get(IDLE_ENV, "").strip()
    try:
        minutes = float(raw) if raw else DEFAULT_IDLE_MINUTES
    except ValueError as exc:
        raise ValueError(f"{IDLE_ENV}={raw!r}: expected a number of minutes") from exc
    if minutes <= 0:
        raise ValueError(f"{IDLE_ENV}={raw!r}: expected a positive number of minutes")
    return dt.timedelta(minutes=minutes)


@dataclass(frozen=True)
class Owner:
    run_id: str | None
    stage: str | None
    acquired_at: dt.datetime | None
    stage_ended_at: dt.datetime | None

    def describe(self, now: dt.datetime) -> str:
        if self.stage_ended_at is None:
            return f"run {self.run_id} is in stage '{self.stage}' (started {self.acquired_at:%c})"
        idle = int((now - self.stage_ended_at).total_seconds())
        return f"run {self.run_id} finished stage '{self.stage}' {idle} s ago"


def _owner(conn: psycopg.Connection) -> tuple[Owner, dt.datetime]:
    row = conn.execute(
        "select run_id, stage, acquired_at, stage_ended_at, now() from ops.build_lock "
        "where id = 1 for update"
    ).fetchone()
    if row is None:  # the migration inserts it; a hand-edited table must not lose the lock
        conn.execute("insert into ops.build_lock (id) values (1) on conflict do nothing")
        return _owner(conn)
    return Owner(row[0], row[1], row[2], row[3]), row[4]


def _try_stage_lock(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "select pg_try_advisory_lock(%s, %s)", (BUILD_LOCK_CLASS, BUILD_LOCK_ID)
    ).fetchone()
    return bool(row and row[0])


def stage_alive(conn: psycopg.Connection) -> bool:
    """Whether some session holds the stage lock now (a stage of some build is running)."""
    row = conn.execute(
        "select exists (select 1 from pg_locks where locktype = 'advisory' and granted "
        "and classid = %s and objid = %s and objsubid = 2 "
        # Advisory locks belong to a database: a build of another warehouse on the same server
        # holds its own lock, not ours (it made this warehouse's dead runs look alive).
        "and database = (select oid from pg_database where datname = current_database()))",
        (BUILD_LOCK_CLASS, BUILD_LOCK_ID),
    ).fetchone()
    return bool(row and row[0])


def _abandon_dead_runs(conn: psycopg.Connection, keep: str | None, why: str) -> list[str]:
    """Mark every `running` gate run but `keep` abandoned (called while holding the stage lock,
    so none of them has a live stage)."""
    rows = conn.execute(
        "update ops.gate_runs set status = 'abandoned', finished_at = now(), "
        "failed_checks = %s::jsonb where status = 'running' and run_id is distinct from %s "
        "returning run_id",
        (json.dumps([why]), keep),
    ).fetchall()
    abandoned = [r[0] for r in rows]
    for run_id in abandoned:
        log.warning("gate run %s marked abandoned: %s", run_id, why)
    return abandoned


def _claim(
    conn: psycopg.Connection, run_id: str, stage: str, *, first: bool, idle: dt.timedelta
) -> str | None:
    """With the stage lock held: make `run_id` the owner (first stage) or check it still is.
    Returns why the build is busy, or None when this run may go on."""
    with conn.transaction():
        owner, now = _owner(conn)
        if owner.run_id not in (None, run_id):
            idle_for = now - owner.stage_ended_at if owner.stage_ended_at else None
            if not first:
                raise BuildLockLost(
                    f"gate run {run_id}: the build is now owned by {owner.run_id} (this run was "
                    f"idle longer than {idle}); nothing more of this run will be published"
                )
            # We hold the stage lock, so an owner recorded "in a stage" is dead; an owner
            # between two stages may just be waiting for its next task.
            if idle_for is not None and idle_for < idle:
                return owner.describe(now)
            _abandon_dead_runs(
                conn,
                run_id,
                f"abandoned: no live stage since "
                f"{(owner.stage_ended_at or owner.acquired_at or now).isoformat()} "
                f"(taken over by {run_id})",
            )
        elif first:
            _abandon_dead_runs(conn, run_id, f"abandoned: no live stage (found by {run_id})")
        elif owner.run_id is None:
            raise BuildLockLost(
                f"gate run {run_id}: it does not own the build (released or taken over); "
                "start a new build"
            )
        conn.execute(
            "update ops.build_lock set run_id = %s, stage = %s, stage_ended_at = null, "
            "acquired_at = case when run_id is distinct from %s then now() else acquired_at end "
            "where id = 1",
            (run_id, stage, run_id),
        )
        if first:  # the run's record exists from the moment it owns the build
            conn.execute(
                "insert into ops.gate_runs (run_id, status, stage, stage_started_at) "
                "values (%s, 'running', %s, now()) on conflict (run_id) do update set "
                "status = 'running', finished_at = null, stage = excluded.stage, "
                "stage_started_at = now()",
                (run_id, stage),
            )
        else:
            conn.execute(
                "update ops.gate_runs set stage = %s, stage_started_at = now() where run_id = %s",
                (stage, run_id),
            )
    return None


@contextmanager
def build_stage(
    url: str,
    run_id: str,
    stage: str,
    *,
    first: bool = False,
    last: bool = False,
    wait_seconds: float = 0.0,
    release_on_error: bool = True,
) -> Iterator[None]:
    """Run one stage of gate run `run_id` under the build lock (see the module docstring).

    `first`: the run takes the build (waiting up to `wait_seconds` for another build to end).
    `last`: the build is released when the stage ends, whatever its outcome.
    `release_on_error`: an exception also releases it (a run that stops does not keep the
    build). The gate passes False for its stages so that Airflow can retry a stage after an
    outage; it releases the build itself on a refusal, and `scrutin build` on any error.
    """
    idle = idle_window()
    # A later stage of the owner only meets the stage lock held by another build's first stage
    # checking the owner: a moment; it waits for that, never for a whole build.
    deadline = time.monotonic() + (max(0.0, wait_seconds) if first else _LATER_STAGE_WAIT)
    conn = connect(url, autocommit=True)
    try:
        while True:
            busy = None
            if _try_stage_lock(conn):
                try:
                    busy = _claim(conn, run_id, stage, first=first, idle=idle)
                except BaseException:
                    _unlock(conn)
                    raise
                if busy is None:
                    break
                _unlock(conn)
            else:
                owner, now = _read_owner(conn)
                busy = owner.describe(now) if owner.run_id else "another stage is running"
            if time.monotonic() >= deadline:
                if not first:
                    raise BuildLockLost(f"gate run {run_id}: {busy}")
                raise BuildBusy(
                    f"another build is running: {busy}. Nothing of run {run_id} was started; "
                    "wait for it (`scrutin status`), or pass --wait SECONDS"
                )
            log.info("build busy (%s); waiting", busy)
            time.sleep(_POLL_SECONDS)
        ok = False
        try:
            yield
            ok = True
        finally:
            release = last or (not ok and release_on_error)
            conn.execute(
                "update ops.build_lock set stage_ended_at = now(), "
                "run_id = case when %s then null else run_id end, "
                "stage = case when %s then null else stage end "
                "where id = 1 and run_id = %s",
                (release, release, run_id),
            )
            _unlock(conn)
    finally:
        conn.close()


def _unlock(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_unlock(%s, %s)", (BUILD_LOCK_CLASS, BUILD_LOCK_ID))


def _read_owner(conn: psycopg.Connection) -> tuple[Owner, dt.datetime]:
    row = conn.execute(
        "select run_id, stage, acquired_at, stage_ended_at, now() from ops.build_lock where id = 1"
    ).fetchone()
    if row is None:
        return Owner(None, None, None, None), dt.datetime.now(dt.UTC)
    return Owner(row[0], row[1], row[2], row[3]), row[4]


def run_liveness(conn: psycopg.Connection, run_id: str, status: str) -> str:
    """What a gate run really is: its recorded status, or `abandoned` for a `running` run that
    has no live stage and is not an owner between two stages within the idle window."""
    if status != "running":
        return status
    owner, now = _read_owner(conn)
    if owner.run_id == run_id:
        if owner.stage_ended_at is None:
            return "running" if stage_alive(conn) else "abandoned"
        return "running" if now - owner.stage_ended_at < idle_window() else "abandoned"
    return "abandoned"


def release(url: str, run_id: str) -> bool:
    """Give up the build if `run_id` owns it (a run that stops between stages); True if it did."""
    with connect(url, autocommit=True) as conn:
        row = conn.execute(
            "update ops.build_lock set run_id = null, stage = null, stage_ended_at = now() "
            "where id = 1 and run_id = %s returning 1",
            (run_id,),
        ).fetchone()
    return row is not None


@contextmanager
def owning_build(url: str, run_id: str) -> Iterator[None]:
    """Own the build for the length of the block without running stage 1 (the later stages
    called on their own, as the tests and a re-run of one Airflow task do), then release it."""
    with build_stage(url, run_id, "claimed", first=True):
        pass
    try:
        yield
    finally:
        release(url, run_id)
