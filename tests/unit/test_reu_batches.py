"""The REU address table read in column batches gives exactly what the line reader gives.

`iter_address_batches` is the loader's fast path; `iter_reu_rows` stays the definition of a valid
file. Every test here compares the two on the same bytes, or checks that the batch reader hands
the file back (`NeedsLineReader`) where it cannot decide as the line reader would.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ingestion.blocks import NeedsLineReader
from ingestion.sources.reu import (
    ADDRESS_BATCH_COLUMNS,
    ADDRESS_COLUMNS,
    address_key,
    address_keys,
    iter_address_batches,
    iter_reu_rows,
)

ROOT = Path(__file__).resolve().parents[2]
HEADER = ",".join(ADDRESS_COLUMNS)


def _line(
    commune: str = "29039",
    bureau: str = "29039_1",
    label: str = '"1 Rue de la Mairie 29900 Concarneau"',
    *,
    score: str = "0.9",
    lon: str = "-3.9",
    lat: str = "47.8",
    nb_bv: str = "3",
    nb: str = "2",
) -> str:
    return f"{commune},1,{bureau},29039_0001,{label},housenumber,{score},{lon},{lat},1,{nb_bv},{nb}"


def _write(tmp_path: Path, lines: list[str], *, end: str = "\n", name: str = "a.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((end.join([HEADER, *lines]) + end).encode("utf-8"))
    return path


def _batched(path: Path, chunk_bytes: int = 1 << 20) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for batch in iter_address_batches(path, chunk_bytes=chunk_bytes):
        rows.extend(zip(*(batch[c].to_pylist() for c in ADDRESS_BATCH_COLUMNS), strict=True))
    return rows


def _line_by_line(path: Path) -> list[tuple[object, ...]]:
    return [tuple(getattr(row, c) for c in ADDRESS_BATCH_COLUMNS) for row in iter_reu_rows(path)]


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "data/sample/reu/table-adresses-reu-synthetic.csv.gz",
        ROOT / "data/sample/reu/addresses_sample.csv",
    ],
    ids=lambda p: p.name,
)
def test_bundled_samples_read_the_same(path: Path) -> None:
    expected = _line_by_line(path)
    assert expected
    assert _batched(path) == expected
    assert _batched(path, chunk_bytes=1 << 16) == expected  # many batches, lines across blocks


def test_tricky_but_valid_values_read_the_same(tmp_path: Path) -> None:
    lines = [
        _line(),
        _line("2a004", "2A004_12", '"3 Rue de l\'Église 20000 Ajaccio"'),  # lower-case Corsica
        _line("75056", "75113_3", '"12bis R. de Siam, Apt 4 75013 Paris"'),  # PLM arrondissement
        _line("29039", "29039_1", '"Lieu-dit Kerœuf 29900 Concarneau"', score=""),
        _line("29039", "29039_1", "", nb_bv="", nb="5.0"),  # no label, Parquet-style integer
        _line("29039", "29039_1", '"Rue sans code postal"'),  # not a BAN label: plain key
        _line("29039", "29039_1", '"12 34567 x 29000 Brest"'),  # the lazy split decides
        _line("29039", "29039_1", '"  7   Place  du   Marché   29900   Concarneau  "'),
        _line("29039", "29039_1", '"12 - 29000 Brest"'),  # the street folds to a number only
        _line("29039", "29039_1", '"Straße 9 29000 Brest"', lon="-3.90000000000000001"),
        _line("29039", " 29039_1 ", '"1 Rue de la Mairie 29900 Concarneau"', lat=" 47.8 "),
    ]
    path = _write(tmp_path, lines)
    expected = _line_by_line(path)
    assert len(expected) == len(lines)
    assert _batched(path) == expected


@pytest.mark.parametrize("end", ["\r\n", "\n"])
def test_line_ends_and_a_last_line_without_one(tmp_path: Path, end: str) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(end.join([HEADER, _line(), _line(nb="7")]).encode("utf-8"))
    expected = _line_by_line(path)
    assert [row[0] for row in expected] == [2, 3]
    assert _batched(path) == expected


def test_a_subset_of_the_columns_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "subset.csv"
    path.write_text(
        "id_brut_bv_reu,code_commune_ref,longitude,latitude,geo_type,geo_score,nb_adresses\n"
        "29039_1,29039,-3.913795,47.872888,housenumber,0.96,2\n"
        "29039_2,29039,-3.917988,47.86938,,,4\n",
        encoding="utf-8",
    )
    assert _batched(path) == _line_by_line(path)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (_line(commune="2904"), "a commune code the line reader refuses"),
        (_line(bureau="29039-1"), "an REU id without its underscore"),
        (_line(lon="1,5"), "a decimal comma"),
        (_line(lat="nan"), "not a finite number"),
        (_line(nb="-1"), "a negative count"),
        (_line(nb="99999999999"), "beyond int4"),
        (_line(nb=""), "a required count missing"),
        (_line(label='"1 Rue ""Haute"" 29000 Brest"'), "an escaped quote: strict csv decides"),
        (_line(label='"1 Rue"x 29000 Brest'), "text after a closing quote"),
        (_line(label="1 Rue\u00a0Haute 29000 Brest"), "a no-break space: Python's \\s"),
        (_line(label="1 Rue\x00Haute 29000 Brest"), "a NUL byte"),
        (_line() + ",extra", "a field too many"),
        ("", "a blank line"),
    ],
)
def test_what_it_does_not_decide_goes_back_to_the_line_reader(
    tmp_path: Path, line: str, why: str
) -> None:
    path = _write(tmp_path, [_line(), line, _line()])
    with pytest.raises(NeedsLineReader):
        _batched(path)


def test_latin1_bytes_go_back_to_the_line_reader(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        (HEADER + "\n" + _line(label='"1 Rue de l\'Église 29000 Brest"') + "\n").encode("latin-1")
    )
    with pytest.raises(NeedsLineReader):
        _batched(path)


def test_a_truncated_gzip_goes_back_to_the_line_reader(tmp_path: Path) -> None:
    whole = gzip.compress(("\n".join([HEADER] + [_line()] * 2000) + "\n").encode("utf-8"))
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(NeedsLineReader):
        _batched(path, chunk_bytes=4096)


def test_an_over_long_line_goes_back_to_the_line_reader(tmp_path: Path) -> None:
    path = _write(tmp_path, [_line(label='"' + "x" * (1 << 20) + ' 29000 Brest"')])
    with pytest.raises(NeedsLineReader):
        _batched(path, chunk_bytes=1 << 16)


def test_address_keys_equal_address_key_on_each_label() -> None:
    import pyarrow as pa

    labels = [
        "1 Rue de la Mairie 29900 Concarneau",
        "3 Rue de l'Église 29900 Concarneau",
        "12bis Av. Jean Jaurès 29200 Brest",
        "12 R de Siam 29200 Brest",
        "Place Guérin 29200 Brest",
        "0007 Imp. des Œillets 13001 Marseille",
        "12 34567 x 29000 Brest",
        "12 - 29000 Brest",
        "12 Rue 29000 -",
        "Rue sans code postal",
        "29000 Brest",
        "5 Bd St-Michel\t75005\tParis",
        "Straße 9 29000 Brest",
        None,
    ]
    expected = [address_key(label) if label else None for label in labels]
    assert address_keys(pa.array(labels, pa.string())).to_pylist() == expected
