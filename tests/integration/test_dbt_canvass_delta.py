"""The incremental canvass models compute the rows landed since, and agree with a full build.

int_canvass__bureau_matches and int_canvass__knock_versions are incremental in the gate's
incremental builds (dbt var `canvass_delta`): the rows landed since the last build are matched,
the knocks they touch are ranked again, the rows no longer landed go. Here the files of the
canvass rules scenario land in two deliveries (the second holds new versions of knocks of the
first), then a batch is deleted as a purge would; after each step the delta build must leave
exactly the tables a full build of the same rows gives, having matched only the new rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from ingestion.canvass.loader import load_canvass_file
from pipeline.dbt_runner import DbtOutcome, build
from pipeline.gate import CANVASS_DELTA_VAR
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET
from tests.integration.test_dbt_canvass_rules import _insert_reu, _write_exports

pytestmark = [pytest.mark.db, pytest.mark.slow]

SELECTION = "+int_canvass__knock_versions +int_canvass__excluded_knocks"
TABLES = {
    "int_canvass__bureau_matches": "select * from intermediate.int_canvass__bureau_matches",
    "int_canvass__knock_versions": "select * from intermediate.int_canvass__knock_versions",
}


def _build(url: str, delta: bool) -> DbtOutcome:
    outcome = build(
        url,
        f"canvass-delta-{uuid.uuid4().hex[:8]}",
        select=SELECTION,
        indirect_selection="cautious",
        extra_vars={CANVASS_DELTA_VAR: True} if delta else None,
    )
    assert outcome.success, outcome.failed
    return outcome


def _tables(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {
            name: sorted(conn.execute(sql).fetchall(), key=repr) for name, sql in TABLES.items()
        }


def _written(outcome: DbtOutcome, model: str) -> str:
    (message,) = (r.message for r in outcome.results if r.unique_id == f"model.scrutin.{model}")
    return message or ""


def _landed(url: str) -> int:
    with psycopg.connect(url) as conn:
        (n,) = conn.execute("select count(*) from raw.canvass_knocks").fetchone()  # type: ignore[misc]
    return int(n)


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = support.fresh_warehouse("canvass_delta")
    _insert_reu(url)
    files = _write_exports(tmp_path_factory.mktemp("canvass_delta"))
    # OSDI in the first delivery, its update (newer versions of the same knocks) in the second
    first, second = files[:3], files[3:]
    for path in first:
        load_canvass_file(url, path, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    _build(url, delta=False)
    before = _landed(url)
    for path in second:
        load_canvass_file(url, path, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    new_rows = _landed(url) - before
    delta = _build(url, delta=True)
    after_delta = _tables(url)
    _build(url, delta=False)
    after_full = _tables(url)
    # A purge (or a superseded batch): the rows of the second file (the OSDI update) go.
    with psycopg.connect(url, autocommit=True) as conn:
        (gone,) = conn.execute(
            "delete from raw.canvass_knocks where batch_id = "
            "(select min(batch_id) from raw.canvass_knocks where source = 'osdi' "
            "and batch_id > (select min(batch_id) from raw.canvass_knocks where source = 'osdi'))"
            " returning 1"
        ).fetchone() or (None,)
    assert gone == 1
    purge_delta = _build(url, delta=True)
    after_purge_delta = _tables(url)
    _build(url, delta=False)
    after_purge_full = _tables(url)
    # The retention purge deletes rows by date, not whole batches: the even lines of the newest
    # batch go, its odd lines stay landed.
    with psycopg.connect(url, autocommit=True) as conn:
        partly = conn.execute(
            "delete from raw.canvass_knocks where line_no % 2 = 0 and batch_id = "
            "(select max(batch_id) from raw.canvass_knocks) returning batch_id"
        ).fetchall()
        (left,) = conn.execute(
            "select count(*) from raw.canvass_knocks where batch_id = %s", (partly[0][0],)
        ).fetchone() or (0,)
    assert partly and left > 0
    partial_delta = _build(url, delta=True)
    after_partial_delta = _tables(url)
    _build(url, delta=False)
    yield {
        "url": url,
        "new_rows": new_rows,
        "delta": delta,
        "after_delta": after_delta,
        "after_full": after_full,
        "purge_delta": purge_delta,
        "after_purge_delta": after_purge_delta,
        "after_purge_full": after_purge_full,
        "partial_delta": partial_delta,
        "after_partial_delta": after_partial_delta,
        "after_partial_full": _tables(url),
    }


def test_the_delta_matches_only_the_rows_landed_since(steps: dict[str, Any]) -> None:
    assert steps["new_rows"] > 0
    matched = _written(steps["delta"], "int_canvass__bureau_matches")
    assert matched == f"INSERT 0 {steps['new_rows']}"
    # ... and ranks again the knocks they touch only: fewer rows than are landed
    ranked = int(_written(steps["delta"], "int_canvass__knock_versions").split()[-1])
    assert steps["new_rows"] <= ranked < len(steps["after_full"]["int_canvass__knock_versions"])
    # dbt says when it parses the whole project again: here the vars moved since the full build
    # (tests/e2e/test_incremental_build.py: the gate's scores stage reuses the audit's parse)
    assert "vars" in (steps["delta"].full_parse or "")


def test_the_delta_leaves_what_a_full_build_gives(steps: dict[str, Any]) -> None:
    assert steps["after_delta"] == steps["after_full"]
    statuses = {row[2] for row in steps["after_full"]["int_canvass__knock_versions"]}
    assert {"current", "superseded"} <= statuses  # the second delivery replaced versions


def test_rows_no_longer_landed_leave_and_their_knocks_are_ranked_again(
    steps: dict[str, Any],
) -> None:
    assert _written(steps["purge_delta"], "int_canvass__bureau_matches") == "INSERT 0 0"
    assert steps["after_purge_delta"] == steps["after_purge_full"]
    assert steps["after_purge_full"] != steps["after_full"]


def test_rows_purged_from_a_batch_leave_and_its_other_rows_stay(steps: dict[str, Any]) -> None:
    # the batch is still landed (its odd lines): only its purged rows may go, and nothing is
    # matched again
    assert _written(steps["partial_delta"], "int_canvass__bureau_matches") == "INSERT 0 0"
    assert steps["after_partial_delta"] == steps["after_partial_full"]
    before = steps["after_purge_full"]["int_canvass__bureau_matches"]
    after = steps["after_partial_full"]["int_canvass__bureau_matches"]
    assert 0 < len(after) < len(before)
