"""Landing canvass exports: mapping, pseudonymisation, quarantine, reconciliation, idempotence.

The loader lands rows and decides nothing else: which bureau, which version and which flags count
is dbt's, tested in tests/integration/test_dbt_canvass_rules.py (real files through the loader,
then dbt) and by the dbt unit tests of dbt/models/intermediate/canvass/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestion.canvass import loader
from ingestion.canvass.loader import load_canvass_file
from ingestion.errors import SourceFormatError
from tests.fixtures.canvass import support
from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET, fetch

pytestmark = pytest.mark.db

# The Qomon fixture's record ids, by the keyed value the warehouse stores for them.
RAW_IDS = support.record_ids("qomon", [f"Q{i}" for i in range(1, 12)])


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
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (9, 7, 2)
    rows = {(r[1], r[2]): r[3] for r in quarantine(url)}
    assert set(rows) == {
        (4, "Statut"),  # unknown outcome code
        (7, "Date"),  # 2031: more than 1 h in the future
    }
    assert "unknown qomon outcome label" in str(rows[(4, "Statut")])
    ledger = fetch(
        url,
        "select status, dataset_key, rows_read, rows_loaded, rows_rejected, rows_duplicate "
        "from raw.batch_ledger where source = 'canvass'",
    )
    assert ledger == [("loaded", "qomon", 9, 7, 2, 0)]
    # The rules are not the loader's: an unknown bureau (Q4), no bureau at all (Q5) and a knock
    # exported twice (Q1, lines 2 and 10) all land as the app gave them.
    landed = fetch(
        url, "select line_no, knock_id, bureau_id from raw.canvass_knocks order by line_no"
    )
    landed = [(line, RAW_IDS.get(k, k), bureau) for line, k, bureau in landed]
    assert landed == [
        (2, "Q1", "29019_0001"),
        (3, "Q2", "29019_0001"),
        (5, "Q4", "29019_0999"),
        (6, "Q5", None),
        (8, "Q7", "29019_0003"),
        (9, "Q8", "29019_0003"),
        (10, "Q1", "29019_0001"),
    ]


def test_landed_row_is_pseudonymous_canonical_and_utc(url: str) -> None:
    load(url, support.QOMON)
    row = fetch(
        url,
        "select campaign_id, canvasser_key, bureau_id, building_key, knocked_at, outcome, topics, "
        "intends_to_vote, registered_here, sentiment, wants_to_volunteer, consent, "
        "integrity_flags, source_updated_at, longitude, latitude, address_key "
        "from raw.canvass_knocks where source = 'qomon' and line_no = 2",
    )[0]
    assert row[0] == CAMPAIGN.campaign_id
    assert len(str(row[1])) == 64 and len(str(row[3])) == 64
    assert row[2] == "29019_0001"
    assert row[4] == dt.datetime(2026, 10, 14, 16, 32, 5, tzinfo=dt.UTC)
    assert row[5:13] == (
        "opened_conversation",
        ["security", "housing", "other"],
        "likely",
        True,
        "positive",
        False,
        True,
        [],
    )
    assert row[13] == row[4]  # no modification time in the export: the knock time
    # The door's coordinates land for dbt's rules; no address hash when the app gave a bureau.
    assert row[14:] == (-4.487, 48.3887, None)
    absent = fetch(
        url,
        "select topics, consent, sentiment from raw.canvass_knocks where knock_id = %s",
        (support.kid("qomon", "Q2"),),
    )
    assert absent == [(None, None, None)]


def test_address_key_lands_only_without_an_app_bureau(url: str) -> None:
    """Q5 has no bureau: dbt matches it to the REU addresses by its coordinates, else by the
    unkeyed address hash the REU loader computes the same way."""
    from ingestion.canvass.pseudonymise import address_sha256, normalise_address

    load(url, support.QOMON)
    keys = {
        RAW_IDS.get(k, k): v
        for k, v in fetch(url, "select knock_id, address_key from raw.canvass_knocks")
    }
    assert keys["Q5"] == address_sha256(normalise_address("7", "Rue de Lyon", "Brest") or "")
    assert {k for k, v in keys.items() if v is not None} == {"Q5"}


def test_same_file_again_is_skipped_and_changes_nothing(url: str) -> None:
    first = load(url, support.QOMON)
    before = fetch(url, "select batch_id, line_no from raw.canvass_knocks order by line_no")
    again = load(url, support.QOMON)
    assert again.status == "skipped" and again.loaded_batch_id == first.batch_id
    after = fetch(url, "select batch_id, line_no from raw.canvass_knocks order by line_no")
    assert after == before
    assert fetch(url, "select count(*) from quarantine.canvass_rows") == [(2,)]


def test_same_knocks_in_another_file_land_again_as_versions(url: str, tmp_path: Path) -> None:
    """Other bytes, same knocks: a second landing (dbt counts one version of each knock)."""
    first = load(url, support.QOMON)
    copy = tmp_path / "qomon_again.csv"
    copy.write_bytes(support.QOMON.read_bytes() + b"\r\n")
    report = load(url, copy)
    assert (report.rows_loaded, report.rows_rejected) == (7, 2)
    per_batch = fetch(
        url, "select batch_id, count(*) from raw.canvass_knocks group by batch_id order by 1"
    )
    assert per_batch == [(first.batch_id, 7), (report.batch_id, 7)]


def test_a_newer_version_lands_beside_the_older_one(url: str) -> None:
    load(url, support.OSDI)
    report = load(url, support.OSDI_UPDATE)
    assert (report.rows_read, report.rows_loaded) == (2, 2)
    versions = fetch(
        url,
        "select outcome, source_updated_at from raw.canvass_knocks "
        "where knock_id = %s order by batch_id",
        (support.kid("osdi", "osdi_example:OS4"),),
    )
    assert [v[0] for v in versions] == ["moved", "not_reached"]
    assert versions[0][1] < versions[1][1]


def test_osdi_jsonl_malformed_line_and_outreach_are_quarantined(url: str) -> None:
    report = load(url, support.OSDI)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (5, 3, 2)
    assert [r[1] for r in quarantine(url)] == [3, 4]


def test_json_collection_document_loads(url: str) -> None:
    report = load(url, support.OSDI_COLLECTION)
    assert (report.rows_loaded, report.source) == (2, "osdi")
    outcomes = fetch(url, "select outcome from raw.canvass_knocks")
    assert sorted(outcomes) == [("opened_later",), ("opened_refused",)]


def test_do_not_contact_is_recorded_in_the_register(url: str, tmp_path: Path) -> None:
    report = load(url, support.QOMON)
    assert report.new_suppressions == 1
    register = fetch(url, "select building_key, first_seen_at, source from raw.canvass_suppression")
    (q7_building,) = fetch(
        url,
        "select building_key from raw.canvass_knocks where knock_id = %s",
        (support.kid("qomon", "Q7"),),
    )
    first_seen = dt.datetime(2026, 10, 16, 15, 0, tzinfo=dt.UTC)
    assert register == [(q7_building[0], first_seen, "qomon")]
    # An earlier do_not_contact at the same building moves the entry back: not a new entry.
    lines = support.QOMON.read_text(encoding="utf-8-sig").splitlines()
    q7 = next(line for line in lines if line.startswith("Q7;"))
    earlier = tmp_path / "qomon_earlier.csv"
    earlier.write_text(
        lines[0] + "\n" + q7.replace("Q7;2026-10-16 17:00:00", "Q7b;2026-10-01 09:00:00") + "\n",
        encoding="utf-8",
    )
    assert load(url, earlier).new_suppressions == 0
    assert fetch(url, "select first_seen_at from raw.canvass_suppression") == [
        (dt.datetime(2026, 10, 1, 7, 0, tzinfo=dt.UTC),)
    ]


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
    assert flags[support.kid("pap", "6f1c2a0e-0000-4000-8000-000000000001")] == ["future_timestamp"]
    assert flags[support.kid("pap", "6f1c2a0e-0000-4000-8000-000000000002")] == [
        "outside_campaign_window"
    ]


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
        raise RuntimeError("simulated crash after the COPY")

    monkeypatch.setattr(loader, "_record_opposition", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load(url, support.QOMON)
    for table in ("raw.canvass_knocks", "raw.canvass_suppression", "quarantine.canvass_rows"):
        assert fetch(url, f"select count(*) from {table}") == [(0,)], table
    assert fetch(url, "select status, error from raw.batch_ledger where source = 'canvass'") == [
        ("failed", "RuntimeError: simulated crash after the COPY")
    ]
    monkeypatch.undo()
    assert load(url, support.QOMON).status == "loaded"  # the file can be retried


def test_expired_campaign_refuses_the_file(url: str) -> None:
    with pytest.raises(SourceFormatError, match="retention ended"):
        load(url, support.QOMON, now=CAMPAIGN.retention_ends_at + dt.timedelta(days=20))
    assert fetch(url, "select count(*) from raw.canvass_knocks") == [(0,)]


def test_lands_before_any_bureau_reference() -> None:
    """No election results nor REU addresses yet: the rows land all the same; dbt matches their
    bureaux at the next build, once a reference is there."""
    empty = support.fresh_warehouse("canvass_noref", with_results=False)
    report = load(empty, support.QOMON)
    assert (report.status, report.rows_loaded) == ("loaded", 7)


def test_worker_processes_give_the_same_result(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big files are mapped by worker processes: same rows, same quarantine, same ledger."""
    monkeypatch.setattr(loader, "RANGE_ROWS", 2)  # several ranges even for a small fixture
    columns = (
        "line_no, knock_id, canvasser_key, bureau_id, building_key, address_key, longitude, "
        "latitude, knocked_at, outcome, topics, integrity_flags"
    )
    sequential = load(url, support.QOMON)
    rows = fetch(url, f"select {columns} from raw.canvass_knocks order by line_no")
    support.reset_canvass(url)
    monkeypatch.setenv("SCRUTIN_CANVASS_WORKERS", "2")
    parallel = load(url, support.QOMON)
    assert (parallel.rows_loaded, parallel.rows_rejected) == (
        sequential.rows_loaded,
        sequential.rows_rejected,
    )
    assert fetch(url, f"select {columns} from raw.canvass_knocks order by line_no") == rows
    assert len(quarantine(url)) == 2


def test_app_ids_land_keyed_never_as_written(url: str, tmp_path: Path) -> None:
    """Before: record ids were stored verbatim, and apps put e-mails, phones and odd bytes in
    them. Now every id is keyed (HMAC with the canvass secret), control characters included."""
    import json

    record = json.loads(support.OSDI.read_text().splitlines()[1])
    odd = "odd:tab\there\\back\nslash:0612345678"  # (a space or an @ is quarantined)
    record["identifiers"] = [odd]
    path = tmp_path / "osdi_odd.jsonl"
    path.write_text(json.dumps(record) + "\n")
    assert load(url, path).rows_loaded == 1
    (stored,) = fetch(url, "select knock_id from raw.canvass_knocks")
    assert stored == (support.kid("osdi", odd),)
    assert len(str(stored[0])) == 64 and "0612345678" not in str(stored[0])


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
