"""Issue 14, item 7, through the whole gate: two campaigns in one warehouse, each built and
published, each read by its own BI role.

Campaign A is the demo's (config/campaign.yml, every bundled canvass export); campaign B has a
campaign file of its own (A's dates, another id) and the Qomon export re-keyed (other knock ids,
so other bytes: a delivery of its own). Three gate builds on one warehouse loaded by the demo's
ingestion DAGs: A, then B, then A again. The fast rules (mixing refused, role tricks, rollback)
are shown on hand-made schemas by tests/integration/test_campaign_isolation.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from scrutin.config import dsn_parts

pytestmark = [pytest.mark.db, pytest.mark.slow]

CAMPAIGN_B = "demo_b_29_2027"
ROLE_A = "scrutin_bi_e2e_campaign_a"
ROLE_B = "scrutin_bi_e2e_campaign_b"
PASSWORD = "e2e-campaign-reader"
# Every published table with campaign rows, and one without (shared by every campaign).
CAMPAIGN_TABLES = (
    "canvass_bureau_daily",
    "canvass_bureau_opinion",
    "canvass_progress",
    "canvass_days",
    "canvass_plan",
    "commune_summary",
    "polling_station_targeting",
    "targeting_vintages",
)
SHARED_TABLE = "polling_station_results"


@dataclass(frozen=True)
class TwoCampaigns:
    url: str
    campaign_a: str
    # md5 of B's rows of each campaign table right after B's own publication
    b_published: dict[str, str]
    # the run ids of the three builds: A, B, A again
    runs: tuple[str, str, str]


def _campaign_b_file(folder: Path) -> Path:
    """B's campaign file: the demo campaign's (with its demo-mode dates), another id."""
    from scrutin.campaign import DEFAULT_CAMPAIGN_CONFIG, load_campaign

    demo = load_campaign()
    text = DEFAULT_CAMPAIGN_CONFIG.read_text(encoding="utf-8")
    for key, value in (
        ("campaign_id", CAMPAIGN_B),
        ("election_date", demo.election_date.isoformat()),
        ("campaign_start", demo.campaign_start.isoformat()),
    ):
        text, n = re.subn(rf"(?m)^{key}: .*$", f"{key}: {value}", text)
        assert n == 1, key
    path = folder / f"{CAMPAIGN_B}.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _qomon_rekeyed(folder: Path) -> Path:
    """The demo's Qomon export (as the demo delivers it today), knock ids Q... -> B...."""
    from ingestion.canvass.dropzone import _demo_sample_files

    source = next(p for p, _ in _demo_sample_files() if p.name.startswith("qomon_"))
    raw = source.read_bytes()
    rekeyed, n = re.subn(rb"(?m)^(\xef\xbb\xbf)?Q(\d{6});", rb"\1B\2;", raw)
    assert n > 200, n
    path = folder / "qomon_actions_campaign_b.csv"
    path.write_bytes(rekeyed)
    return path


def _campaign_rows_md5(url: str, table: str, campaign: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
            f"from mart.{table} as t where campaign_id = %s",
            (campaign,),
        ).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture(scope="module")
def two_campaigns(
    dag_warehouse: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwoCampaigns]:
    from ingestion.canvass.loader import load_canvass_file
    from pipeline.demo import DEMO_DAGS, run_dag
    from pipeline.gate import build_audit_publish
    from pipeline.setup import grant_campaign_reader
    from scrutin.campaign import load_campaign

    url = dag_warehouse
    folder = tmp_path_factory.mktemp("two-campaigns")
    patch = pytest.MonkeyPatch()
    patch.setenv("SCRUTIN_DEMO", "1")
    patch.setenv("SCRUTIN_CANVASS_DROP", str(folder / "drop"))
    patch.setenv("SCRUTIN_DATA_DOCS_DIR", str(folder / "data-docs"))
    try:
        for dag_id in DEMO_DAGS[:-1]:  # every ingestion DAG; the builds below are the gate's
            run_dag(dag_id)
        campaign_a = load_campaign().campaign_id
        grant_campaign_reader(url, campaign_a, ROLE_A, PASSWORD)
        grant_campaign_reader(url, CAMPAIGN_B, ROLE_B, PASSWORD)
        first_a = build_audit_publish(url).run_id

        patch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(_campaign_b_file(folder)))
        report = load_canvass_file(url, _qomon_rekeyed(folder))
        assert report.rows_loaded > 200
        run_b = build_audit_publish(url).run_id
        b_published = {t: _campaign_rows_md5(url, t, CAMPAIGN_B) for t in CAMPAIGN_TABLES}

        patch.delenv("SCRUTIN_CAMPAIGN_CONFIG")
        second_a = build_audit_publish(url).run_id
    finally:
        patch.undo()
    yield TwoCampaigns(url, campaign_a, b_published, (first_a, run_b, second_a))


