"""Several campaigns in one warehouse, at the publication: each build replaces its campaign's rows
and keeps the others', and each campaign's BI role reads only its rows (row-level security).

Hand-made `mart_audit` schemas stand for builds (a campaign table with `campaign_id`, a shared
table without), so every rule is shown in seconds; tests/e2e/test_campaign_isolation.py runs the
same promise through two real builds of the bundled sample.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from pipeline.campaign_access import OWNER_POLICY, CampaignAccessError
from pipeline.publish import PublicationError, publish, rollback
from pipeline.setup import ensure_bi_role, grant_campaign_reader
from scrutin.config import dsn_parts

pytestmark = pytest.mark.db

ROLES = {"camp-a": "scrutin_bi_test_camp_a", "camp-b": "scrutin_bi_test_camp_b"}
PASSWORD = "test-campaign-reader"


def _make_audit(
    conn: psycopg.Connection, campaign: str, marker: str, rows: int, *, extra: str = ""
) -> None:
    """A build's schema: `canvass_probe` (campaign rows) and `shared_probe` (no campaign)."""
    conn.execute("drop schema if exists mart_audit cascade")
    conn.execute("create schema mart_audit")
    conn.execute(
        "create table mart_audit.canvass_probe "
        f"(campaign_id text not null, bureau_id text not null, marker text{extra})"
    )
    conn.execute(
        "insert into mart_audit.canvass_probe (campaign_id, bureau_id, marker) "
        "select %s, '29019_' || lpad(n::text, 4, '0'), %s from generate_series(1, %s) as n",
        (campaign, marker, rows),
    )
    conn.execute("create table mart_audit.shared_probe as select %s::text as marker", (marker,))


def _publish(conn: psycopg.Connection, campaign: str, marker: str, rows: int) -> None:
    """A build of `campaign`, published."""
    _make_audit(conn, campaign, marker, rows)
    publish(conn, f"run-{marker}", {}, campaign_id=campaign)


def _count_as(url: str, role: str) -> int:
    with _connect_as(url, role) as bi:
        row = bi.execute("select count(*) from mart.canvass_probe").fetchone()
    assert row is not None
    return int(row[0])


def _rows(conn: psycopg.Connection, schema: str = "mart") -> list[tuple[str, str]]:
    return conn.execute(
        f"select campaign_id, marker from {schema}.canvass_probe group by 1, 2 order by 1, 2"
    ).fetchall()


def _connect_as(url: str, role: str) -> psycopg.Connection:
    parts = dsn_parts(url)
    return psycopg.connect(
        f"postgresql://{role}:{PASSWORD}@{parts.host}:{parts.port}/{parts.dbname}",
        autocommit=True,
    )


@pytest.fixture
def two_campaigns(conn: psycopg.Connection, warehouse_url: str) -> Iterator[psycopg.Connection]:
    """An empty `mart`, and one BI role per campaign; the configured BI role reads the
    configured campaign, as `scrutin setup` leaves it (else the first publication maps it)."""
    for schema in ("mart_audit", "mart_prev", "mart_swap", "mart"):
        conn.execute(f"drop schema if exists {schema} cascade")
    conn.execute("create schema mart")
    ensure_bi_role(warehouse_url)
    for campaign, role in ROLES.items():
        grant_campaign_reader(warehouse_url, campaign, role, PASSWORD)
    yield conn
    for schema in ("mart_audit", "mart_prev", "mart_swap", "mart"):
        conn.execute(f"drop schema if exists {schema} cascade")
    conn.execute("create schema mart")


