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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ingestion.geo.allocation import (
    DEFAULT_MIN_ADDRESSES,
    DEFAULT_MIN_COVERAGE,
    DEFAULT_MIN_OVERLAP_M2,
    AllocationReport,
)
from scrutin.db import connect
from scrutin.warehouse import ledger
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    import pandas as pd
    import psycopg

    from ingestion.geo.allocation import Allocation, Polygons, WeightedPoints

log = logging.getLogger("scrutin.ingestion.geo.weights")

SOURCE = "geo_weights"
DATASET = "iris_bureau"
INPUT_NAME = "raw.geo_iris+raw.geo_bureaux+raw.reu_addresses"
ENGINE_VERSION = "1"
WEIGHTS_TABLE = "raw.iris_bureau_weights"

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


@dataclass(frozen=True)
class WeightsRunReport:
    batch_id: int
    status: Literal["loaded", "skipped", "empty"]
    rows: int
    iris: int
    fingerprint: str
    duration_s: float
    loaded_batch_id: int | None
    allocation: AllocationReport | None = None

    def lines(self) -> list[str]:
        head = (
            f"weights {self.status} (batch {self.batch_id}): {self.rows} (IRIS, bureau) pairs "
            f"for {self.iris} IRIS, {self.duration_s:.2f} s"
        )
        return [head, *(self.allocation.lines() if self.allocation else [])]


def compute_weights(
    url_or_conn: str | psycopg.Connection | None = None,
    parameters: Parameters | None = None,
    *,
    force: bool = False,
) -> WeightsRunReport:
    """Recompute and replace the weights (see the module docstring); `force` ignores the
    fingerprint. A DSN, None (configured warehouse) or an idle connection."""
    parameters = parameters or Parameters()
    if url_or_conn is None or isinstance(url_or_conn, str):
        url = url_or_conn
        with connect(url) as conn:
            return _run(conn, parameters, force, lambda: connect(url))
    return _run(url_or_conn, parameters, force, None)


def _run(
    conn: psycopg.Connection,
    parameters: Parameters,
    force: bool,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> WeightsRunReport:
    from psycopg.pq import TransactionStatus

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError("compute_weights commits its own transactions: pass an idle connection")
    started = time.perf_counter()
    require_migrated(conn)
    fingerprint = "0" * 64
    try:
        with conn.transaction():
            conn.execute("set transaction isolation level repeatable read")
            conn.execute("select pg_advisory_xact_lock(hashtext('scrutin.geo_weights'))")
            inputs = _input_batches(conn)
            fingerprint = _fingerprint(inputs, parameters)
            existing = (
                None if force else ledger.find_loaded_batch(conn, SOURCE, fingerprint, DATASET)
            )
            if existing is not None:
                report = _skip(conn, fingerprint, existing, started)
            else:
                report = _replace(conn, inputs, fingerprint, parameters, started)
    except Exception as exc:
        _record_failure(conn, fingerprint, exc, started, reconnect)
        raise
    for line in report.lines():
        log.info("%s", line)
    return report


def _input_batches(conn: psycopg.Connection) -> dict[str, list[int]]:
    rows = conn.execute(_INPUT_BATCHES).fetchall()
    return {f"{source}/{key}" if key else source: list(batches) for source, key, batches in rows}


def _fingerprint(inputs: dict[str, list[int]], parameters: Parameters) -> str:
    payload = {
        "engine": ENGINE_VERSION,
        "inputs": inputs,
        "parameters": dataclasses.asdict(parameters),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _skip(
    conn: psycopg.Connection, fingerprint: str, existing: int, started: float
) -> WeightsRunReport:
    duration = time.perf_counter() - started
    batch_id = ledger.record_skipped(
        conn, SOURCE, INPUT_NAME, fingerprint, DATASET, duration_s=duration
    )
    return WeightsRunReport(batch_id, "skipped", 0, 0, fingerprint, duration, existing)


def _replace(
    conn: psycopg.Connection,
    inputs: dict[str, list[int]],
    fingerprint: str,
    parameters: Parameters,
    started: float,
) -> WeightsRunReport:
    from ingestion.geo.allocation import allocate_lonlat

    sources, geo_years = read_sources(conn)
    if len(sources) == 0:
        log.warning("no IRIS contour loaded: no weights to compute (load them first)")
        duration = time.perf_counter() - started
        return WeightsRunReport(0, "empty", 0, 0, fingerprint, duration, None)
    targets = read_targets(conn)
    points = read_points(conn)
    allocation = allocate_lonlat(
        sources,
        targets,
        points,
        min_addresses=parameters.min_addresses,
        min_coverage=parameters.min_coverage,
        min_overlap_m2=parameters.min_overlap_m2,
    )
    batch_id = ledger.start_batch(conn, SOURCE, INPUT_NAME, fingerprint, DATASET)
    superseded = ledger.supersede_batches(conn, SOURCE, DATASET, keep=batch_id)
    conn.execute(f"delete from {WEIGHTS_TABLE}")
    commune_of = dict(zip(sources.ids, sources.communes, strict=True))  # type: ignore[arg-type]
    rows = _copy_weights(conn, batch_id, allocation, commune_of, geo_years)
    conn.execute(
        "insert into raw.geo_weight_runs (batch_id, fingerprint, parameters, inputs, report) "
        "values (%s, %s, %s, %s, %s)",
        (
            batch_id,
            fingerprint,
            json.dumps(dataclasses.asdict(parameters)),
            json.dumps(inputs),
            json.dumps(dataclasses.asdict(allocation.report)),
        ),
    )
    duration = time.perf_counter() - started
    ledger.finish_batch(
        conn,
        batch_id,
        status="loaded",
        rows_read=len(sources),
        rows_loaded=rows,
        duration_s=duration,
    )
    if superseded:
        log.info("weights batches %s superseded", superseded)
    return WeightsRunReport(
        batch_id,
        "loaded",
        rows,
        len(sources),
        fingerprint,
        duration,
        batch_id,
        allocation.report,
    )


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


def read_points(conn: psycopg.Connection) -> WeightedPoints:
    """Every loaded REU address point, streamed out with COPY (millions of rows)."""
    import numpy as np
    import pandas as pd

    from ingestion.geo.allocation import WeightedPoints

    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(_POINTS) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    frame: pd.DataFrame = pd.read_csv(
        buffer,
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
    return WeightedPoints(
        frame["lon"].to_numpy(),
        frame["lat"].to_numpy(),
        frame["nb"].to_numpy(),
        frame["bureau_id"].to_numpy(dtype=object),
        frame["commune"].to_numpy(dtype=object),
    )


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


def _record_failure(
    conn: psycopg.Connection,
    fingerprint: str,
    exc: Exception,
    started: float,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> None:
    error = f"{type(exc).__name__}: {exc}"
    duration = time.perf_counter() - started
    log.error("weights computation failed after %.2fs: %s", duration, error)

    def record(target: psycopg.Connection) -> None:
        ledger.fail_batch(
            target,
            source=SOURCE,
            path=INPUT_NAME,
            sha256=fingerprint,
            dataset_key=DATASET,
            error=error,
            duration_s=duration,
        )

    try:
        if not conn.closed and not conn.broken:
            record(conn)
        elif reconnect is not None:
            with reconnect() as fresh:
                record(fresh)
    except Exception:
        log.exception("could not record the failed weights computation in raw.batch_ledger")
