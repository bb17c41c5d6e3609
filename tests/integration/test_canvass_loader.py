"""Loading canvass exports: quarantine, reconciliation, idempotence, versions, integrity, REU."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ingestion.canvass import loader
from ingestion.canvass.loader import CanvassNotReady, load_canvass_file
from ingestion.errors import SourceFormatError
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET, fetch

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def url() -> str:
    return support.fresh_warehouse("canvass_loader")


@pytest.fixture(autouse=True)
def _clean(url: str) -> Iterator[None]:
    support.reset_canvass(url)
    yield


def load(url: str, path: Path, **kwargs: object) -> loader.CanvassLoadReport:
    options: dict[str, object] = {"campaign": CAMPAIGN, "secret": SECRET, "now": NOW}
    options.update(kwargs)
    return load_canvass_file(url, path, **options)  # type: ignore[arg-type]


def quarantine(url: str) -> list[tuple[object, ...]]:
    return fetch(
        url,
        "select file_name, line_no, column_name, reason from quarantine.canvass_rows "
        "order by file_name, line_no",
    )


def test_qomon_file_quarantines_bad_rows_and_reconciles(url: str) -> None:
    report = load(url, support.QOMON)
    assert (report.status, report.source) == ("loaded", "qomon")
    assert (report.rows_read, report.rows_loaded, report.rows_rejected, report.rows_duplicate) == (
        9,
        4,
        4,
        1,
    )
    rows = {(r[1], r[2]): r[3] for r in quarantine(url)}
    assert set(rows) == {
        (4, "Statut"),  # unknown outcome code
        (5, "Bureau de vote"),  # unknown bureau 29019_0999
        (6, "Bureau de vote"),  # no bureau, no REU table to resolve it
        (7, "Date"),  # 2031: more than 1 h in the future
    }
    assert "not in the reference" in str(rows[(5, "Bureau de vote")])
    assert "missing" in str(rows[(6, "Bureau de vote")])
    ledger = fetch(
        url,
        "select status, dataset_key, rows_read, rows_loaded, rows_rejected, rows_duplicate "
        "from raw.batch_ledger where source = 'canvass'",
    )
    assert ledger == [("loaded", "qomon", 9, 4, 4, 1)]


def test_landed_row_is_pseudonymous_canonical_and_utc(url: str) -> None:
    load(url, support.QOMON)
    row = fetch(
        url,
        "select campaign_id, canvasser_key, bureau_id, building_key, knocked_at, outcome, topics, "
        "intends_to_vote, registered_here, sentiment, wants_to_volunteer, consent, "
        "integrity_flags from raw.canvass_knocks where source = 'qomon' and knock_id = 'Q1'",
    )[0]
    assert row[0] == CAMPAIGN.campaign_id
    assert len(str(row[1])) == 64 and len(str(row[3])) == 64
    assert row[2] == "29019_0001"
    assert row[4] == dt.datetime(2026, 10, 14, 16, 32, 5, tzinfo=dt.UTC)
    assert row[5:] == (
        "opened_conversation",
        ["security", "housing", "other"],
        "likely",
        True,
        "positive",
        False,
        True,
        [],
    )
    absent = fetch(
        url,
        "select topics, consent, sentiment from raw.canvass_knocks where knock_id = 'Q2'",
    )
    assert absent == [(None, None, None)]


def test_same_file_again_is_skipped_and_changes_nothing(url: str) -> None:
    first = load(url, support.QOMON)
    before = fetch(url, "select knock_id, updated_at from raw.canvass_knocks order by knock_id")
    again = load(url, support.QOMON)
    assert again.status == "skipped" and again.loaded_batch_id == first.batch_id
    assert (
        fetch(url, "select knock_id, updated_at from raw.canvass_knocks order by knock_id")
        == before
    )
    assert fetch(url, "select count(*) from quarantine.canvass_rows") == [(4,)]


def test_same_knocks_in_another_file_are_duplicates(url: str, tmp_path: Path) -> None:
    load(url, support.QOMON)
    copy = tmp_path / "qomon_again.csv"
    copy.write_bytes(support.QOMON.read_bytes() + b"\r\n")  # other bytes, same knocks
    report = load(url, copy)
    assert (report.rows_loaded, report.rows_duplicate, report.rows_rejected) == (0, 5, 4)
    assert fetch(url, "select count(*) from raw.canvass_knocks") == [(4,)]


def test_newer_version_updates_older_version_is_ignored(url: str) -> None:
    load(url, support.OSDI)
    os2_before = fetch(
        url, "select updated_at from raw.canvass_knocks where knock_id = 'osdi_example:OS2'"
    )
    report = load(url, support.OSDI_UPDATE)
    assert (report.rows_read, report.rows_updated, report.rows_inserted, report.rows_duplicate) == (
        2,
        1,
        0,
        1,
    )
    assert fetch(
        url, "select outcome, batch_id from raw.canvass_knocks where knock_id = 'osdi_example:OS4'"
    ) == [("not_reached", report.batch_id)]
    assert (
        fetch(url, "select updated_at from raw.canvass_knocks where knock_id = 'osdi_example:OS2'")
        == os2_before
    )


def test_osdi_jsonl_malformed_line_and_outreach_are_quarantined(url: str) -> None:
    report = load(url, support.OSDI)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (5, 3, 2)
    assert [r[1] for r in quarantine(url)] == [3, 4]


def test_json_collection_document_loads(url: str) -> None:
    report = load(url, support.OSDI_COLLECTION)
    assert (report.rows_loaded, report.source) == (2, "osdi")
    outcomes = fetch(url, "select outcome from raw.canvass_knocks order by knock_id")
    assert outcomes == [("opened_later",), ("opened_refused",)]


def test_do_not_contact_feeds_suppression_and_flags_later_knocks(url: str) -> None:
    report = load(url, support.QOMON)
    assert report.new_suppressions == 1
    flagged = fetch(
        url,
        "select knock_id, integrity_flags from raw.canvass_knocks "
        "where 'suppressed_building' = any(integrity_flags)",
    )
    # Q8 knocked a week after Q7's do_not_contact at the same building (spelt differently).
    assert flagged == [("Q8", ["suppressed_building"])]
    register = fetch(url, "select first_seen_at, source from raw.canvass_suppression")
    assert register == [(dt.datetime(2026, 10, 16, 15, 0, tzinfo=dt.UTC), "qomon")]


def test_too_fast_and_distant_knocks_are_flagged(url: str) -> None:
    load(url, support.ECANVASSER)
    flags = dict(
        fetch(url, "select knock_id, integrity_flags from raw.canvass_knocks order by knock_id")
    )
    # EC1 and EC2: 30 s apart, ~950 m apart. EC3 an hour later, EC4 another canvasser.
    assert flags == {
        "EC1": ["too_fast_distant"],
        "EC2": ["too_fast_distant"],
        "EC3": [],
        "EC4": [],
    }


def test_too_fast_without_coordinates_uses_buildings(url: str, tmp_path: Path) -> None:
    lines = support.ECANVASSER.read_text().splitlines()
    no_coords = [lines[0]] + [
        ",".join(f if i not in (10, 11) else "" for i, f in enumerate(line.split(",")))
        for line in lines[1:4]
        if not line.startswith("EC1")
    ]
    path = tmp_path / "ecanvasser_nocoords.csv"
    path.write_text("\n".join([*no_coords, lines[1]]) + "\n")
    load(url, path)
    flagged = fetch(
        url,
        "select knock_id from raw.canvass_knocks where 'too_fast_distant' = any(integrity_flags) "
        "order by knock_id",
    )
    assert flagged == [("EC1",), ("EC2",)]


def test_future_within_an_hour_and_outside_window_are_flagged(url: str, tmp_path: Path) -> None:
    text = support.PAP.read_text()
    path = tmp_path / "pap_times.csv"
    path.write_text(
        text.replace(
            "14/10/2026 11:00;14/10/2026 11:06", "28/11/2026 13:30;"
        ).replace(  # NOW + 30 min
            "14/10/2026 11:08;14/10/2026 11:09", "20/08/2026 11:08;"
        )  # before the campaign
    )
    load(url, path)
    flags = dict(fetch(url, "select knock_id, integrity_flags from raw.canvass_knocks"))
    assert flags["6f1c2a0e-0000-4000-8000-000000000001"] == ["future_timestamp"]
    assert flags["6f1c2a0e-0000-4000-8000-000000000002"] == ["outside_campaign_window"]


def test_high_contact_rate_canvasser_is_flagged_then_cleared(url: str, tmp_path: Path) -> None:
    header, row = support.PAP.read_text().splitlines()[:2]
    fields = row.split(";")

    def visits(start: int, count: int, status: str) -> list[str]:
        out = []
        for i in range(start, start + count):
            f = list(fields)
            f[0] = f"00000000-0000-4000-8000-{i:012d}"
            f[2] = status
            f[3] = str(i)
            f[14] = f"{10 + i % 12:02d}/10/2026 1{i % 10}:00"
            f[15] = ""
            out.append(";".join(f))
        return out

    first = tmp_path / "pap_keen.csv"
    first.write_text("\n".join([header, *visits(1, 21, "accept_to_answer")]) + "\n")
    load(url, first)
    count = (
        "select count(*) from raw.canvass_knocks "
        "where 'high_contact_rate_canvasser' = any(integrity_flags)"
    )
    assert fetch(url, count) == [(21,)]
    second = tmp_path / "pap_more.csv"
    second.write_text("\n".join([header, *visits(100, 10, "door_closed")]) + "\n")
    load(url, second)
    # 21 conversations / 31 knocks = 68 %: the canvasser is no longer suspicious.
    assert fetch(url, count) == [(0,)]


def test_pap_intermediate_status_and_missing_address(url: str) -> None:
    report = load(url, support.PAP)
    assert (report.rows_loaded, report.rows_rejected) == (3, 2)
    assert [(r[1], r[2]) for r in quarantine(url)] == [(4, "Statut"), (6, "Voie")]


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (
            lambda p: p.write_text(
                support.QOMON.read_text(encoding="utf-8-sig").replace(";", "\t")
            ),
            "wrong delimiter",
        ),
        (
            lambda p: p.write_bytes(support.OSDI_COLLECTION.read_bytes()[:300]),
            "truncated",
        ),
    ],
    ids=["empty", "wrong-delimiter", "truncated-json"],
)
def test_file_level_errors_apply_nothing_and_are_in_the_ledger(
    url: str, tmp_path: Path, make: object, fragment: str
) -> None:
    path = tmp_path / ("bad.json" if "json" in fragment or fragment == "truncated" else "bad.csv")
    make(path)  # type: ignore[operator]
    with pytest.raises(SourceFormatError, match=fragment):
        load(url, path)
    assert fetch(url, "select count(*) from raw.canvass_knocks") == [(0,)]
    assert fetch(url, "select count(*) from quarantine.canvass_rows") == [(0,)]
    assert fetch(url, "select status from raw.batch_ledger where source = 'canvass'") == [
        ("failed",)
    ]


def test_truncated_csv_loads_the_complete_rows(url: str, tmp_path: Path) -> None:
    data = support.ECANVASSER.read_bytes()
    cut = tmp_path / "ecanvasser_cut.csv"
    cut.write_bytes(data[: len(data) - 30])
    report = load(url, cut)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (4, 3, 1)


def test_a_failure_midway_leaves_nothing_half_applied(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash after the upsert")

    monkeypatch.setattr(loader, "_apply_verdict_changes", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load(url, support.QOMON)
    for table in (
        "raw.canvass_knocks",
        "raw.canvass_suppression",
        "raw.canvass_canvasser_totals",
        "quarantine.canvass_rows",
    ):
        assert fetch(url, f"select count(*) from {table}") == [(0,)], table
    assert fetch(url, "select status, error from raw.batch_ledger where source = 'canvass'") == [
        ("failed", "RuntimeError: simulated crash after the upsert")
    ]
    monkeypatch.undo()
    assert load(url, support.QOMON).status == "loaded"  # the file can be retried


def test_expired_campaign_refuses_the_file(url: str) -> None:
    with pytest.raises(SourceFormatError, match="retention ended"):
        load(url, support.QOMON, now=dt.datetime(2027, 6, 1, tzinfo=dt.UTC))
    assert fetch(url, "select count(*) from raw.canvass_knocks") == [(0,)]


def test_no_bureau_reference_is_not_ready(tmp_path: Path) -> None:
    empty = support.fresh_warehouse("canvass_noref", with_results=False)
    with pytest.raises(CanvassNotReady, match="load election results or REU"):
        load(empty, support.QOMON)


def test_bureau_resolved_from_reu_points_and_address_keys(url: str, tmp_path: Path) -> None:
    from ingestion.canvass.pseudonymise import address_sha256, normalise_address

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists scratch")
        conn.execute("drop table if exists scratch.reu_addresses")
        conn.execute(
            "create table scratch.reu_addresses (bureau_id text, longitude double precision, "
            "latitude double precision, address_key text)"
        )
        conn.execute(
            "insert into scratch.reu_addresses values "
            "('29019_0007', -4.484250, 48.390750, null), "  # ~10 m from Q5 (7 Rue de Lyon)
            "('29019_0008', -4.470000, 48.390700, null), "  # ~1 km away
            "('29019_0009', null, null, %s)",
            (address_sha256(normalise_address("2", "Rue du Château", "Brest") or ""),),
        )
    report = load(url, support.QOMON, reu_table="scratch.reu_addresses")
    assert fetch(url, "select bureau_id from raw.canvass_knocks where knock_id = 'Q5'") == [
        ("29019_0007",)
    ]
    assert report.rows_rejected == 3
    # No coordinates, no bureau column: the address key finds the bureau.
    lines = support.PAP.read_text().splitlines()
    fields = lines[1].split(";")
    fields[7], fields[8], fields[12], fields[13] = "", "", "", ""
    path = tmp_path / "pap_addr.csv"
    path.write_text("\n".join([lines[0], ";".join(fields)]) + "\n")
    load(url, path, reu_table="scratch.reu_addresses")
    assert fetch(
        url,
        "select bureau_id from raw.canvass_knocks where knock_id = %s",
        (fields[0],),
    ) == [("29019_0009",)]


def test_worker_processes_give_the_same_result(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big files are mapped by worker processes: same rows, same quarantine, same ledger."""
    monkeypatch.setattr(loader, "RANGE_ROWS", 2)  # several ranges even for a small fixture
    sequential = load(url, support.QOMON)
    rows = fetch(
        url,
        "select knock_id, canvasser_key, building_key, integrity_flags "
        "from raw.canvass_knocks order by knock_id",
    )
    support.reset_canvass(url)
    monkeypatch.setenv("SCRUTIN_CANVASS_WORKERS", "2")
    parallel = load(url, support.QOMON)
    assert (parallel.rows_loaded, parallel.rows_rejected, parallel.rows_duplicate) == (
        sequential.rows_loaded,
        sequential.rows_rejected,
        sequential.rows_duplicate,
    )
    assert (
        fetch(
            url,
            "select knock_id, canvasser_key, building_key, integrity_flags "
            "from raw.canvass_knocks order by knock_id",
        )
        == rows
    )
    assert len(quarantine(url)) == 4


