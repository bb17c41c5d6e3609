"""Canvass app mappings (config/canvass/*.yml): strict validation, errors that name the file, the
line and the key, and privacy by construction whatever a mapping says. No database."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from ingestion.canvass.mappers import Mapper, mappers
from ingestion.canvass.mapping import (
    COMMON_FILE,
    MappingError,
    load_mappings,
    read_app_mapping,
    read_common,
)
from ingestion.canvass.model import SOURCES, FieldKnock, RowRejected
from scrutin.config import DEFAULT_CANVASS_MAPPINGS
from tests.fixtures.canvass import support

VALID = """\
version: 1
app: doors
description: a small test app
format: csv
delimiter: ";"
detect: [Ref, Result]
timestamps: {formats: [iso8601, "%d/%m/%Y %H:%M"], naive_timezone: Europe/Paris}
columns:
  Ref:    {field: knock_id,     required: true,  verified: false}
  Agent:  {field: canvasser_id, required: true,  verified: false}
  When:   {field: knocked_at,   required: true,  verified: true}
  Result: {field: outcome,      required: true,  verified: false}
  Street: {field: street,       required: true,  verified: false}
  Town:   {field: commune,      required: true,  verified: false}
  Mood:   {field: sentiment,    required: false, verified: false}
  Email:  {field: ignore,       required: false, verified: false}
vocabularies:
  outcome:
    not_reached: {verified: [Absent]}
    opened_conversation: [Talked]
  sentiment:
    positive: [Happy]
    negative: [Grumpy]