def test_each_build_keeps_the_other_campaigns_rows(
    two_campaigns: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli import main

    conn = two_campaigns
    _publish(conn, "camp-a", "a1", 3)
    _make_audit(conn, "camp-b", "b1", 2)
    publish(conn, "run-b1", {"campaign_id": "camp-b"})  # the gate's summary names it
    assert _rows(conn) == [("camp-a", "a1"), ("camp-b", "b1")]

    # A second build of A: A's rows of run a2 only (never a1 beside a2), B's kept as published.
    _make_audit(conn, "camp-a", "a2", 4)
    report = publish(conn, "run-a2", {})  # unnamed: the one campaign mart_audit holds
    assert _rows(conn) == [("camp-a", "a2"), ("camp-b", "b1")]
    assert report.row_counts == {"canvass_probe": 6, "shared_probe": 1}
    summary = conn.execute(
        "select check_summary from ops.publication_log where run_id = 'run-a2'"
    ).fetchone()
    assert summary is not None
    assert summary[0]["campaign_id"] == "camp-a"
    assert summary[0]["other_campaign_rows_kept"] == {"canvass_probe": 2}
    # mart_prev is the previous publication as a whole (both campaigns), for rollback.
    assert _rows(conn, "mart_prev") == [("camp-a", "a1"), ("camp-b", "b1")]
    # `scrutin status` says which campaign the last publication replaced.
    assert main(["status"]) == 0
    assert "publish of run run-a2 (campaign camp-a)" in capsys.readouterr().out


def test_each_role_reads_its_campaign_only(
    two_campaigns: psycopg.Connection, warehouse_url: str
) -> None:
    conn = two_campaigns
    _publish(conn, "camp-a", "a1", 3)
    _publish(conn, "camp-b", "b1", 2)
    for campaign, role in ROLES.items():
        with _connect_as(warehouse_url, role) as bi:
            seen = bi.execute("select distinct campaign_id from mart.canvass_probe").fetchall()
            assert seen == [(campaign,)], role
            count = bi.execute("select count(*) from canvass_probe").fetchone()  # search_path
            assert count == ((3,) if campaign == "camp-a" else (2,)), role
            # a table without campaign rows is everyone's
            assert bi.execute("select marker from mart.shared_probe").fetchone() == ("b1",)
    # The pipeline's own role (the owner) reads every campaign's rows.
    assert conn.execute("select count(*) from mart.canvass_probe").fetchone() == (5,)


def test_a_role_cannot_lift_or_get_around_row_security(
    two_campaigns: psycopg.Connection, warehouse_url: str
) -> None:
    conn = two_campaigns
    _publish(conn, "camp-a", "a1", 1)
    _make_audit(conn, "camp-b", "b1", 1)  # B's build, not yet published
    with _connect_as(warehouse_url, ROLES["camp-b"]) as bi:
        for attempt in (
            "alter table mart.canvass_probe disable row level security",
            "alter table mart.canvass_probe no force row level security",
            f'drop policy "{OWNER_POLICY}" on mart.canvass_probe',
            "create policy everything on mart.canvass_probe for select using (true)",
            f"set role {ROLES['camp-a']}",
            "select * from mart_audit.canvass_probe",
            "select * from mart_prev.canvass_probe",
            "select * from raw.canvass_knocks",
            "select * from ops.campaign_bi_roles",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                bi.execute(attempt)
        # row_security = off makes a query that a policy would filter fail, not see more
        bi.execute("set row_security = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("select * from mart.canvass_probe")
    flags = conn.execute(
        "select relrowsecurity, relforcerowsecurity from pg_class "
        "where oid = 'mart.canvass_probe'::regclass"
    ).fetchone()
    assert flags == (True, True)


def test_an_audit_schema_mixing_campaigns_is_not_published(
    two_campaigns: psycopg.Connection,
) -> None:
    conn = two_campaigns
    _publish(conn, "camp-a", "a1", 2)
    _make_audit(conn, "camp-b", "b1", 2)
    conn.execute("insert into mart_audit.canvass_probe values ('camp-a', '29019_0009', 'x')")
    with pytest.raises(PublicationError, match=r"other campaigns than camp-b.*camp-a"):
        publish(conn, "run-mixed", {}, campaign_id="camp-b")
    with pytest.raises(PublicationError, match=r"campaigns \[.camp-a., .camp-b.\]"):
        publish(conn, "run-mixed-unnamed", {})
    # a bare dbt build (no campaign named) stamps '': never published
    _make_audit(conn, "", "bare", 1)
    with pytest.raises(PublicationError, match="a build publishes one campaign"):
        publish(conn, "run-bare", {})
    assert _rows(conn) == [("camp-a", "a1")]


def test_rows_of_an_older_model_are_kept_or_refused_by_name(
    two_campaigns: psycopg.Connection,
) -> None:
    conn = two_campaigns
    _publish(conn, "camp-b", "b1", 2)
    # A nullable column B's publication did not have: B's rows are kept, the column null.
    _make_audit(conn, "camp-a", "a1", 1, extra=", new_figure double precision")
    publish(conn, "run-a1", {}, campaign_id="camp-a")
    kept = conn.execute(
        "select count(*) from mart.canvass_probe where campaign_id = 'camp-b' "
        "and new_figure is null"
    ).fetchone()
    assert kept == (2,)
    # A not-null one cannot be filled: the publication is refused naming table and column.
    _make_audit(conn, "camp-a", "a2", 1, extra=", new_key text not null default 'k'")
    conn.execute("alter table mart_audit.canvass_probe alter column new_key drop default")
    with pytest.raises(PublicationError, match=r"mart\.canvass_probe.*new_key"):
        publish(conn, "run-a2", {}, campaign_id="camp-a")
    assert _rows(conn) == [("camp-a", "a1"), ("camp-b", "b1")]


def test_rollback_keeps_each_role_to_its_campaign(
    two_campaigns: psycopg.Connection, warehouse_url: str
) -> None:
    conn = two_campaigns
    _publish(conn, "camp-a", "a1", 1)
    _publish(conn, "camp-b", "b1", 1)
    rollback(conn, "rb-campaigns")
    assert _rows(conn) == [("camp-a", "a1")]
    assert _count_as(warehouse_url, ROLES["camp-b"]) == 0
    assert _count_as(warehouse_url, ROLES["camp-a"]) == 1


def test_a_role_is_never_remapped_and_grants_apply_at_once(
    two_campaigns: psycopg.Connection, warehouse_url: str
) -> None:
    from pipeline.cli import main

    conn = two_campaigns
    _publish(conn, "camp-c", "c1", 2)
    with pytest.raises(CampaignAccessError, match="already reads campaign camp-a"):
        grant_campaign_reader(warehouse_url, "camp-c", ROLES["camp-a"], PASSWORD)
    assert main(["campaign", "grant-bi", "--campaign-id", "camp-c", "--role", ROLES["camp-b"]]) == 3
    # A new role reads the published mart at once, without waiting for the next publication.
    role_c = "scrutin_bi_test_camp_c"
    grant_campaign_reader(warehouse_url, "camp-c", role_c, PASSWORD)
    assert _count_as(warehouse_url, role_c) == 2
    assert _count_as(warehouse_url, ROLES["camp-a"]) == 0


def test_grant_bi_command(
    two_campaigns: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli import main

    assert main(["campaign", "grant-bi", "--campaign-id", "camp-a"]) == 0
    assert "BI role scrutin_bi_camp_a now reads campaign camp-a" in capsys.readouterr().out
    assert main(["campaign", "grant-bi", "--campaign-id", "camp-a"]) == 0  # idempotent
    assert "scrutin_bi_camp_a already read" in capsys.readouterr().out
    assert main(["campaign", "roles"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert any(line.split() == ["scrutin_bi_camp_a", "camp-a"] for line in listing)
    assert any(line.split() == [ROLES["camp-b"], "camp-b"] for line in listing)
    assert main(["campaign", "grant-bi", "--campaign-id", "Not A Campaign"]) == 2
    assert main(["campaign", "grant-bi", "--campaign-id", "camp-a", "--role", "Bad-Role"]) == 3
    assert (
        main(["campaign", "grant-bi", "--campaign-id", "camp-a", "--password-env", "NO_SUCH_VAR"])
        == 2
    )


def test_a_publication_maps_the_configured_role_once(
    two_campaigns: psycopg.Connection, warehouse_url: str
) -> None:
    """A warehouse that `scrutin setup` did not map (a new database): the first publication
    gives the configured BI role its campaign; a later one of another campaign never moves it."""
    from scrutin.config import bi_reader_role

    conn = two_campaigns
    role = bi_reader_role()
    query = "select campaign_id from ops.campaign_bi_roles where role_name = %s"
    conn.execute("delete from ops.campaign_bi_roles where role_name = %s", (role,))
    try:
        _publish(conn, "camp-a", "a1", 1)
        assert conn.execute(query, (role,)).fetchone() == ("camp-a",)
        _publish(conn, "camp-b", "b1", 1)
        assert conn.execute(query, (role,)).fetchone() == ("camp-a",)
    finally:
        conn.execute("delete from ops.campaign_bi_roles where role_name = %s", (role,))
        ensure_bi_role(warehouse_url)
