"""The canvass rules, from real exports through the loader to dbt's intermediate models.

The loader lands rows and decides nothing (tests/integration/test_canvass_loader.py). Here the
fixture exports, and a few variants of them, are landed in a warehouse of this module's own,
with REU addresses to match against; then one real `dbt build` of the canvass models decides:
which bureau each knock belongs to (the app's, the nearest REU address, the same address key),
which version of a knock counts (in a file, across files), the integrity flags (too fast,
contact rate, opposition, a do_not_contact arriving in a later file), and which landed rows are
left out and why. Every rule also has dbt unit tests with hand-computed rows beside its model.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from ingestion.canvass.loader import CanvassLoadReport, load_canvass_file
from ingestion.canvass.pseudonymise import address_sha256, normalise_address
from pipeline.dbt_runner import DbtOutcome, build
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET

pytestmark = [pytest.mark.db, pytest.mark.slow]

# The canvass intermediate models and everything upstream (the marts are test_dbt_canvass's).
SELECTION = (
    "+int_canvass__bureau_day +int_canvass__bureau_opinion +int_canvass__canvasser_quality "
    "+int_canvass__excluded_knocks"
)
# REU addresses of this module: one ~7 m from Q5 (7 Rue de Lyon, no bureau in the export), one
# 1 km away, and one that only the address key of 2 Rue du Château reaches.
NEAR_Q5, FAR, BY_ADDRESS = "29019_0007", "29019_0008", "29019_0009"
PAP_PREFIX = "6f1c2a0e-0000-4000-8000-"


def _pap_rows(rows: list[dict[int, str]]) -> str:
    """A PAP export: the fixture's header and its first row with some fields replaced."""
    header, first = support.PAP.read_text().splitlines()[:2]
    out = [header]
    for changes in rows:
        fields = first.split(";")
        for index, value in changes.items():
            fields[index] = value
        out.append(";".join(fields))
    return "\n".join(out) + "\n"


def _visits(canvasser: str, numbers: range, status: str) -> list[dict[int, str]]:
    """Knocks by one PAP canvasser, one per street number, an hour or more apart."""
    return [
        {
            0: f"00000000-0000-4000-8000-{i:012d}",
            1: canvasser,
            2: status,
            3: str(i),
            14: f"{10 + i % 12:02d}/10/2026 1{i % 10}:00",
            15: "",
        }
        for i in numbers
    ]


def _write_exports(folder: Path) -> list[Path]:
    """The files of the scenario, in delivery order."""
    qomon_again = folder / "qomon_again.csv"
    qomon_again.write_bytes(support.QOMON.read_bytes() + b"\r\n")  # other bytes, same knocks
    late_dnc = folder / "pap_late_dnc.csv"
    late_dnc.write_text(
        _pap_rows([{0: f"{PAP_PREFIX}00000000dnc1", 2: "Ne pas déranger", 14: "13/10/2026 18:00"}])
    )
    no_bureau = folder / "pap_no_bureau.csv"
    no_bureau.write_text(
        _pap_rows(
            [
                # no bureau, no coordinates: the REU address key of 2 Rue du Château finds one
                {0: f"{PAP_PREFIX}0000000000a1", 7: "", 8: "", 12: "", 13: "", 15: ""},
                # nothing finds this street
                {0: f"{PAP_PREFIX}0000000000a2", 4: "Rue Inconnue", 7: "", 8: "", 12: "", 13: ""},
            ]
        )
    )
    contact_rates = folder / "pap_contact_rates.csv"
    contact_rates.write_text(
        _pap_rows(
            _visits("pap-keen", range(1, 22), "accept_to_answer")  # 21 of 21
            + _visits("pap-steady", range(100, 110), "door_closed")
            + _visits("pap-steady", range(300, 321), "accept_to_answer")  # 21 of 31
        )
    )
    return [
        support.QOMON,
        qomon_again,
        support.OSDI,
        support.OSDI_UPDATE,
        support.ECANVASSER,
        support.PAP,
        late_dnc,
        no_bureau,
        contact_rates,
    ]


