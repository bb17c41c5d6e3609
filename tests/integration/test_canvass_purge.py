"""Retention: expired door knocks are deleted once aggregated, and the gate sees survivors."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ingestion.canvass.loader import load_canvass_file
from ingestion.canvass.purge import BUILD_SCOPED_TABLES, purge_expired
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET, fetch

pytestmark = pytest.mark.db

AFTER_RETENTION = CAMPAIGN.retention_ends_at + dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def url() -> str:
    return support.fresh_warehouse("canvass_purge")


@pytest.fixture(autouse=True)
def _loaded(url: str) -> Iterator[None]:
    support.reset_canvass(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate ops.publication_log")
    for path in (support.QOMON, support.PAP):
        load_canvass_file(url, path, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    yield


def publish(url: str, action: str = "publish") -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into ops.publication_log (run_id, action, row_counts, check_summary) "
            "values ('t', %s, '{}', '{}')",
            (action,),
        )


def knocks(url: str) -> int:
    return int(fetch(url, "select count(*) from raw.canvass_knocks")[0][0])  # type: ignore[arg-type]


def test_nothing_is_purged_before_retention_ends(url: str) -> None:
    publish(url)
    report = purge_expired(url, now=NOW)
    assert (report.rows_expired, report.rows_deleted) == (0, 0)
    assert knocks(url) == 10
    assert fetch(url, "select campaign_id, rows_expired from ops.purge_log") == [
        (CAMPAIGN.campaign_id, 0)
    ]


def test_expired_but_not_aggregated_rows_are_kept(url: str) -> None:
    report = purge_expired(url, now=AFTER_RETENTION)  # no publication at all
    assert (report.rows_expired, report.rows_deleted, report.rows_kept) == (10, 0, 10)
    assert knocks(url) == 10


def test_aggregated_expired_rows_are_deleted_and_logged(url: str) -> None:
    publish(url)
    dry = purge_expired(url, now=AFTER_RETENTION, dry_run=True)
    assert (dry.rows_expired, dry.rows_deleted, dry.rows_kept) == (10, 0, 0)
    assert knocks(url) == 10
    report = purge_expired(url, now=AFTER_RETENTION)
    assert (report.rows_deleted, report.rows_kept) == (10, 0)
    assert knocks(url) == 0
    log = fetch(
        url, "select dry_run, rows_expired, rows_deleted from ops.purge_log order by purge_id"
    )
    assert log == [(True, 10, 0), (False, 10, 10)]


def test_rows_changed_after_the_last_publication_wait(url: str) -> None:
    publish(url)
    load_canvass_file(url, support.ECANVASSER, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    report = purge_expired(url, now=AFTER_RETENTION)
    assert (report.rows_deleted, report.rows_kept) == (10, 4)
    assert fetch(url, "select distinct source from raw.canvass_knocks") == [("ecanvasser",)]


def test_a_rollback_means_nothing_counts_as_aggregated(url: str) -> None:
    publish(url)
    publish(url, "rollback")
    report = purge_expired(url, now=AFTER_RETENTION)
    assert (report.rows_deleted, report.reference_published_at) == (0, None)
    forced = purge_expired(url, now=AFTER_RETENTION, force=True)
    assert forced.rows_deleted == 10 and knocks(url) == 0


def test_a_table_left_by_a_killed_build_loses_the_purged_knocks(url: str) -> None:
    """int_canvass__knocks and int_canvass__answers are tables only during a build (dbt puts
    them back as views when it ends): one left behind by a killed build must not keep knocks
    the purge deleted. A view (the normal case) is left as it is."""
    knocks_table, answers_view = (f"{s}.{t}" for s, t in BUILD_SCOPED_TABLES)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists intermediate")
        conn.execute(f"drop view if exists {answers_view}")
        conn.execute(f"drop table if exists {knocks_table}")
        conn.execute(
            f"create table {knocks_table} as select batch_id, line_no, source "
            "from raw.canvass_knocks"
        )
        conn.execute(
            f"create view {answers_view} as select batch_id, line_no from raw.canvass_knocks"
        )
    try:
        publish(url)
        load_canvass_file(url, support.ECANVASSER, campaign=CAMPAIGN, secret=SECRET, now=NOW)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                f"insert into {knocks_table} select batch_id, line_no, source "
                "from raw.canvass_knocks where source = 'ecanvasser'"
            )
        report = purge_expired(url, now=AFTER_RETENTION)
        assert (report.rows_deleted, report.rows_kept) == (10, 4)
        left = fetch(url, f"select distinct source, count(*) from {knocks_table} group by 1")
        assert left == [("ecanvasser", 4)]
        assert fetch(url, f"select count(*) from {answers_view}") == [(4,)]
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"drop view if exists {answers_view}")
            conn.execute(f"drop table if exists {knocks_table}")


@pytest.mark.slow
def test_retention_gate_fails_until_the_purge(url: str) -> None:
    from expectations.checkpoint import run_suites
    from expectations.suites_canvass import RETENTION_SUITES

    publish(url)
    ok = run_suites(url, RETENTION_SUITES, "retention_ok")
    assert ok.success, ok.failed_checks
    # Time passes: retention of the campaign ended a day ago (shift the register, not the clock).
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "update ops.canvass_campaigns set retention_ends_at = now() - interval '1 day'"
        )
    expired = run_suites(url, RETENTION_SUITES, "retention_expired")
    assert not expired.success
    assert any("retention" in check for check in expired.failed_checks)
    purge_expired(url)
    after = run_suites(url, RETENTION_SUITES, "retention_purged")
    assert after.success, after.failed_checks


# ---- the raw exports kept in the drop zone (issue 14) -----------------------------------------


def _zone(tmp_path: Path) -> Path:
    """A drop zone with exports of every age in processed/ and failed/, and a waiting delivery."""
    root = tmp_path / "drop"
    for folder in ("processed", "failed"):
        (root / folder).mkdir(parents=True)
    files = {
        "processed/old.csv": 10,
        "processed/fresh.csv": 1,
        "failed/old.csv": 40,
        "failed/old.csv.reason.txt": 40,
        "failed/recent.csv": 3,
        "waiting.csv": 400,  # at the root: the next load's, never touched
    }
    for name, days in files.items():
        path = root / name
        path.write_text("Maëlle Kerbrat;06 12 34 56 78\n", encoding="utf-8")
        when = (NOW - dt.timedelta(days=days)).timestamp()
        os.utime(path, (when, when))
    return root


def _left(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_exports_are_deleted_past_their_own_retention(url: str, tmp_path: Path) -> None:
    """Before: processed/ and failed/ kept the full exports (names, phones, notes) forever."""
    root = _zone(tmp_path)
    dry = purge_expired(url, now=NOW, dry_run=True, drop_zone=str(root))
    assert dry.drop_zone is not None
    assert sorted(dry.drop_zone.deleted) == ["failed/old.csv", "processed/old.csv"]
    assert len(_left(root)) == 6  # a dry run deletes nothing
    report = purge_expired(url, now=NOW, drop_zone=str(root))
    assert report.drop_zone is not None and report.drop_zone.kept == 2
    assert _left(root) == {"processed/fresh.csv", "failed/recent.csv", "waiting.csv"}
    assert "deleted 2 export(s)" in report.summary()


def test_every_export_goes_once_every_campaign_is_past_retention(url: str, tmp_path: Path) -> None:
    root = _zone(tmp_path)
    purge_expired(url, now=AFTER_RETENTION, drop_zone=str(root))
    assert _left(root) == {"waiting.csv"}


def test_the_keep_periods_are_configurable(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _zone(tmp_path)
    monkeypatch.setenv("SCRUTIN_CANVASS_KEEP_PROCESSED_DAYS", "0")
    monkeypatch.setenv("SCRUTIN_CANVASS_KEEP_FAILED_DAYS", "365")
    purge_expired(url, now=NOW, drop_zone=str(root))
    assert _left(root) == {
        "failed/old.csv",
        "failed/old.csv.reason.txt",
        "failed/recent.csv",
        "waiting.csv",
    }
    monkeypatch.setenv("SCRUTIN_CANVASS_KEEP_FAILED_DAYS", "soon")
    with pytest.raises(ValueError, match="SCRUTIN_CANVASS_KEEP_FAILED_DAYS='soon'"):
        purge_expired(url, now=NOW, drop_zone=str(root))


def quarantined(url: str) -> int:
    return int(fetch(url, "select count(*) from quarantine.canvass_rows")[0][0])  # type: ignore[arg-type]


def test_quarantine_rows_expire_with_their_campaign_publication_or_not(url: str) -> None:
    """Before: the purge never touched quarantine.canvass_rows, which point (file, line) into
    the exports long after the knocks and the exports themselves were deleted."""
    assert quarantined(url) == 4  # 2 refused rows of each fixture
    assert purge_expired(url, now=NOW).quarantine_rows == 0
    dry = purge_expired(url, now=AFTER_RETENTION, dry_run=True)
    assert dry.quarantine_rows == 4 and quarantined(url) == 4
    # No publication: the knocks wait to be aggregated, their refused rows need not.
    report = purge_expired(url, now=AFTER_RETENTION)
    assert (report.rows_deleted, report.quarantine_rows) == (0, 4)
    assert quarantined(url) == 0 and knocks(url) == 10
    assert "quarantine: deleted 4 row(s)" in report.summary()
    # The ledger says their quarantine was purged, so the reconciliation still holds.
    from expectations.checkpoint import run_suites

    assert fetch(
        url,
        "select count(*) from raw.batch_ledger where source = 'canvass' "
        "and status = 'loaded' and quarantine_purged_at is null",
    ) == [(0,)]
    outcome = run_suites(url, ["raw_canvass_batches"], "purged_quarantine")
    assert outcome.success, outcome.failed_checks


def test_a_fully_refused_file_leaves_quarantine_rows_kept_as_long_as_failed_exports(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose every row was refused has no knock to date its campaign by: its quarantine
    rows go with the refused exports (SCRUTIN_CANVASS_KEEP_FAILED_DAYS), or with the last
    campaign."""
    lines = support.QOMON.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    orphan = tmp_path / "qomon_orphan.csv"
    bad = [
        line.replace(";Présent;", ";Peut-être;").replace(";Absent;", ";Peut-être;")
        for line in lines[1:3]
    ]
    orphan.write_text(lines[0] + "".join(bad), encoding="utf-8")
    report = load_canvass_file(url, orphan, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    assert (report.rows_loaded, report.rows_rejected) == (0, 2)
    assert quarantined(url) == 6
    with psycopg.connect(url, autocommit=True) as conn:  # refused a day before NOW
        conn.execute(
            "update quarantine.canvass_rows set quarantined_at = %s", (NOW - dt.timedelta(days=1),)
        )
    assert purge_expired(url, now=NOW).quarantine_rows == 0  # within 30 days: kept
    monkeypatch.setenv("SCRUTIN_CANVASS_KEEP_FAILED_DAYS", "0")
    assert purge_expired(url, now=NOW).quarantine_rows == 2
    assert quarantined(url) == 4  # the rows of batches with knocks wait for their campaign