def _as_role(url: str, role: str) -> psycopg.Connection:
    p = dsn_parts(url)
    return psycopg.connect(f"postgresql://{role}:{PASSWORD}@{p.host}:{p.port}/{p.dbname}")


def _counts(conn: psycopg.Connection, campaign: str | None = None) -> dict[str, int]:
    where = "" if campaign is None else " where campaign_id = %s"
    args = () if campaign is None else (campaign,)
    counts = {}
    for table in CAMPAIGN_TABLES:
        row = conn.execute(f"select count(*) from mart.{table}{where}", args).fetchone()
        assert row is not None
        counts[table] = int(row[0])
    return counts


def test_the_mart_holds_both_campaigns_once_each(two_campaigns: TwoCampaigns) -> None:
    with psycopg.connect(two_campaigns.url) as conn:
        for table in CAMPAIGN_TABLES:
            ids = conn.execute(
                f"select distinct campaign_id from mart.{table} order by 1"
            ).fetchall()
            assert ids == sorted([(two_campaigns.campaign_a,), (CAMPAIGN_B,)]), table
        # One run per campaign: a bureau is scored once per campaign, never by two runs of A.
        dupes = conn.execute(
            "select campaign_id, bureau_id from mart.polling_station_targeting "
            "group by 1, 2 having count(*) > 1"
        ).fetchall()
        assert dupes == []
        a_counts = _counts(conn, two_campaigns.campaign_a)
        b_counts = _counts(conn, CAMPAIGN_B)
        last = conn.execute(
            "select run_id, check_summary from ops.publication_log "
            "order by publication_id desc limit 1"
        ).fetchone()
    assert last is not None
    assert last[0] == two_campaigns.runs[2]
    assert last[1]["campaign_id"] == two_campaigns.campaign_a
    assert set(last[1]["other_campaign_rows_kept"]) == set(CAMPAIGN_TABLES)
    # B canvassed with one app of A's five: fewer knocked doors, the same bureaux scored.
    assert 0 < b_counts["canvass_bureau_opinion"] <= a_counts["canvass_bureau_opinion"]
    assert b_counts["polling_station_targeting"] == a_counts["polling_station_targeting"]


def test_a_second_build_of_a_keeps_b_as_published(two_campaigns: TwoCampaigns) -> None:
    now = {t: _campaign_rows_md5(two_campaigns.url, t, CAMPAIGN_B) for t in CAMPAIGN_TABLES}
    assert now == two_campaigns.b_published


def test_each_role_sees_only_its_campaign(two_campaigns: TwoCampaigns) -> None:
    url = two_campaigns.url
    with psycopg.connect(url) as owner:
        expected = {
            ROLE_A: _counts(owner, two_campaigns.campaign_a),
            ROLE_B: _counts(owner, CAMPAIGN_B),
        }
        shared = owner.execute(f"select count(*) from mart.{SHARED_TABLE}").fetchone()
    campaign_of = {ROLE_A: two_campaigns.campaign_a, ROLE_B: CAMPAIGN_B}
    for role, counts in expected.items():
        with _as_role(url, role) as bi:
            assert _counts(bi) == counts, role
            for table in CAMPAIGN_TABLES:
                seen = bi.execute(f"select distinct campaign_id from mart.{table}").fetchall()
                assert seen == [(campaign_of[role],)], (role, table)
            # election results carry no campaign: every role reads them whole
            assert bi.execute(f"select count(*) from mart.{SHARED_TABLE}").fetchone() == shared
            for forbidden in (
                "select count(*) from raw.canvass_knocks",
                "select count(*) from mart_prev.canvass_bureau_opinion",
                "alter table mart.canvass_bureau_opinion disable row level security",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    bi.execute(forbidden)
                bi.rollback()
