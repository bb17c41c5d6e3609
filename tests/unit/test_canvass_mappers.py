"""App exports -> canonical door knocks, without a database: vocabularies, times, privacy rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ingestion.canvass.mappers import mappers
from ingestion.canvass.model import (
    CONVERSATION,
    INTENTS,
    OUTCOMES,
    SENTIMENTS,
    SOURCES,
    TOPICS,
    FieldKnock,
    RowRejected,
)
from ingestion.canvass.readers import open_export
from ingestion.errors import SourceFormatError
from tests.fixtures.canvass import support

UTC = dt.UTC


def mapped(path: Path, fmt: str | None = None) -> dict[int, FieldKnock | RowRejected]:
    export = open_export(path, fmt)
    out: dict[int, FieldKnock | RowRejected] = {}
    for line_no, record in export.records:
        if isinstance(record, RowRejected):
            out[line_no] = record
            continue
        try:
            out[line_no] = export.mapper.map(record)
        except RowRejected as exc:
            out[line_no] = exc
    return out


def test_formats_are_detected_from_the_file() -> None:
    detected = {
        p.name: open_export(p).mapper.name
        for p in (
            support.QOMON,
            support.ECANVASSER,
            support.NATIONBUILDER,
            support.OSDI,
            support.PAP,
        )
    }
    assert detected == {
        "qomon_small.csv": "qomon",
        "ecanvasser_small.csv": "ecanvasser",
        "nationbuilder_small.csv": "nationbuilder",
        "osdi_small.jsonl": "osdi",
        "pap_small.csv": "pap",
    }
    assert open_export(support.OSDI_COLLECTION).layout == "json"


def test_qomon_conversation_naive_paris_time_and_topics() -> None:
    rows = mapped(support.QOMON)
    q1 = rows[2]
    assert isinstance(q1, FieldKnock)
    assert q1.outcome == CONVERSATION
    # 2026-10-14 18:32:05 in Paris (summer time, UTC+2)
    assert q1.knocked_at == dt.datetime(2026, 10, 14, 16, 32, 5, tzinfo=UTC)
    # An unlisted topic ("Vélo-cargo") becomes "other": its text is dropped.
    assert q1.topics == ("security", "housing", "other")
    assert (q1.intends_to_vote, q1.sentiment, q1.registered_here, q1.consent) == (
        "likely",
        "positive",
        True,
        True,
    )
    assert q1.bureau_hint == "29019_0001"
    q2 = rows[3]
    assert isinstance(q2, FieldKnock)
    # 2026-11-02 18:00 in Paris (winter time, UTC+1); not a conversation: answers are NULL.
    assert q2.knocked_at == dt.datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
    assert q2.outcome == "not_reached"
    assert (q2.topics, q2.consent, q2.sentiment) == (None, None, None)


def test_unknown_outcome_is_rejected_with_column_and_without_the_value() -> None:
    rejected = mapped(support.QOMON)[4]
    assert isinstance(rejected, RowRejected)
    assert rejected.column == "Statut"
    assert "expected one of" in rejected.reason
    assert "vacances" not in rejected.reason


def test_refused_consent_drops_every_opinion() -> None:
    q8 = mapped(support.QOMON)[9]
    assert isinstance(q8, FieldKnock)
    assert q8.outcome == CONVERSATION and q8.consent is False
    assert (q8.topics, q8.intends_to_vote, q8.sentiment, q8.registered_here) == (None,) * 4


def test_ecanvasser_statuses_reception_and_issues() -> None:
    rows = mapped(support.ECANVASSER)
    ec1, ec3, ec4 = rows[2], rows[4], rows[5]
    assert (
        isinstance(ec1, FieldKnock) and isinstance(ec3, FieldKnock) and isinstance(ec4, FieldKnock)
    )
    assert (ec1.outcome, ec1.sentiment, ec1.topics, ec1.wants_to_volunteer) == (
        CONVERSATION,
        "positive",
        ("housing", "jobs"),
        True,
    )
    assert (ec3.outcome, ec4.outcome) == ("opened_later", "inaccessible")
    assert (ec4.longitude, ec4.latitude) == (None, None)


def test_nationbuilder_only_door_knocks_and_do_not_contact() -> None:
    rows = mapped(support.NATIONBUILDER)
    nb1, nb2, nb3, nb4 = rows[2], rows[3], rows[4], rows[5]
    assert isinstance(nb1, FieldKnock)
    assert nb1.knocked_at == dt.datetime(2026, 10, 18, 15, 5, tzinfo=UTC)
    assert (nb1.sentiment, nb1.topics, nb1.intends_to_vote) == (
        "negative",
        ("transport",),
        "unlikely",
    )
    assert nb1.address.street == "3 Rue de Glasgow"
    assert isinstance(nb2, RowRejected) and nb2.column == "method"
    assert isinstance(nb3, FieldKnock) and nb3.outcome == "do_not_contact"
    assert isinstance(nb4, RowRejected) and nb4.column == "status"


def test_osdi_canvass_answers_and_refusals() -> None:
    rows = mapped(support.OSDI)
    os1 = rows[1]
    assert isinstance(os1, FieldKnock)
    assert (os1.knock_id, os1.canvasser_id) == (
        "osdi_example:OS1",
        "https://osdi.example.org/api/v1/people/c-77",
    )
    assert (os1.outcome, os1.topics, os1.sentiment, os1.intends_to_vote, os1.consent) == (
        CONVERSATION,
        ("environment", "jobs"),
        "positive",
        "certain",
        True,
    )
    assert (os1.longitude, os1.latitude) == (-4.4869, 48.3917)
    malformed, outreach = rows[3], rows[4]
    assert isinstance(malformed, RowRejected) and "malformed JSON" in malformed.reason
    assert isinstance(outreach, RowRejected) and "outreach" in outreach.reason
    assert isinstance(rows[5], FieldKnock) and rows[5].outcome == "moved"


def test_pap_codes_labels_french_dates_and_intermediate_status() -> None:
    rows = mapped(support.PAP)
    visit = rows[2]
    assert isinstance(visit, FieldKnock)
    assert visit.bureau_hint == "29019_0002"
    assert visit.knocked_at == dt.datetime(2026, 10, 14, 9, 0, tzinfo=UTC)
    assert visit.version_at == dt.datetime(2026, 10, 14, 9, 6, tzinfo=UTC)
    assert (visit.topics, visit.intends_to_vote, visit.sentiment, visit.registered_here) == (
        ("schools", "health"),
        "unknown",
        "neutral",
        True,
    )
    assert isinstance(rows[3], FieldKnock) and rows[3].outcome == "opened_refused"
    assert isinstance(rows[4], RowRejected) and "intermediate" in rows[4].reason
    assert isinstance(rows[5], FieldKnock) and rows[5].outcome == "moved"


def test_field_knock_never_carries_identity_fields() -> None:
    names = set(FieldKnock.__dataclass_fields__)
    assert not names & {"first_name", "last_name", "name", "email", "phone", "note", "notes"}
    for mapper in mappers().values():
        # the identity columns are never required: an export without them loads
        assert not set(mapper.identity_columns) & set(mapper.required)


def test_wrong_delimiter_is_refused_as_a_file(tmp_path: Path) -> None:
    text = support.QOMON.read_text(encoding="utf-8-sig")
    bad = tmp_path / "qomon_resaved.csv"
    bad.write_text(text.replace(";", ","), encoding="utf-8")
    with pytest.raises(SourceFormatError) as err:
        open_export(bad)
    assert err.value.line == 1
    assert "wrong delimiter" in str(err.value) and "';'" in str(err.value)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(content)
    with pytest.raises(SourceFormatError, match="empty file"):
        open_export(empty)


def test_header_only_file_is_refused_while_reading(tmp_path: Path) -> None:
    header_only = tmp_path / "pap.csv"
    header_only.write_text(support.PAP.read_text(encoding="utf-8").splitlines()[0] + "\n")
    export = open_export(header_only)
    with pytest.raises(SourceFormatError, match="no data row"):
        list(export.records)


def test_truncated_csv_row_is_a_row_error(tmp_path: Path) -> None:
    data = support.ECANVASSER.read_bytes()
    cut = tmp_path / "ecanvasser_cut.csv"
    cut.write_bytes(data[: len(data) - 30])
    rows = mapped(cut)
    last = rows[max(rows)]
    assert isinstance(last, RowRejected) and "truncated" in last.reason


def test_truncated_json_document_is_refused(tmp_path: Path) -> None:
    data = support.OSDI_COLLECTION.read_bytes()
    cut = tmp_path / "collection.json"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match="truncated"):
        open_export(cut)


def test_explicit_format_must_match_the_layout() -> None:
    with pytest.raises(SourceFormatError, match="JSON, not CSV"):
        open_export(support.QOMON, "osdi")


def test_vocabularies_match_the_quality_suite() -> None:
    from expectations import suites_canvass

    assert suites_canvass.SOURCES == SOURCES
    assert suites_canvass.OUTCOMES == OUTCOMES
    assert suites_canvass.TOPICS == TOPICS
    assert suites_canvass.INTENTS == INTENTS
    assert suites_canvass.SENTIMENTS == SENTIMENTS
    assert tuple(mappers()) == SOURCES