"""


def write(tmp_path: Path, text: str, name: str = "doors.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def refused(tmp_path: Path, text: str) -> MappingError:
    with pytest.raises(MappingError) as err:
        read_app_mapping(write(tmp_path, text))
    return err.value


def test_a_valid_mapping_reads_with_lines_and_marks(tmp_path: Path) -> None:
    m = read_app_mapping(write(tmp_path, VALID))
    assert (m.app, m.format, m.delimiter) == ("doors", "csv", ";")
    assert m.required_columns == ("Ref", "Agent", "When", "Result", "Street", "Town")
    assert m.ignored_columns == ("Email",)
    assert m.by_field["knocked_at"].verified and not m.by_field["outcome"].verified
    assert m.by_field["outcome"].line == line_of(VALID, "Result:")
    assert m.vocabularies["outcome"] == {"Absent": "not_reached", "Talked": "opened_conversation"}
    assert m.verified_labels["outcome"] == {"Absent"}


@pytest.mark.parametrize(
    "case",
    [
        (
            "Result: {field: outcome,",
            "Result: {field: result,",
            "columns.Result.field",
            "Result:",
            "unknown canonical field 'result'",
        ),
        (
            "Mood:   {field: sentiment,",
            "Mood:   {field: email,",
            "columns.Mood.field",
            "Mood:",
            "personal data",
        ),
        (
            "Email:  {field: ignore,       required: false,",
            "Email:  {field: version_at,   required: false,",
            "columns.Email.field",
            "Email:",
            "may only be mapped to `ignore`",
        ),
        (
            "Town:   {field: commune,      required: true,  verified: false}",
            "Town:   {field: commune,      required: true}",
            "columns.Town.verified",
            "Town:",
            "missing",
        ),
        (
            "Email:  {field: ignore,       required: false,",
            "Email:  {field: ignore,       required: true,",
            "columns.Email.required",
            "Email:",
            "never required",
        ),
        (
            "Mood:   {field: sentiment,    required: false, verified: false}",
            "Mood:   {field: consent,      required: false, verified: false}",
            "columns.Mood.required",
            "Mood:",
            "must be required: true",
        ),
        (
            "Mood:   {field: sentiment,    required: false,",
            "Mood:   {field: outcome,      required: true,",
            "columns.Mood.field",
            "Mood:",
            "already fed by column 'Result'",
        ),
        (
            "    opened_conversation: [Talked]",
            "    opened: [Talked]",
            "vocabularies.outcome.opened",
            "opened: [Talked]",
            "unknown canonical value",
        ),
        (
            "    negative: [Grumpy]",
            "    negative: [happy]",
            "vocabularies.sentiment.negative",
            "negative: [happy]",
            "already listed",
        ),
        (
            "  sentiment:\n",
            "  feelings:\n",
            "vocabularies.feelings",
            "feelings:",
            "unknown vocabulary",
        ),
        (
            "naive_timezone: Europe/Paris}",
            "naive_timezone: Europe/Brest}",
            "timestamps.naive_timezone",
            "timestamps:",
            "unknown time zone",
        ),
        (
            '"%d/%m/%Y %H:%M"]',
            '"day-month"]',
            "timestamps.formats[1]",
            "timestamps:",
            "strptime format",
        ),
        ("app: doors", "app: portes", "app", "app:", "must equal the file name"),
        ("format: csv", "format: xlsx", "format", "format:", "expected csv or json"),
        ("description:", "colour: blue\ndescription:", "colour", "colour:", "unknown key"),
        ("detect: [Ref, Result]", "detect: [Ref, Résultat]", "detect[1]", "detect:", "listed"),
    ],
)
def test_each_error_names_the_file_the_line_and_the_key(
    tmp_path: Path, case: tuple[str, str, str, str, str]
) -> None:
    """`case`: (text replaced, replacement, key named, text of the line named, reason)."""
    old, new, key, at, says = case
    assert old in VALID
    text = VALID.replace(old, new, 1)
    error = refused(tmp_path, text)
    assert error.path.name == "doors.yml"
    assert error.key == key
    assert error.line == line_of(text, at), str(error)
    assert says in error.reason
    assert str(error).startswith(f"{tmp_path / 'doors.yml'}, line {error.line}: {key}: ")


def test_a_duplicated_column_is_refused_with_both_lines(tmp_path: Path) -> None:
    text = VALID.replace(
        "  Town:", "  Result: {field: ignore, required: false, verified: false}\n  Town:"
    )
    error = refused(tmp_path, text)
    assert error.key == "Result"
    assert error.line == line_of(text, "Result: {field: ignore")
    assert f"first on line {line_of(text, 'Result:')}" in error.reason


def test_missing_top_level_and_mandatory_fields(tmp_path: Path) -> None:
    error = refused(tmp_path, VALID.replace("format: csv\n", ""))
    assert (error.key, error.reason) == ("format", "missing (a required key)")
    text = VALID.replace("  Town:   {field: commune,      required: true,  verified: false}\n", "")
    error = refused(tmp_path, text)
    assert (error.key, error.line) == ("columns", line_of(text, "columns:"))
    assert "no column is mapped to commune" in error.reason


def test_a_mapped_label_field_needs_a_vocabulary(tmp_path: Path) -> None:
    text = VALID.replace(
        "  Email:", "  Intent: {field: intends_to_vote, required: false, verified: false}\n  Email:"
    )
    error = refused(tmp_path, text)
    assert error.key == "vocabularies.intends_to_vote"
    assert error.line == line_of(text, "Intent:")
    # ... which _common.yml may give
    (tmp_path / COMMON_FILE).write_text(
        "version: 1\nvocabularies:\n  intends_to_vote:\n    certain: [sure]\n", encoding="utf-8"
    )
    common = read_common(tmp_path / COMMON_FILE)
    m = read_app_mapping(write(tmp_path, text), common)
    assert m.vocabularies["intends_to_vote"] == {"sure": "certain"}


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    text = VALID.replace("  Town:   {field: commune,", "  Town:   {field: commune,,,[")
    error = refused(tmp_path, text)
    assert error.key == "(yaml)" and error.line == line_of(text, "Town:")


def test_every_bundled_mapping_is_valid_and_reads_its_sample() -> None:
    loaded = load_mappings(DEFAULT_CANVASS_MAPPINGS)
    assert tuple(loaded) == SOURCES == ("ecanvasser", "nationbuilder", "osdi", "pap", "qomon")
    for sample in sorted(support.SAMPLE.iterdir()):
        if sample.suffix != ".csv":
            continue
        app = sample.name.split("_", 1)[0]
        with sample.open(encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh, delimiter=loaded[app].delimiter))
        assert set(loaded[app].required_columns) <= set(header), sample.name
        # every column of the real layout is known: read, or ignored on purpose
        assert {c.name for c in loaded[app].columns} == set(header), sample.name


def _knock(mapper: Mapper, **cells: str) -> FieldKnock:
    record = {
        "Ref": "R1",
        "Agent": "a-1",
        "When": "14/10/2026 18:32",
        "Result": "Talked",
        "Street": "Rue de Siam",
        "Town": "Brest",
        "Mood": "Happy",
        "Email": "secret@example.org",
        "Téléphone portable": "06 00 00 00 00",
        **cells,
    }
    return mapper.map(record)


def test_the_mapper_reads_only_what_the_mapping_maps(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    mapper = mappers(tmp_path)["doors"]
    knock = _knock(mapper)
    # French date format of the mapping, naive = Paris summer time
    assert knock.knocked_at == dt.datetime(2026, 10, 14, 16, 32, tzinfo=dt.UTC)
    assert (knock.outcome, knock.sentiment) == ("opened_conversation", "positive")
    values = repr(knock)
    assert "secret@example.org" not in values and "06 00 00" not in values


def test_a_knock_id_that_looks_personal_is_refused_never_echoed(tmp_path: Path) -> None:
    write(tmp_path, VALID)
    mapper = mappers(tmp_path)["doors"]
    for value in ("jeanne.tromelin@example.org", "Jeanne Tromelin"):
        with pytest.raises(RowRejected) as err:
            _knock(mapper, Ref=value)
        assert err.value.column == "Ref" and value not in str(err.value)


def test_unknown_labels_and_refused_labels_quarantine_the_row(tmp_path: Path) -> None:
    text = VALID + "refused:\n  outcome:\n    - labels: [Half open]\n      reason: not final\n"
    write(tmp_path, text)
    mapper = mappers(tmp_path)["doors"]
    with pytest.raises(RowRejected, match="not final"):
        _knock(mapper, Result="half-open")
    with pytest.raises(RowRejected, match="expected one of: absent, talked") as err:
        _knock(mapper, Result="Vacances")
    assert err.value.column == "Result" and "Vacances" not in str(err.value)


def test_a_mapping_edit_is_seen_without_a_restart(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    assert "Talked" in mappers(tmp_path)["doors"].mapping.vocabularies["outcome"]
    path.write_text(VALID.replace("[Talked]", "[Talked, Spoke]"), encoding="utf-8")
    assert "Spoke" in mappers(tmp_path)["doors"].mapping.vocabularies["outcome"]


def test_the_mappings_command_validates_and_names_the_error(tmp_path: Path) -> None:
    """`scrutin canvass mappings`: exit 0 and the assumed columns, or exit 3 (bad input) with
    the file, the line and the key; no database is needed."""
    import os
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "mappings"
    shutil.copytree(DEFAULT_CANVASS_MAPPINGS, folder)
    env = {**os.environ, "SCRUTIN_CANVASS_MAPPINGS": str(folder)}
    command = [sys.executable, "-m", "pipeline.cli", "canvass", "mappings"]
    ok = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "all valid" in ok.stdout and "qomon" in ok.stdout
    qomon = folder / "qomon.yml"
    text = qomon.read_text(encoding="utf-8").replace("{field: sentiment,", "{field: mood,")
    qomon.write_text(text, encoding="utf-8")
    bad = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 3
    line = line_of(text, "{field: mood,")
    assert f"qomon.yml, line {line}: columns.Niveau de soutien.field: unknown canonical" in (
        bad.stderr
    )
