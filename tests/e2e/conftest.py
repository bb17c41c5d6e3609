"""End-to-end tier: real DAG runs (`dag.test()`) and the whole gate, kept few.

One warehouse is loaded the way `make demo` loads its own: every DAG of the demo, ingestion then
`build_audit_publish`, run once per test session. The modules of this tier read it; the few that
must show a refusal change raw rows, run only the stage that refuses, and restore the rows, so
the published `mart` is the demo's from the first test to the last (the fingerprint test checks
it against the baseline the restructure promised to keep).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scrutin.config import warehouse_environment
from tests.conftest import ROOT, TEST_DB, drop_warehouse, fresh_warehouse

DEMO_DB = f"{TEST_DB}_demo"


BASELINE = ROOT / "tests" / "fixtures" / "demo_mart_fingerprint.json"


@dataclass(frozen=True)
class DemoWarehouse:
    """The demo-loaded warehouse: its URL, and the run id of the publication it holds."""

    url: str
    run_id: str
    drop_zone: Path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `leaves_demo_intermediates_stale` run after every other e2e test.

    A gate run refused on purpose on the shared demo warehouse has rebuilt the intermediate
    tables from the broken row before its check refused; restoring the row does not rebuild
    them (only the next full gate run would, about a minute). Every test that builds on those
    tables (the score stages) therefore runs before it.
    """
    last = [i for i in items if i.get_closest_marker("leaves_demo_intermediates_stale")]
    if last:
        items[:] = [i for i in items if i not in last] + last


@pytest.fixture(scope="session")
def demo_warehouse(
    airflow_db: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoWarehouse]:
    """The bundled sample loaded and published by the demo's DAGs, in a database of its own."""
    from pipeline.demo import DEMO_DAGS, run_dag

    url = fresh_warehouse(DEMO_DB)
    drop = tmp_path_factory.mktemp("canvass-drop")
    patch = pytest.MonkeyPatch()
    for key, value in warehouse_environment(url).items():
        patch.setenv(key, value)
    patch.setenv("SCRUTIN_DEMO", "1")
    patch.setenv("SCRUTIN_CANVASS_DROP", str(drop))
    # The demo's Data Docs site of its own: later modules run suites (DAG runs, refusals) whose
    # Data Docs would rewrite the tier's shared index that the publication log points at.
    patch.setenv("SCRUTIN_DATA_DOCS_DIR", str(tmp_path_factory.mktemp("demo-data-docs")))
    try:
        runs = {dag_id: run_dag(dag_id) for dag_id in DEMO_DAGS}
    finally:
        patch.undo()
    yield DemoWarehouse(url=url, run_id=runs["build_audit_publish"].run_id, drop_zone=drop)
    if not os.environ.get("SCRUTIN_KEEP_TEST_DB"):
        drop_warehouse(DEMO_DB)


@pytest.fixture
def demo_env(demo_warehouse: DemoWarehouse, monkeypatch: pytest.MonkeyPatch) -> DemoWarehouse:
    """Point the CLI, the DAGs and the pipeline at the demo warehouse for one test."""
    for key, value in warehouse_environment(demo_warehouse.url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SCRUTIN_DEMO", "1")
    monkeypatch.setenv("SCRUTIN_CANVASS_DROP", str(demo_warehouse.drop_zone))
    return demo_warehouse


@pytest.fixture(scope="module")
def dag_warehouse(airflow_db: None, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty, migrated warehouse for one module's own DAG runs (`<test db>_<module>`).

    The DAGs read the warehouse from the connection scrutin_warehouse, and the CLI from
    SCRUTIN_DATABASE_URL: both are set for the whole module.
    """
    name = f"{TEST_DB}_{request.module.__name__.rsplit('.', 1)[-1].removeprefix('test_')}"
    url = fresh_warehouse(name)
    patch = pytest.MonkeyPatch()
    for key, value in warehouse_environment(url).items():
        patch.setenv(key, value)
    try:
        yield url
    finally:
        patch.undo()


# Published tables whose rows carry knock days or the campaign's dates (its params_version).
CAMPAIGN_DATED_TABLES = (
    "canvass_bureau_daily",
    "canvass_bureau_opinion",
    "canvass_progress",
    "canvass_days",
    "polling_station_targeting",
    "targeting_vintages",
)


def assert_demo_baseline(url: str) -> dict[str, str]:
    """Assert the published mart of `url` is the demo's baseline (to 9 decimals); return its
    fingerprint. A change of a published figure must be deliberate: regenerate the baseline with
    `scripts/mart_fingerprint.py --write` and say why in the commit.

    With the clock past the demo campaign (the suite run with the clock in 2030), the demo moved
    the campaign and its canvass sample by whole weeks, so the tables that carry knock days or the
    campaign's dates differ by design (test_clock_ahead.py checks them); every other published
    figure must still be the baseline's.
    """
    import json

    from scripts.mart_fingerprint import fingerprint
    from scrutin.campaign import (
        DEFAULT_CAMPAIGN_CONFIG,
        demo_clock_shift,
        load_campaign,
        paris_today,
    )

    expected = json.loads(BASELINE.read_text(encoding="utf-8"))
    actual = fingerprint(url)
    compared = dict(actual)
    if demo_clock_shift(load_campaign(DEFAULT_CAMPAIGN_CONFIG, anchored=False), paris_today()):
        for table in CAMPAIGN_DATED_TABLES:
            expected.pop(table, None)
            compared.pop(table, None)
    assert compared == expected
    return actual