def _insert_reu(url: str) -> None:
    chateau = address_sha256(normalise_address("2", "Rue du Château", "Brest") or "")
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "insert into raw.batch_ledger (source, file_name, file_sha256, dataset_key, status) "
            "values ('reu', 'reu_test.csv', %s, 'adresses', 'loaded') returning batch_id",
            (uuid.uuid4().hex,),
        ).fetchone()
        assert row is not None
        for line, (bureau, longitude, latitude, key) in enumerate(
            [
                (NEAR_Q5, -4.484250, 48.390750, None),
                (FAR, -4.470000, 48.390700, None),
                (BY_ADDRESS, -4.0, 48.0, chateau),
            ],
            start=1,
        ):
            commune, code = bureau.split("_")
            conn.execute(
                "insert into raw.reu_addresses (batch_id, source_line, code_commune_ref, "
                "id_brut_bv_reu, code_commune, code_commune_results, code_bv, bureau_id, "
                "longitude, latitude, nb_adresses, address_key) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s)",
                (
                    row[0],
                    line,
                    commune,
                    bureau,
                    commune,
                    commune,
                    code,
                    bureau,
                    longitude,
                    latitude,
                    key,
                ),
            )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = support.fresh_warehouse("canvass_rules")
    _insert_reu(url)
    reports: dict[str, CanvassLoadReport] = {}
    for path in _write_exports(tmp_path_factory.mktemp("canvass_rules")):
        reports[path.stem] = load_canvass_file(url, path, campaign=CAMPAIGN, secret=SECRET, now=NOW)
    outcome = build(
        url,
        f"canvass-rules-{uuid.uuid4().hex[:8]}",
        select=SELECTION,
        indirect_selection="cautious",
    )
    yield {"url": url, "reports": reports, "build": outcome}


