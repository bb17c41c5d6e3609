"""Read weighted points (REU addresses or any geocoded counts) from a CSV for the weights CLI.

The REU address table (`table-adresses-reu`: `longitude`, `latitude`, `nb_adresses`,
`id_brut_bv_reu`) is the reference case, but any CSV works: the columns are named on the command
line. The separator (`,` `;` tab) is read from the header; `.gz` is decompressed. Columns are
parsed vectorised (pandas C reader); a bad value is reported with its physical line (header =
line 1) and column, like every other loader.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.errors import SourceFormatError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ingestion.geo.allocation import WeightedPoints


def _header(path: Path) -> str:
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return str(fh.readline())


def sniff_separator(header: str) -> str:
    """`;`, tab or `,`: whichever the header line uses most (REU files use `,`)."""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] else ","


def read_points(
    path: str | Path,
    *,
    lon: str,
    lat: str,
    target: str,
    weight: str | None = None,
    commune: str | None = None,
) -> WeightedPoints:
    """WGS84 points with their weight (1 each when `weight` is None) and target id."""
    import numpy as np
    import pandas as pd

    from ingestion.geo.allocation import WeightedPoints

    path = Path(path)
    if not path.exists():
        raise SourceFormatError(path, None, None, "file not found")
    header = _header(path)
    sep = sniff_separator(header)
    names = [n.strip().strip('"') for n in header.rstrip("\r\n").split(sep)]
    wanted = [c for c in (lon, lat, target, weight, commune) if c]
    for column in wanted:
        if column not in names:
            raise SourceFormatError(
                path, 1, column, f"no column {column!r}: the header has {', '.join(names)}"
            )
    frame = pd.read_csv(
        path,
        sep=sep,
        usecols=list(dict.fromkeys(wanted)),
        dtype=dict.fromkeys(wanted, str),
        keep_default_na=False,
        encoding="utf-8-sig",
    )
    x = _numbers(frame, path, lon, -180.0, 180.0)
    y = _numbers(frame, path, lat, -90.0, 90.0)
    w = _numbers(frame, path, weight, 0.0, None) if weight else np.ones(len(frame))
    targets = frame[target].str.strip().to_numpy(dtype=object)
    _no_empty(targets, path, target)
    communes = None
    if commune:
        communes = frame[commune].str.strip().to_numpy(dtype=object)
        _no_empty(communes, path, commune)
    return WeightedPoints(x, y, w, targets, communes)


def _numbers(
    frame: pd.DataFrame, path: Path, column: str, low: float, high: float | None
) -> np.ndarray:
    import numpy as np
    import pandas as pd

    text = frame[column].str.strip()
    values = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce").to_numpy(
        dtype=np.float64
    )
    bad = np.isnan(values) | (values < low)
    if high is not None:
        bad |= values > high
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        expected = (
            f"a number between {low:g} and {high:g}"
            if high is not None
            else (f"a number >= {low:g}")
        )
        raise SourceFormatError(path, i + 2, column, f"expected {expected}, got {text.iloc[i]!r}")
    return values


def _no_empty(values: object, path: Path, column: str) -> None:
    import numpy as np

    empty = np.asarray(values, dtype=object) == ""
    if empty.any():
        line = int(np.flatnonzero(empty)[0]) + 2
        raise SourceFormatError(path, line, column, "empty value: every point needs one")
