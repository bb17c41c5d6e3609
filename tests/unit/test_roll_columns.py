"""The roll extract counted in column blocks gives exactly what the line reader gives.

`aggregate_roll_columns` is the loader's fast path; `aggregate_roll` stays the definition of a
valid extract. Every test compares the two on the same bytes, or checks that the column path
hands the file back (`NeedsLineReader`) where it cannot decide as the line reader would, and that
`aggregate_roll_fast` then refuses it with the line reader's error (file, line, column, no value).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ingestion.blocks import NeedsLineReader
from ingestion.errors import SourceFormatError
from ingestion.sources.roll import (
    RollAggregate,
    aggregate_roll,
    load_mapping,
    resolve_reference_date,
)
from ingestion.sources.roll_columns import aggregate_roll_columns, aggregate_roll_fast
from tests.fixtures.roll.roll_layout import HAND_FIXTURE, LCE, LCM, LP, elector, write_extract

ROOT = Path(__file__).resolve().parents[2]
NAME = "ListesElecteursActifs-com29999-10-06-2024-09h30.csv"
FIELDS = (
    "counts",
    "doors",
    "electors_read",
    "electors_counted",
    "electors_without_address",
    "rejected",
    "reference_date",
    "reference_date_source",
)


def _columns(path: Path, *, chunk_bytes: int = 1 << 20, **kwargs: object) -> RollAggregate:
    reference_date, source = resolve_reference_date(path, None)
    return aggregate_roll_columns(
        path,
        mapping=load_mapping(),
        reference_date=reference_date,
        reference_date_source=source,
        chunk_bytes=chunk_bytes,
        **kwargs,  # type: ignore[arg-type]
    )


def _same(path: Path, *, chunk_bytes: int = 1 << 20, known: set[str] | None = None) -> None:
    expected = aggregate_roll(path, known_bureaux=known)
    got = _columns(path, chunk_bytes=chunk_bytes, known_bureaux=known)
    for name in FIELDS:
        assert getattr(got, name) == getattr(expected, name), name
    assert expected.electors_counted > 0  # the comparison compared something


def _varied(count: int, seed: int) -> list[dict[str, str]]:
    """Electors in every form the line reader accepts: list types and sexes spelled several
    ways, the REU's partial birth dates, ISO dates and years alone, ages on both sides of every
    band bound at the reference date, addresses whose parts normalise alike."""
    rng = random.Random(seed)
    births = [
        "10/06/2006",  # 18 on the day
        "11/06/2006",  # 18 tomorrow: still in the first band
        "10/06/1999",  # 25 today
        "11/06/1999",  # 24
        "29/02/1960",
        "00/00/1950",
        "00/06/1949",  # unknown day, June: the 15th, after the 10th
        "00/05/1949",
        "00/00/1999",  # 1 July: 25 from then on
        "00/07/1999",  # 15 July
        "01/07/1999",
        "14/07/1999",
        "1975",
        "1980-03-04",
        " 01/01/1990 ",
        "31/12/1904",
        "15/07/1999",
    ]
    lists = [LP, LCM, LCE, "LP", "liste principale", " Liste  Principale "]
    sexes = ["F", "M", "f", "Féminin", "masculin", "", "?"]
    streets = [
        ("1", "Rue de Siam"),
        ("1", "rue de siam"),
        ("", "1 Rue de Siam"),  # the same door through another split of its parts
        ("12 bis", "Place de l'Église"),
        ("3", "Allée des Œillets"),
        ("", ""),
        ("7", "Straße"),
    ]
    rows = []
    for _ in range(count):
        number, street = rng.choice(streets)
        rows.append(
            elector(
                rng.choice(["0001", "1", "0002", "2", "0003"]),
                rng.choice(sexes),
                rng.choice(births),
                number=number,
                street=street,
                locality=rng.choice(["", "", "Kerbriant"]),
                list_type=rng.choice(lists),
            )
        )
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("day", ["10-06-2024", "10-07-2024", "01-01-2025", "29-02-2024"])
def test_varied_electors_count_the_same(tmp_path: Path, seed: int, day: str) -> None:
    # the reference date (from the file name) on both sides of the partial dates' conventions
    _same(write_extract(tmp_path / NAME.replace("10-06-2024", day), _varied(400, seed)))


def test_doors_spanning_blocks_are_counted_once(tmp_path: Path) -> None:
    path = write_extract(tmp_path / NAME, _varied(600, 4))
    _same(path, chunk_bytes=4096)  # ~15 blocks: every door is in several of them


def test_left_out_lines_are_reported_with_their_own_numbers(tmp_path: Path) -> None:
    rows = _varied(300, 5)
    rows[7] = elector("0009", "F", "not a date at all")  # left out: its date is never read
    rows[8] = elector("", "M", "01/01/1980")
    path = write_extract(tmp_path / NAME, rows)
    _same(path, known={"29999_0001", "29999_0002"}, chunk_bytes=2048)
    lines = [r.line for r in _columns(path, known_bureaux={"29999_0001", "29999_0002"}).rejected]
    assert {9, 10} <= set(lines) and lines == sorted(lines)


def test_cp1252_and_commas_count_the_same(tmp_path: Path) -> None:
    path = write_extract(tmp_path / NAME, _varied(200, 6), separator=",", encoding="cp1252")
    _same(path)


@pytest.mark.parametrize(
    "path",
    [HAND_FIXTURE, *sorted((ROOT / "data" / "sample" / "roll").glob("*.csv"))],
    ids=lambda p: p.name,
)
def test_the_bundled_extracts_count_the_same(path: Path) -> None:
    expected = aggregate_roll(path)
    got = aggregate_roll_columns(
        path,
        mapping=load_mapping(),
        reference_date=expected.reference_date,
        reference_date_source=expected.reference_date_source,
    )
    for name in FIELDS:
        assert getattr(got, name) == getattr(expected, name), name


@pytest.mark.parametrize(
    ("change", "line", "column"),
    [
        (lambda rows: rows.__setitem__(5, elector("0001", "F", "31/02/1990")), 7, "date"),
        (lambda rows: rows.__setitem__(5, elector("0001", "F", "01/13/1990")), 7, "date"),
        (lambda rows: rows.__setitem__(5, elector("0001", "F", "05/00/1990")), 7, "date"),
        (lambda rows: rows.__setitem__(5, elector("0001", "F", "01/01/2030")), 7, "date"),
        (lambda rows: rows.__setitem__(5, elector("0001", "F", "01/01/1850")), 7, "date"),
        (
            lambda rows: rows.__setitem__(9, elector("0001", "F", "01/01/1990", list_type="?")),
            11,
            "type",
        ),
        (lambda rows: rows.__setitem__(3, elector("DUPONT JEAN", "F", "01/01/1990")), 5, "bureau"),
    ],
)
def test_a_refused_value_is_handed_back_and_refused_on_its_line(
    tmp_path: Path, change: object, line: int, column: str
) -> None:
    rows = _varied(50, 7)
    change(rows)  # type: ignore[operator]
    path = write_extract(tmp_path / NAME, rows)
    with pytest.raises(NeedsLineReader):
        _columns(path)
    with pytest.raises(SourceFormatError) as info:
        aggregate_roll_fast(path, min_bytes=0)
    assert info.value.line == line
    assert info.value.column is not None and column in info.value.column


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text.replace("\n", "\n\n", 3),  # blank lines
        lambda text: text.replace('"Rue de Siam"', '"Rue "de" Siam"', 1),  # a stray quote
        lambda text: text.replace("\n", ";extra\n", 2)[: len(text) + 12],  # a wider line
        lambda text: text.replace("Kerbriant", "Ker\u00a0briant", 1),  # a no-break space
    ],
)
def test_what_the_blocks_do_not_prove_goes_to_the_line_reader(
    tmp_path: Path, damage: object
) -> None:
    text = write_extract(tmp_path / "clean.csv", _varied(80, 8)).read_text(encoding="utf-8")
    path = tmp_path / NAME
    path.write_text(damage(text), encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(NeedsLineReader):
        _columns(path)
    try:
        expected = aggregate_roll(path)
    except SourceFormatError as refused:
        with pytest.raises(SourceFormatError) as info:
            aggregate_roll_fast(path, min_bytes=0)
        assert (info.value.line, info.value.column) == (refused.line, refused.column)
    else:
        got = aggregate_roll_fast(path, min_bytes=0)
        assert (got.counts, got.doors, got.rejected) == (
            expected.counts,
            expected.doors,
            expected.rejected,
        )


def test_the_fast_entry_point_uses_the_columns_on_a_big_enough_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingestion.sources.roll_columns as module

    path = write_extract(tmp_path / NAME, _varied(100, 9))
    calls: list[str] = []

    def line_reader(*args: object, **kwargs: object) -> RollAggregate:
        calls.append("lines")
        return aggregate_roll(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "aggregate_roll", line_reader)
    fast = aggregate_roll_fast(path, min_bytes=0)
    assert calls == []
    small = aggregate_roll_fast(path, min_bytes=path.stat().st_size + 1)
    assert calls == ["lines"]
    assert (fast.counts, fast.doors) == (small.counts, small.doors)
