"""No name, birth date or address of a roll extract reaches the warehouse, the logs or the ledger.

A synthetic extract with distinctive fake identities is loaded, then a corrupted copy is refused.
Afterwards EVERY column of EVERY table and view of every schema of the warehouse (listed from
information_schema, each row cast to text) and everything logged or printed is searched for each
surname, first name, birth date (as written and in ISO form) and street. A unique marker per run
also proves the extract itself was not copied anywhere under the checkout or /tmp.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ingestion.errors import SourceFormatError
from ingestion.loaders.roll import load_roll_file
from tests.conftest import ROOT
from tests.fixtures.roll.roll_layout import LCM, elector, write_extract
from tests.fixtures.roll.warehouse import clean_roll

pytestmark = pytest.mark.db

SURNAMES = ("QUATREBARBES", "VERMANDOIS-ZÉPHYR", "LOUVEREAU")
FIRST_NAMES = ("Zéphyrine", "Anatolie", "Philibertin")
BIRTH_DATES = (
    ("14/07/1941", "1941-07-14"),
    ("03/11/1937", "1937-11-03"),
    ("22/09/1988", "1988-09-22"),
)
STREETS = ("impasse des Hirondelles", "rue du Grand Pressoir", "chemin de la Pie Bavarde")
LOCALITY = "Lieu-dit Kerzéphyrine"


def _people(marker: str) -> list[dict[str, str]]:
    rows = []
    for i, (surname, first, (born, _), street) in enumerate(
        zip(SURNAMES, FIRST_NAMES, BIRTH_DATES, STREETS, strict=True)
    ):
        rows.append(
            elector(
                "0001" if i < 2 else "0002",
                "F" if i % 2 == 0 else "M",
                born,
                number="17",
                street=street,
                complement=f"Appartement {marker}",
                surname=surname,
                first=f"{first} {marker}",
            )
            | {"nom d'usage": f"{surname}-USAGE", "libellé commune de naissance": "QUIMPERLÉ"}
        )
    rows.append(
        elector("0002", "F", "14/07/1941", locality=LOCALITY, list_type=LCM, surname=SURNAMES[0])
    )
    return rows


def _needles(marker: str) -> list[str]:
    dates = [d for pair in BIRTH_DATES for d in pair]
    return [*SURNAMES, *FIRST_NAMES, *dates, *STREETS, LOCALITY, marker, "QUIMPERLÉ", "31/02/1941"]


@pytest.fixture
def clean(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    with clean_roll(conn) as c:
        yield c


def _scan_warehouse(conn: psycopg.Connection, needles: list[str]) -> list[tuple[str, str, int]]:
    """(schema, table, matching rows) for every relation whose rows mention a needle."""
    patterns = [
        "%" + n.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for n in needles
    ]
    relations = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema not in ('pg_catalog', 'information_schema') "
        "and table_schema not like 'pg\\_%' and table_type in ('BASE TABLE', 'VIEW')"
    ).fetchall()
    assert ("raw", "roll_bureau_counts") in relations and ("raw", "batch_ledger") in relations
    hits = []
    for schema, table in relations:
        row = conn.execute(
            f'select count(*) from "{schema}"."{table}" as t where t::text ilike any(%s)',
            (patterns,),
        ).fetchone()
        if row and row[0]:
            hits.append((schema, table, int(row[0])))
    return hits


def _copies_of(original: Path, roots: list[Path]) -> list[Path]:
    """Files with the original's bytes anywhere under `roots` (size first, then sha256)."""
    size = original.stat().st_size
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root, onerror=lambda _: None):
            dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
            for name in files:
                path = Path(folder, name)
                try:
                    if path.is_symlink() or path.stat().st_size != size:
                        continue
                    if hashlib.sha256(path.read_bytes()).hexdigest() == digest:
                        found.append(path)
                except OSError:
                    continue
    return [p for p in found if p.resolve() != original.resolve()]