def test_late_do_not_contact_flags_knocks_loaded_earlier(url: str, tmp_path: Path) -> None:
    load(url, support.PAP)  # two knocks at 2 Rue du Château on 14/10
    header, row = support.PAP.read_text().splitlines()[:2]
    fields = row.split(";")
    fields[0] = "6f1c2a0e-0000-4000-8000-00000000dnc1"
    fields[2] = "Ne pas déranger"
    fields[14], fields[15] = "13/10/2026 18:00", ""
    late = tmp_path / "pap_late.csv"
    late.write_text("\n".join([header, ";".join(fields)]) + "\n")
    report = load(url, late)
    assert report.new_suppressions == 1
    flagged = fetch(
        url,
        "select knock_id from raw.canvass_knocks "
        "where 'suppressed_building' = any(integrity_flags) order by knock_id",
    )
    assert flagged == [
        ("6f1c2a0e-0000-4000-8000-000000000001",),
        ("6f1c2a0e-0000-4000-8000-000000000002",),
    ]


def test_app_ids_with_control_characters_land_verbatim(url: str, tmp_path: Path) -> None:
    import json

    record = json.loads(support.OSDI.read_text().splitlines()[1])
    record["identifiers"] = ["odd:tab\there\\back\nslash"]
    path = tmp_path / "osdi_odd.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert load(url, path).rows_loaded == 1
    assert fetch(url, "select knock_id from raw.canvass_knocks") == [
        ("odd:tab\there\\back\nslash",)
    ]


