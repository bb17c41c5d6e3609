"""Optional source: IRIS contours through `pynsee.geodata` (the IGN Géoplateforme WFS).

`pynsee.geodata.get_geodata("STATISTICALUNITS.IRISGE:iris_ge")` returns the IRIS-GE layer
(fields `code_iris`, `code_insee`, `nom_commune`, `iris`, `nom_iris`, `type_iris`: the
CONTOURS-IRIS 3.x layout). We ask it for Lambert-93, keep the IRIS attributes, optionally filter
communes, and write a GeoJSON whose `crs` member declares EPSG:2154, which `scrutin ingest geo
--kind iris` then loads like any IGN file. The download is the whole country (the WFS layer is
not filtered server-side by pynsee) and pynsee caches it; without network every pynsee call
fails only after its own retries (~2 minutes), so this is never on the default path: the DAG
reads files from the landing folder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("scrutin.ingestion.geo")

IRIS_GE_LAYER = "STATISTICALUNITS.IRISGE:iris_ge"
IRIS_FIELDS = ("code_iris", "code_insee", "nom_commune", "iris", "nom_iris", "type_iris")


def download_iris_contours(
    output: str | Path,
    *,
    communes: Sequence[str] | None = None,
    layer: str = IRIS_GE_LAYER,
) -> Path:
    """Fetch the IRIS layer with pynsee and write it as a Lambert-93 GeoJSON; returns the path."""
    from pynsee.geodata import get_geodata

    output = Path(output)
    frame = get_geodata(layer, crs="EPSG:2154", silent=True)
    missing = [f for f in ("code_iris", "code_insee") if f not in frame.columns]
    if missing:
        raise ValueError(
            f"pynsee layer {layer} has no {', '.join(missing)} attribute: got "
            f"{', '.join(map(str, frame.columns))}"
        )
    if communes:
        frame = frame[frame["code_insee"].isin(list(communes))]
    kept = [f for f in IRIS_FIELDS if f in frame.columns]
    frame = frame[[*kept, "geometry"]].sort_values("code_iris")
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_file(output, driver="GeoJSON", engine="pyogrio")
    log.info("%s: %d IRIS from pynsee layer %s (Lambert-93)", output.name, len(frame), layer)
    return output
