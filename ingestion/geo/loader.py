"""Load a contour file into `raw.geo_iris`, `raw.geo_bureaux` or `raw.geo_communes`.

The contract of the other loaders, keyed by kind and commune:
- Idempotent: the same bytes (sha256) already `loaded` as the same kind are skipped and a
  `skipped` ledger row records the attempt (`force=True` reloads them, e.g. after a wrong --crs).
- Replacing by commune: a new file replaces the rows of the communes it covers (Brest's layer
  does not wipe another city's); an earlier batch left with no row is marked `superseded`.
- All or nothing: the file is read and checked first (a refused file never opens a load
  transaction); ledger row, details, COPY and deletion of the replaced rows share one
  transaction; a failure is recorded in the ledger in its own transaction and re-raised.
- Repairs are not failures: each invalid polygon repaired with `make_valid` is logged with its
  id, counted in `raw.geo_load_details.repaired` and flagged on its row (`repaired`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ingestion.errors import SourceFormatError
from ingestion.geo.layouts import KINDS, Kind
from scrutin.db import connect
from scrutin.warehouse import ledger
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    import psycopg

    from ingestion.geo.contours import ContourSet

log = logging.getLogger("scrutin.ingestion.geo")

SOURCE = "geo"
TABLES: dict[Kind, str] = {
    "iris": "raw.geo_iris",
    "bureau": "raw.geo_bureaux",
    "commune": "raw.geo_communes",
}
_COMMON = (
    "batch_id, feature_no, geo_year, id, code_commune, code_commune_results, name, geometry, "
    "centroid_lon, centroid_lat, area_m2, area_epsg, repaired"
)
_COPY: dict[Kind, str] = {
    "iris": f"copy raw.geo_iris ({_COMMON}, typ_iris) from stdin",
    "bureau": f"copy raw.geo_bureaux ({_COMMON}, code_bv) from stdin",
    "commune": f"copy raw.geo_communes ({_COMMON}) from stdin",
}


@dataclass(frozen=True, slots=True)
class GeoLoadReport:
    """What one call did; `loaded_batch_id` is the batch whose rows now hold this file."""

    batch_id: int
    status: Literal["loaded", "skipped"]
    kind: Kind
    features: int
    repaired: tuple[str, ...]
    communes: tuple[str, ...]
    rows_replaced: int
    crs: str
    crs_source: str
    duration_s: float
    sha256: str
    loaded_batch_id: int
    superseded: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class _Options:
    id_field: str | None
    commune_field: str | None
    crs: str | None
    layer: str | None
    geo_year: int | None
    force: bool


@dataclass(frozen=True, slots=True)
class _Job:
    """One load attempt: what the ledger rows and the report need."""

    path: Path
    kind: Kind
    sha256: str
    started: float
    options: _Options

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def load_geo_file(
    url_or_conn: str | psycopg.Connection | None,
    path: str | Path,
    kind: Kind,
    *,
    id_field: str | None = None,
    commune_field: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
    geo_year: int | None = None,
    force: bool = False,
) -> GeoLoadReport:
    """Load one contour file as `kind` (see the module docstring).

    `url_or_conn`: a DSN, None for the configured warehouse, or an open psycopg connection with
    no transaction in progress (the load and its failure record are separate transactions).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    path = Path(path)
    if geo_year is not None and not 1990 <= geo_year <= 2100:
        raise ValueError(f"geo_year must be a year such as 2024, got {geo_year}")
    options = _Options(id_field, commune_field, crs, layer, geo_year, force)
    if url_or_conn is None or isinstance(url_or_conn, str):
        url = url_or_conn
        with connect(url) as conn:
            return _load(conn, path, kind, options, lambda: connect(url))
    return _load(url_or_conn, path, kind, options, None)


