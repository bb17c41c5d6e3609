"""Compute the IRIS -> bureau weights from the warehouse and replace `raw.iris_bureau_weights`.

Inputs (rows of `loaded` batches only):
- sources: `raw.geo_iris` (polygons);
- targets: the bureaux of `raw.geo_bureaux` (polygons) plus every bureau known without a polygon
  — `raw.reu_bureaux`, the bureaux of `raw.reu_addresses`, and the bureaux of the most recent
  election year in `raw.election_results_bureau` — so that the commune fallback knows the
  bureaux of communes that publish no contours;
- points: `raw.reu_addresses` (lon/lat, `nb_adresses`, bureau, commune), streamed out with COPY.

Communes are compared by their results code, so a Paris arrondissement IRIS (75101…) meets the
bureaux of 75056 and an address is only used by an IRIS of its own commune (see
`allocation`). The whole set is replaced in one transaction, in a REPEATABLE READ snapshot so
the fingerprint and the rows read describe the same state. The fingerprint (loaded input batch
ids, parameters, engine version) makes a recomputation with nothing new a `skipped` ledger row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingestion.geo.allocation import (
    DEFAULT_MIN_ADDRESSES,
    DEFAULT_MIN_COVERAGE,
    DEFAULT_MIN_OVERLAP_M2,
    AllocationReport,
)
from scrutin.warehouse.batch import BatchLoad, BatchReport, Landed, ReplaceDataset, load_batch

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import psycopg

    from ingestion.geo.allocation import Allocation, Polygons, WeightedPoints
    from scrutin.warehouse.batch import Batch

log = logging.getLogger("scrutin.ingestion.geo.weights")

SOURCE = "geo_weights"
DATASET = "iris_bureau"
INPUT_NAME = "raw.geo_iris+raw.geo_bureaux+raw.reu_addresses"
ENGINE_VERSION = "1"
WEIGHTS_TABLE = "raw.iris_bureau_weights"
# The REU points' COPY text is parsed this much at a time (read_points).
POINT_CHUNK_BYTES = 64 * 1024 * 1024

_LOADED = (
    "inner join raw.batch_ledger as l on l.batch_id = {alias}.batch_id and l.status = 'loaded'"
)

_INPUT_BATCHES = """
select
    source,
    coalesce(dataset_key, '') as dataset_key,
    array_agg(batch_id order by batch_id) as batches
from raw.batch_ledger
where status = 'loaded'
    and (
        (source = 'geo' and dataset_key in ('iris', 'bureau'))
        or source in ('reu', 'elections')
    )
