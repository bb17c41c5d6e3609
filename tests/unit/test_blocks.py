"""The block reader's own checks (ingestion/blocks.py): what they find, wherever it is."""

from __future__ import annotations

import pytest

from ingestion.blocks import BlockParser, _field_bytes, has_odd_bytes


@pytest.mark.parametrize(
    ("text", "odd"),
    [
        ("Canton n°2; Élise; 12 €; l’Aber", False),  # C2 B0, C3 89, E2 82 AC, E2 80 99
        ("a\u00a0b", True),  # no-break space
        ("a\u2028b", True),  # line separator
        ("a\u3000b", True),  # ideographic space
        ("a\u0085b", True),  # next line
        ("a\x0bb", True),
        ("a\tb\r\n", False),
    ],
)
def test_odd_bytes_are_found_wherever_they_are(text: str, odd: bool) -> None:
    import numpy as np

    data = ("x" * 1000 + text + "y" * 10).encode("utf-8")
    assert has_odd_bytes(np.frombuffer(data, dtype=np.uint8)) is odd
    tail = text.encode("utf-8")  # at the very end of the block too
    assert has_odd_bytes(np.frombuffer(tail, dtype=np.uint8)) is odd


def test_field_bytes_read_every_chunk_and_slice_of_a_column() -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    whole = pa.array(["", "é", "abc", "Brélès", "x" * 300, "’", "", "12"] * 50, pa.string())
    # chunks of odd sizes, some of them slices whose offsets do not start at 0
    column = pa.chunked_array([whole[0:7], whole[7:150], whole[150:151], whole[151:]])
    other = pa.chunked_array([whole[::-1]])
    table = pa.table({"a": column, "b": other})
    expected = (pc.binary_length(column).to_numpy() + pc.binary_length(other).to_numpy()).tolist()
    assert _field_bytes(table).tolist() == expected


def test_a_block_of_several_parser_chunks_reads_back_to_its_bytes() -> None:
    """A block larger than pyarrow's own read block (1 MB) comes back in several chunks."""
    line = '"29019";"Rue de Siam";;"Brélès";12\n'
    data = (line * 60_000).encode("utf-8")  # ~2.2 MB
    table = BlockParser(5, ";")(data)
    assert table.num_rows == 60_000
    assert table.column(0).num_chunks > 1