def _load(
    conn: psycopg.Connection,
    path: Path,
    kind: Kind,
    options: _Options,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> GeoLoadReport:
    from psycopg.pq import TransactionStatus

    from ingestion.geo.contours import read_contours

    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError(
            "load_geo_file commits its own transactions: pass a connection with no "
            "transaction open (autocommit, or after commit/rollback)"
        )
    started = time.perf_counter()
    require_migrated(conn)
    sha = ledger.file_sha256(path) if path.exists() else "0" * 64
    job = _Job(path, kind, sha, started, options)
    try:
        contours = read_contours(
            path,
            kind,
            id_field=options.id_field,
            commune_field=options.commune_field,
            crs=options.crs,
            layer=options.layer,
        )
        with conn.transaction():
            conn.execute(
                "select pg_advisory_xact_lock(hashtext('scrutin.geo'), hashtext(%s))", (kind,)
            )
            existing = None if options.force else ledger.find_loaded_batch(conn, SOURCE, sha, kind)
            if existing is not None:
                report = _skip(conn, job, existing, contours)
            else:
                report = _replace(conn, job, contours)
    except Exception as exc:
        _record_failure(conn, job, exc, reconnect)
        raise
    _log_summary(path, report)
    return report


def _skip(
    conn: psycopg.Connection, job: _Job, existing: int, contours: ContourSet
) -> GeoLoadReport:
    duration = job.elapsed()
    batch_id = ledger.record_skipped(
        conn, SOURCE, job.path, job.sha256, job.kind, duration_s=duration
    )
    return GeoLoadReport(
        batch_id=batch_id,
        status="skipped",
        kind=job.kind,
        features=0,
        repaired=(),
        communes=(),
        rows_replaced=0,
        crs=contours.crs.label,
        crs_source=contours.crs.source,
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=existing,
    )


def _replace(conn: psycopg.Connection, job: _Job, contours: ContourSet) -> GeoLoadReport:
    from ingestion.loaders.reu import supersede_emptied_batches

    kind = job.kind
    batch_id = ledger.start_batch(conn, SOURCE, job.path, job.sha256, kind)
    geo_year = job.options.geo_year
    _copy_features(conn, kind, batch_id, contours, geo_year)
    table = TABLES[kind]
    communes = sorted(set(contours.features["code_commune"]))
    replaced = conn.execute(
        f"delete from {table} where code_commune = any(%s) and batch_id <> %s",
        (communes, batch_id),
    ).rowcount
    superseded = supersede_emptied_batches(conn, SOURCE, kind, table, keep=batch_id)
    conn.execute(
        "insert into raw.geo_load_details (batch_id, kind, layer, crs, crs_source, id_field, "
        "commune_field, features, repaired, repaired_ids, communes, geo_year) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            batch_id,
            kind,
            job.options.layer,
            contours.crs.label,
            contours.crs.source,
            contours.fields.id_field,
            contours.fields.commune_field,
            contours.n_features,
            len(contours.repaired_ids),
            list(contours.repaired_ids),
            len(communes),
            geo_year,
        ),
    )
    duration = job.elapsed()
    ledger.finish_batch(
        conn,
        batch_id,
        status="loaded",
        rows_read=contours.n_features,
        rows_loaded=contours.n_features,
        duration_s=duration,
    )
    return GeoLoadReport(
        batch_id=batch_id,
        status="loaded",
        kind=kind,
        features=contours.n_features,
        repaired=contours.repaired_ids,
        communes=tuple(communes),
        rows_replaced=replaced,
        crs=contours.crs.label,
        crs_source=contours.crs.source,
        duration_s=duration,
        sha256=job.sha256,
        loaded_batch_id=batch_id,
        superseded=tuple(superseded),
    )


def _copy_features(
    conn: psycopg.Connection,
    kind: Kind,
    batch_id: int,
    contours: ContourSet,
    geo_year: int | None,
) -> None:
    import shapely

    f = contours.features
    wkb = shapely.to_wkb(f["geometry"].to_numpy(), output_dimension=2)
    extra = {"iris": "typ_iris", "bureau": "code_bv"}.get(kind)
    columns = [
        f["feature_no"].tolist(),
        f["id"].tolist(),
        f["code_commune"].tolist(),
        f["code_commune_results"].tolist(),
        f["name"].tolist(),
        f["centroid_lon"].tolist(),
        f["centroid_lat"].tolist(),
        f["area_m2"].tolist(),
        f["area_epsg"].tolist(),
        f["repaired"].tolist(),
        f[extra].tolist() if extra else [None] * len(f),
    ]
    with conn.cursor() as cur, cur.copy(_COPY[kind]) as copy:
        for i, (no, ident, com, com_res, name, lon, lat, area, epsg, repaired, more) in enumerate(
            zip(*columns, strict=True)
        ):
            row: tuple[object, ...] = (
                batch_id,
                no,
                geo_year,
                ident,
                com,
                com_res,
                name,
                wkb[i],
                lon,
                lat,
                area,
                epsg,
                repaired,
            )
            copy.write_row((*row, more) if extra else row)


def _record_failure(
    conn: psycopg.Connection,
    job: _Job,
    exc: Exception,
    reconnect: Callable[[], psycopg.Connection] | None,
) -> None:
    """Write the failed batch; never mask the original error if the ledger is unreachable."""
    error = str(exc) if isinstance(exc, SourceFormatError) else f"{type(exc).__name__}: {exc}"
    duration = job.elapsed()
    path = job.path
    log.error(
        "load of %s (%s contours) failed after %.2fs: %s", path.name, job.kind, duration, error
    )

    ledger.record_failure(
        conn,
        reconnect,
        source=SOURCE,
        path=path,
        sha256=job.sha256,
        dataset_keys=[job.kind],
        error=error,
        duration_s=duration,
    )


def _log_summary(path: Path, report: GeoLoadReport) -> None:
    if report.status == "skipped":
        log.info(
            "%s as %s contours skipped: identical file already loaded as batch %d",
            path.name,
            report.kind,
            report.loaded_batch_id,
        )
        return
    log.info(
        "%s as %s contours loaded: batch %d, %d features in %d communes (CRS %s, %s), "
        "%d repaired, %d earlier rows replaced, %.2fs%s",
        path.name,
        report.kind,
        report.batch_id,
        report.features,
        len(report.communes),
        report.crs,
        report.crs_source,
        len(report.repaired),
        report.rows_replaced,
        report.duration_s,
        f", superseded batches {list(report.superseded)}" if report.superseded else "",
    )