def test_a_bad_byte_is_reported_on_its_own_line(url: str, tmp_path: Path) -> None:
    """Review finding: the line of a non-UTF-8 byte used to be reported as line 1."""
    for source, suffix in ((support.QOMON, ".csv"), (support.OSDI, ".jsonl")):
        lines = source.read_bytes().splitlines(keepends=True)
        lines[3] = lines[3].replace(b"a", b"\xe9", 1)  # a latin-1 byte on line 4
        bad = tmp_path / f"latin{suffix}"
        bad.write_bytes(b"".join(lines))
        with pytest.raises(SourceFormatError, match="not UTF-8") as err:
            load(url, bad)
        assert err.value.line == 4, (source.name, err.value.line)


def test_malformed_json_reasons_read_cleanly(url: str, tmp_path: Path) -> None:
    path = tmp_path / "osdi_cut.jsonl"
    lines = support.OSDI.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines) + lines[0][:20], encoding="utf-8")  # a truncated last line
    load(url, path)
    reasons = [r for r in fetch(url, "select reason from quarantine.canvass_rows")]
    assert reasons, "the truncated line must be quarantined"
    assert not any(" at at " in r[0] or r[0].endswith(" at") for r in reasons), reasons
    assert any("(column" in r[0] for r in reasons), reasons