def test_no_identity_leaves_the_extract(
    clean: psycopg.Connection,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pipeline.cli import main

    caplog.set_level(logging.DEBUG)
    marker = f"MARQUEUR{uuid.uuid4().hex[:12].upper()}"
    needles = _needles(marker)
    extract = write_extract(
        tmp_path / "ListesElecteursActifs-com29999-10-06-2024-08h00.csv", _people(marker)
    )

    # 1. A good load, through the CLI as an operator would run it.
    assert main(["ingest", "roll", str(extract)]) == 0
    counts = clean.execute(
        "select bureau_id, list_type, age_band, sex, voters from raw.roll_bureau_counts "
        "order by 1, 2, 3, 4"
    ).fetchall()
    assert counts == [
        ("29999_0001", "LP", "75+", "F", 1),
        ("29999_0001", "LP", "75+", "M", 1),
        ("29999_0002", "LCM", "75+", "F", 1),
        ("29999_0002", "LP", "35-49", "F", 1),
    ]

    # 2. A corrupted copy (an impossible birth date, a truncated line) is refused.
    rows = _people(marker)
    rows[1] = rows[1] | {"date de naissance": "31/02/1941"}
    corrupted = write_extract(
        tmp_path / "ListesElecteursActifs-com29999-11-06-2024-08h00.csv", rows
    )
    with pytest.raises(SourceFormatError) as info:
        load_roll_file(clean, corrupted)
    assert (info.value.line, info.value.column) == (3, "date de naissance")
    truncated = tmp_path / "ListesElecteursActifs-com29999-12-06-2024-08h00.csv"
    truncated.write_text(extract.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    assert main(["ingest", "roll", str(truncated)]) == 3  # bad input
    ledger = clean.execute(
        "select status, error from raw.batch_ledger where source = 'roll' order by batch_id"
    ).fetchall()
    assert [s for s, _ in ledger] == ["loaded", "failed", "failed"]

    # 3. Nothing identifying anywhere: every table of every schema, the logs, the output.
    assert _scan_warehouse(clean, needles) == []
    captured = capsys.readouterr()
    texts = {
        "logs": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        "error": str(info.value),
        "ledger": "\n".join(str(e) for _, e in ledger),
    }
    for where, text in texts.items():
        lowered = text.casefold()
        leaked = [n for n in needles if n.casefold() in lowered]
        assert leaked == [], f"{where} mentions {leaked}"
    assert "line 3" in texts["error"] and "date de naissance" in texts["error"]

    # 4. The extract was not copied or archived anywhere we write.
    assert _copies_of(extract, [ROOT, Path("/tmp")]) == []


def test_scan_would_see_a_leak(clean: psycopg.Connection) -> None:
    """The scan is not vacuous: a name written into any column of a raw table is found."""
    clean.execute(
        "insert into raw.batch_ledger (source, file_name, file_sha256, status, error) "
        "values ('roll', 'x.csv', 'x', 'failed', 'oops: QUATREBARBES born 14/07/1941')"
    )
    hits = _scan_warehouse(clean, _needles("unused-marker"))
    assert hits == [("raw", "batch_ledger", 1)]


class _Recording:
    """A connection that records the parameters of every query it runs."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.params: list[object] = []

    def execute(self, query: str, params: object = None) -> psycopg.Cursor:
        self.params.append(params)
        return self.conn.execute(query, params)  # type: ignore[arg-type]


def test_the_bureau_reference_is_asked_by_commune_never_by_a_roll_cell(
    clean: psycopg.Connection,
) -> None:
    """The loader checks a line's bureau against the reference without sending the bureau cell
    to the server: a clerk's surname in the bureau column (`29019_MARTIN`) must not become a
    query parameter, which the server may log. Only the commune code is asked, once."""
    from ingestion.loaders.roll import ReferenceLookup

    recording = _Recording(clean)
    lookup = ReferenceLookup(recording)  # type: ignore[arg-type]
    known = sorted(b for b in _reference(clean) if b.startswith("29"))[0]
    commune = known.rsplit("_", 1)[0]
    assert known in lookup
    assert f"{commune}_MARTIN" not in lookup
    assert "MARTIN_0001" not in lookup  # not an INSEE code: nothing is asked at all
    assert f"{commune}_0999" not in lookup
    assert recording.params == [{"c": commune}]  # one query, by commune code only
    assert not any("MARTIN" in str(p) for p in recording.params)


def _reference(conn: psycopg.Connection) -> set[str]:
    return {row[0] for row in conn.execute("select bureau_id from raw.reu_bureaux")}