def _rows(url: str, sql: str, params: tuple[object, ...] | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _canvass_relation_kinds(url: str) -> dict[str, str]:
    """The canvass intermediate relations: `VIEW` or `BASE TABLE` by name."""
    return {
        r["table_name"]: r["table_type"]
        for r in _rows(
            url,
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'intermediate' and table_name like 'int_canvass%'",
        )
    }


class _ByRecordId(dict[str, Any]):
    """Rows by stored knock_id, looked up by the app's record id: ids are stored keyed (never
    as written), so a lookup tries the key of that id under each app."""

    SOURCES = ("qomon", "ecanvasser", "osdi", "pap", "nationbuilder")

    def __missing__(self, record_id: str) -> Any:
        for source in self.SOURCES:
            key = support.kid(source, record_id)
            if key in self:
                return self[key]
        raise KeyError(record_id)


def _counted(scenario: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = _rows(scenario["url"], "select * from intermediate.int_canvass__knocks")
    return _ByRecordId({r["knock_id"]: r for r in rows})


def _excluded(scenario: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    rows = _rows(scenario["url"], "select * from intermediate.int_canvass__excluded_knocks")
    return {(r["file_name"], r["line_no"]): r for r in rows}


def _batch(scenario: dict[str, Any], stem: str) -> int:
    return scenario["reports"][stem].batch_id


def test_the_build_is_green_and_accounts_for_every_landed_row(scenario: dict[str, Any]) -> None:
    outcome: DbtOutcome = scenario["build"]
    problems = [
        (r.unique_id, r.status)
        for r in outcome.results
        if r.status not in ("success", "pass", "warn")
    ]
    assert outcome.success and problems == []
    statuses = {r.unique_id.split(".")[-1]: r.status for r in outcome.results}
    assert statuses["assert_canvass_landed_knocks_are_counted_or_excluded"] == "pass"
    landed = _rows(scenario["url"], "select count(*) as n from raw.canvass_knocks")[0]["n"]
    assert landed == sum(r.rows_loaded for r in scenario["reports"].values())
    assert landed == len(_counted(scenario)) + len(_excluded(scenario))


def test_bureaux_come_from_the_app_else_the_nearest_reu_address_else_the_address_key(
    scenario: dict[str, Any],
) -> None:
    counted = _counted(scenario)
    assert (counted["Q1"]["bureau_id"], counted["Q1"]["bureau_match_method"]) == (
        "29019_0001",
        "app",
    )
    # 7 m from one REU address, 1 km from another: the nearer one's bureau.
    assert (counted["Q5"]["bureau_id"], counted["Q5"]["bureau_match_method"]) == (
        NEAR_Q5,
        "reu_nearest",
    )
    by_address = counted[f"{PAP_PREFIX}0000000000a1"]
    assert (by_address["bureau_id"], by_address["bureau_match_method"]) == (
        BY_ADDRESS,
        "reu_address",
    )
    excluded = _excluded(scenario)
    assert excluded[("qomon_small.csv", 5)]["exclusion_reason"] == "bureau_not_in_reference"
    assert "29019_0999" in excluded[("qomon_small.csv", 5)]["exclusion_detail"]
    assert excluded[("pap_no_bureau.csv", 3)]["exclusion_reason"] == "bureau_missing"


def test_the_newest_version_of_a_knock_counts_once(scenario: dict[str, Any]) -> None:
    counted = _counted(scenario)
    excluded = _excluded(scenario)
    qomon = _batch(scenario, "qomon_small")
    # Q1 twice in its file: the later line counts; the whole file again: the first file keeps it.
    assert (counted["Q1"]["batch_id"], counted["Q1"]["line_no"]) == (qomon, 10)
    assert excluded[("qomon_small.csv", 2)]["exclusion_reason"] == "superseded_in_file"
    again = {
        line: r["exclusion_reason"]
        for (name, line), r in excluded.items()
        if name == "qomon_again.csv"
    }
    assert again == {
        2: "superseded_in_file",
        3: "superseded",
        5: "bureau_not_in_reference",
        6: "superseded",
        8: "superseded",
        9: "superseded",
        10: "superseded",
    }
    assert excluded[("qomon_again.csv", 10)]["counted_batch_id"] == qomon
    # OSDI: the update's newer OS4 replaces the first one; its older OS2 does not.
    os4, os2 = counted["osdi_example:OS4"], counted["osdi_example:OS2"]
    assert (os4["batch_id"], os4["outcome"]) == (_batch(scenario, "osdi_update"), "not_reached")
    assert os2["batch_id"] == _batch(scenario, "osdi_small")
    superseded = {
        name for (name, _), r in excluded.items() if r["exclusion_reason"] == "superseded"
    }
    assert {"osdi_small.jsonl", "osdi_update.jsonl"} <= superseded


def test_integrity_flags(scenario: dict[str, Any]) -> None:
    flags = _ByRecordId(
        {knock: row["integrity_flags"] for knock, row in _counted(scenario).items()}
    )
    # EC1 and EC2: 30 s and ~950 m apart. EC3 an hour later, EC4 another canvasser.
    assert [flags[k] for k in ("EC1", "EC2", "EC3", "EC4")] == [
        ["too_fast_distant"],
        ["too_fast_distant"],
        [],
        [],
    ]
    # Q8 knocked a week after Q7's do_not_contact at the same building (spelt differently).
    assert (flags["Q7"], flags["Q8"]) == ([], ["suppressed_building"])
    # The do_not_contact of 13 October arrived in a later file: the knocks of the 14th, loaded
    # before it, are flagged all the same.
    assert flags[f"{PAP_PREFIX}000000000001"] == ["suppressed_building"]
    assert flags[f"{PAP_PREFIX}000000000002"] == ["suppressed_building"]
    # 21 conversations in 21 knocks: every knock flagged; 21 in 31 (68 %): none.
    keen = [flags[f"00000000-0000-4000-8000-{i:012d}"] for i in range(1, 22)]
    steady = [
        flags[f"00000000-0000-4000-8000-{i:012d}"] for i in [*range(100, 110), *range(300, 321)]
    ]
    assert keen == [["high_contact_rate_canvasser"]] * 21
    assert steady == [[]] * 31


def test_flag_rates_warn_without_blocking(scenario: dict[str, Any]) -> None:
    """The warn-severity flag-rate tests (GX raw checks before the rules moved to dbt)."""
    statuses = {r.unique_id.split(".")[2]: r.status for r in scenario["build"].results}
    assert statuses["int_canvass__knocks_high_contact_rate_canvasser_share"] == "warn"  # 21/69
    assert statuses["int_canvass__knocks_suppressed_building_share"] == "warn"  # 3/69
    assert statuses["int_canvass__knocks_too_fast_distant_share"] == "pass"  # 2/69


def test_no_copy_of_knocks_outside_raw_and_staging(scenario: dict[str, Any]) -> None:
    """Retention and privacy: the tables dbt builds hold no knock-level personal data (the purge
    deletes raw rows; a copy in a table would outlive it until the next build), and the door's
    coordinates and address hash never leave raw (staging is views over it)."""
    url = scenario["url"]
    personal = ["longitude", "latitude", "address_key", "knock_id", "building_key", "topics"]
    copies = _rows(
        url,
        "select c.table_schema, c.table_name, c.column_name "
        "from information_schema.columns as c "
        "join information_schema.tables as t using (table_schema, table_name) "
        "where t.table_type = 'BASE TABLE' "
        "and c.table_schema not in ('raw', 'pg_catalog', 'information_schema') "
        "and c.column_name = any(%s)",
        (personal,),
    )
    # The REU address points are public open data (the addresses, not the doors knocked at).
    assert [c for c in copies if c["table_name"] != "int_canvass__reu_points"] == []
    assert {c["table_name"] for c in copies} == {"int_canvass__reu_points"}
    kinds = _canvass_relation_kinds(url)
    assert kinds["int_canvass__knocks"] == kinds["int_canvass__excluded_knocks"] == "VIEW"
    assert kinds["int_canvass__answers"] == "VIEW"  # one row per answer, topics included
    # ... once the build has ended: during it, the knocks and answers were tables, written once
    # for their readers (dbt/macros/build_scoped.sql), and dbt's on-run-end put the views back.
    written = {
        r.unique_id.rsplit(".", 1)[-1]: r.message or ""
        for r in scenario["build"].results
        if r.resource_type == "model"
    }
    assert written["int_canvass__knocks"].startswith("SELECT"), written["int_canvass__knocks"]
    assert written["int_canvass__answers"].startswith("SELECT"), written["int_canvass__answers"]
    assert written["int_canvass__excluded_knocks"].startswith("CREATE VIEW")
    assert kinds["int_canvass__bureau_matches"] == "BASE TABLE"


_DROP_LOG = """
create schema test_drops;
create sequence test_drops.firing;
create table test_drops.dropped (
    firing bigint, object_type text, schema_name text, object_name text, original boolean
);
create function test_drops.log() returns event_trigger language plpgsql as $$
declare f bigint := nextval('test_drops.firing');
begin
    insert into test_drops.dropped
    select f, object_type, schema_name, object_name, original
    from pg_event_trigger_dropped_objects()
    where object_type in ('table', 'view');
end $$;
create event trigger test_drops_log on sql_drop execute function test_drops.log();
"""


def _replaced_parents(manifest: dict[str, Any], selected: set[str]) -> dict[str, int]:
    """Per model name: how many of its parents this build replaces (views and tables)."""
    nodes = manifest["nodes"]
    return {
        node["name"]: sum(
            1
            for parent in node["depends_on"]["nodes"]
            if parent in selected and nodes[parent]["config"]["materialized"] in ("view", "table")
        )
        for uid, node in nodes.items()
        if node["resource_type"] == "model" and uid in selected
    }


def test_no_view_is_dropped_by_two_parallel_replacements(scenario: dict[str, Any]) -> None:
    """A second build finds the views the first put back (int_canvass__knocks reads six
    relations this build replaces, two of them in parallel): dbt would drop such a view in the
    cascade of each parent's `__dbt_backup`, and two cascades into one view can deadlock (a
    build was refused so). The on-run-start hook drops it once first; an event trigger records
    every drop of the build to show that no cascade from a replaced parent reached it."""
    import json

    from pipeline.dbt_runner import build_target_path

    url = scenario["url"]
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
        if not (row and row[0]):
            pytest.skip("event triggers need a superuser (the project's own cluster has one)")
        conn.execute(_DROP_LOG)
    try:
        outcome = build(
            url,
            f"canvass-rules-again-{uuid.uuid4().hex[:8]}",
            select=SELECTION,
            indirect_selection="cautious",
        )
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("drop event trigger test_drops_log")
    assert outcome.success, outcome.failed
    dropped = _rows(url, "select * from test_drops.dropped order by firing")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema test_drops cascade")
    manifest = json.loads((build_target_path(url) / "manifest.json").read_text())
    selected = {r.unique_id for r in outcome.results}
    parents = _replaced_parents(manifest, selected)
    contended = {name for name, n in parents.items() if n >= 2}
    assert {"int_canvass__knocks", "int_canvass__answers"} <= contended

    by_firing: dict[int, list[dict[str, Any]]] = {}
    for d in dropped:
        by_firing.setdefault(d["firing"], []).append(d)
    cascaded_from_backup = {
        d["object_name"]
        for drops in by_firing.values()
        if any(d["original"] and d["object_name"].endswith("__dbt_backup") for d in drops)
        for d in drops
        if not d["original"] and d["object_type"] == "view"
    }
    # Views with a single replaced parent are still dropped by its cascade, as dbt does...
    assert cascaded_from_backup, "no cascade at all: the scenario no longer replaces views"
    # ... but never one that another parallel replacement could reach too.
    assert cascaded_from_backup & contended == set()
    # The hook dropped the knocks' view itself, before any node ran (the answers' view went
    # with it, by cascade or by name), and the build put both back as views at its end.
    node_firings = [
        f for f, drops in by_firing.items() if any("__dbt_" in d["object_name"] for d in drops)
    ]
    by_hook = {d["object_name"] for d in dropped if d["firing"] < min(node_firings)}
    assert {"int_canvass__knocks", "int_canvass__answers"} <= by_hook
    kinds = _canvass_relation_kinds(url)
    assert kinds["int_canvass__knocks"] == kinds["int_canvass__answers"] == "VIEW"