group by 1, 2
order by 1, 2
"""

_IRIS = f"""
select g.id, g.code_commune_results, g.geo_year, g.geometry
from raw.geo_iris as g
{_LOADED.format(alias="g")}
order by g.id
"""

_BUREAU_POLYGONS = f"""
select g.id, g.code_commune_results, g.geometry
from raw.geo_bureaux as g
{_LOADED.format(alias="g")}
order by g.id
"""

_KNOWN_BUREAUX = f"""
with latest_year as (
    select max(left(r.election_id, 4)) as year
    from raw.election_results_bureau as r
    {_LOADED.format(alias="r")}
)
select b.bureau_id, b.code_commune_results
from raw.reu_bureaux as b
{_LOADED.format(alias="b")}
union
select a.bureau_id, a.code_commune_results
from raw.reu_addresses as a
{_LOADED.format(alias="a")}
union
select r.bureau_id, r.code_commune
from raw.election_results_bureau as r
{_LOADED.format(alias="r")}
where left(r.election_id, 4) = (select year from latest_year)
"""

_POINTS = f"""
copy (
    select a.longitude, a.latitude, a.nb_adresses, a.bureau_id, a.code_commune_results
    from raw.reu_addresses as a
    {_LOADED.format(alias="a")}
    {{where}}
) to stdout
"""

_WEIGHTS_COPY = (
    f"copy {WEIGHTS_TABLE} (batch_id, geo_year, code_iris, code_commune, bureau_id, weight, "
    "method, quality, n_addresses, coverage) from stdin"
)


@dataclass(frozen=True)
class Parameters:
    """Engine thresholds (documented in docs/geography.md); part of the fingerprint."""

    min_addresses: float = DEFAULT_MIN_ADDRESSES
    min_coverage: float = DEFAULT_MIN_COVERAGE
    min_overlap_m2: float = DEFAULT_MIN_OVERLAP_M2


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightsRunReport(BatchReport):
    """What one computation did; `sha256` is the inputs' fingerprint, not a file's."""

    rows: int = 0
    iris: int = 0
    allocation: AllocationReport | None = None

    @property
    def fingerprint(self) -> str:
        return self.sha256

    def lines(self) -> list[str]:
        head = (
            f"weights {self.status} (batch {self.batch_id}): {self.rows} (IRIS, bureau) pairs "
            f"for {self.iris} IRIS, {self.duration_s:.2f} s"
        )
        return [head, *(self.allocation.lines() if self.allocation else [])]


@dataclass(slots=True)
class _Job:
    """The weights part of one computation: its inputs, then the allocation it wrote."""

    parameters: Parameters
    inputs: dict[str, list[int]] = field(default_factory=dict)
    rows: int = 0
    iris: int = 0
    allocation: AllocationReport | None = None

    def fingerprint(self, conn: psycopg.Connection) -> str:
        """The loaded input batches, parameters and engine version: nothing new, same digest."""
        rows = conn.execute(_INPUT_BATCHES).fetchall()
        self.inputs = {f"{s}/{k}" if k else s: list(batches) for s, k, batches in rows}
        payload = {
            "engine": ENGINE_VERSION,
            "inputs": self.inputs,
            "parameters": dataclasses.asdict(self.parameters),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def land(self, conn: psycopg.Connection, batch: Batch) -> Landed:
        from ingestion.geo.allocation import allocate_lonlat

        parameters = self.parameters
        sources, geo_years = read_sources(conn)
        if len(sources) == 0:
            log.warning("no IRIS contour loaded: no weights to compute (load them first)")
            return Landed(0, 0)  # no batch begun: no ledger row
        allocation = allocate_lonlat(
            sources,
            read_targets(conn),
            read_points(conn),
            min_addresses=parameters.min_addresses,
            min_coverage=parameters.min_coverage,
            min_overlap_m2=parameters.min_overlap_m2,
        )
        batch_id = batch.begin(conn)
        commune_of = dict(zip(sources.ids, sources.communes, strict=True))  # type: ignore[arg-type]
        self.rows = _copy_weights(conn, batch_id, allocation, commune_of, geo_years)
        self.iris = len(sources)
        self.allocation = allocation.report
        conn.execute(
            "insert into raw.geo_weight_runs (batch_id, fingerprint, parameters, inputs, report) "
            "values (%s, %s, %s, %s, %s)",
            (
                batch_id,
                batch.run.sha256,
                json.dumps(dataclasses.asdict(parameters)),
                json.dumps(self.inputs),
                json.dumps(dataclasses.asdict(allocation.report)),
            ),
        )
        detail = f"{self.rows} (IRIS, bureau) pairs for {self.iris} IRIS"
        return Landed(self.iris, self.rows, detail=detail)


def compute_weights(
    url_or_conn: str | psycopg.Connection | None = None,
    parameters: Parameters | None = None,
    *,
    force: bool = False,
) -> WeightsRunReport:
    """Recompute and replace the weights (see the module docstring); `force` ignores the
    fingerprint. A DSN, None (configured warehouse) or an idle connection."""
    job = _Job(parameters or Parameters())
    load = BatchLoad(
        source=SOURCE,
        logger=log,
        path=INPUT_NAME,
        dataset_key=DATASET,
        label="IRIS -> bureau weights",
        scope=ReplaceDataset((WEIGHTS_TABLE,)),
        fingerprint=job.fingerprint,
        snapshot=True,
        force=force,
        unit="IRIS",
    )
    outcome = load_batch(url_or_conn, load, job.land, caller="compute_weights")
    report = WeightsRunReport(**outcome.outcome())
    if outcome.status == "loaded":
        report = dataclasses.replace(
            report, rows=job.rows, iris=job.iris, allocation=job.allocation
        )
    for line in report.lines():
        log.info("%s", line)
    return report


def read_sources(conn: psycopg.Connection) -> tuple[Polygons, dict[str, int | None]]:
    """The loaded IRIS polygons (WGS84) with their results commune, and their geo_year."""
    import numpy as np
    import shapely

    from ingestion.geo.allocation import Polygons

    rows = conn.execute(_IRIS).fetchall()
    ids = np.array([r[0] for r in rows], dtype=object)
    communes = np.array([r[1] for r in rows], dtype=object)
    geoms = shapely.from_wkb([bytes(r[3]) for r in rows]) if rows else np.zeros(0, dtype=object)
    return Polygons(ids, np.asarray(geoms, dtype=object), communes), {r[0]: r[2] for r in rows}


def read_targets(conn: psycopg.Connection) -> Polygons:
    """Bureaux with polygons, plus every bureau known without one (geometry None)."""
    import numpy as np
    import shapely

    from ingestion.geo.allocation import Polygons

    polygons = conn.execute(_BUREAU_POLYGONS).fetchall()
    known = conn.execute(_KNOWN_BUREAUX).fetchall()
    with_geom = {r[0] for r in polygons}
    extra = sorted({(r[0], r[1]) for r in known if r[0] not in with_geom})
    ids = [r[0] for r in polygons] + [r[0] for r in extra]
    communes = [r[1] for r in polygons] + [r[1] for r in extra]
    geoms = np.empty(len(ids), dtype=object)
    if polygons:
        geoms[: len(polygons)] = shapely.from_wkb([bytes(r[2]) for r in polygons])
    return Polygons(np.array(ids, dtype=object), geoms, np.array(communes, dtype=object))


def read_points(
    conn: psycopg.Connection,
    communes: list[str] | None = None,
    *,
    chunk_bytes: int = POINT_CHUNK_BYTES,
) -> WeightedPoints:
    """Every loaded REU address point (or those of `communes`, results codes), streamed out
    with COPY (13 million rows nationally) and parsed `chunk_bytes` of text at a time.

    Memory is what this bounds: the whole COPY text and one pandas parse of it held 2.9 GB at
    national size. Bureaux and communes are few (~70k, ~35k) next to the points, so each
    distinct code is one Python string that every point of it shares (8 bytes a point, not a
    string each); the coordinates and weights are float arrays.
    """
    import numpy as np

    from ingestion.geo.allocation import WeightedPoints

    where = "" if communes is None else "where a.code_commune_results = any(%s)"
    params = None if communes is None else (communes,)
    bureaux, communes_of = _SharedStrings(), _SharedStrings()
    numbers: dict[str, list[np.ndarray]] = {"lon": [], "lat": [], "nb": []}
    pending = bytearray()

    def parse(text: bytes) -> None:
        frame = _parse_points(text)
        for name, parts in numbers.items():
            parts.append(frame[name].to_numpy(dtype=np.float64))
        bureaux.add(frame["bureau_id"])
        communes_of.add(frame["commune"])

    with conn.cursor() as cur, cur.copy(_POINTS.format(where=where), params) as copy:
        for chunk in copy:
            pending += chunk
            if len(pending) >= chunk_bytes:
                cut = pending.rfind(b"\n") + 1
                parse(bytes(pending[:cut]))
                del pending[:cut]
    if pending:
        parse(bytes(pending))
    lon, lat, nb = (
        np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
        for parts in numbers.values()
    )
    return WeightedPoints(lon, lat, nb, bureaux.values(), communes_of.values())


def _parse_points(text: bytes) -> pd.DataFrame:
    """One chunk of the points' COPY text (whole lines): floats, and codes as text (a
    `category` dtype would read 01086 as the number 1086)."""
    import numpy as np
    import pandas as pd

    return pd.read_csv(
        io.BytesIO(text),
        sep="\t",
        header=None,
        names=["lon", "lat", "nb", "bureau_id", "commune"],
        dtype={
            "lon": np.float64,
            "lat": np.float64,
            "nb": np.float64,
            "bureau_id": str,
            "commune": str,
        },
        na_filter=False,
    )


class _SharedStrings:
    """A column of few distinct strings, collected chunk by chunk as integer codes; `values()`
    gives the object array whose elements all point to one string per distinct value."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self._codes: list[np.ndarray] = []

    def add(self, column: pd.Series) -> None:
        import numpy as np
        import pandas as pd

        codes, uniques = pd.factorize(column.to_numpy(dtype=object))
        mapping = np.fromiter(
            (self._index.setdefault(str(u), len(self._index)) for u in uniques),
            dtype=np.int32,
            count=len(uniques),
        )
        self._codes.append(mapping[codes])

    def values(self) -> np.ndarray:
        import numpy as np

        strings = np.empty(len(self._index), dtype=object)
        strings[:] = list(self._index)
        codes = np.concatenate(self._codes) if self._codes else np.zeros(0, dtype=np.int32)
        return strings[codes]


def _copy_weights(
    conn: psycopg.Connection,
    batch_id: int,
    allocation: Allocation,
    commune_of: dict[Any, Any],
    geo_years: dict[str, int | None],
) -> int:
    import math

    weights = allocation.weights
    columns = zip(
        weights["source_id"].tolist(),
        weights["target_id"].tolist(),
        weights["weight"].tolist(),
        weights["method"].tolist(),
        weights["quality"].tolist(),
        weights["n_addresses"].tolist(),
        weights["coverage"].tolist(),
        strict=True,
    )
    rows = 0
    with conn.cursor() as cur, cur.copy(_WEIGHTS_COPY) as copy:
        for iris, bureau, weight, method, quality, n_addresses, coverage in columns:
            copy.write_row(
                (
                    batch_id,
                    geo_years.get(iris),
                    iris,
                    commune_of[iris],
                    bureau,
                    weight,
                    method,
                    quality,
                    None if n_addresses is None or math.isnan(n_addresses) else round(n_addresses),
                    None if coverage is None or math.isnan(coverage) else coverage,
                )
            )
            rows += 1
    return rows
