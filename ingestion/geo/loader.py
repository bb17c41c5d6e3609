"""Load a contour file into `raw.geo_iris`, `raw.geo_bureaux` or `raw.geo_communes`.

The load template's contract (`scrutin.warehouse.batch`), keyed by kind and commune:
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

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.errors import ledger_error
from ingestion.geo.layouts import KINDS, Kind
from scrutin.warehouse import ledger
from scrutin.warehouse.batch import (
    ZERO_SHA256,
    BatchLoad,
    BatchReport,
    Landed,
    ReplaceCommunes,
    load_batch,
)

if TYPE_CHECKING:
    import psycopg

    from ingestion.geo.contours import ContourSet
    from scrutin.warehouse.batch import Batch, Run

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


@dataclass(frozen=True, slots=True, kw_only=True)
class GeoLoadReport(BatchReport):
    """What one call did; `loaded_batch_id` is the batch whose rows now hold this file."""

    kind: Kind
    crs: str
    crs_source: str
    features: int = 0
    repaired: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()


@dataclass(slots=True)
class _Job:
    """The contour part of one load: the file read and checked before any transaction."""

    path: Path
    kind: Kind
    id_field: str | None
    commune_field: str | None
    crs: str | None
    layer: str | None
    geo_year: int | None
    contours: ContourSet | None = None
    communes: tuple[str, ...] = ()

    def prepare(self, run: Run) -> None:
        from ingestion.geo.contours import read_contours

        self.contours = read_contours(
            self.path,
            self.kind,
            id_field=self.id_field,
            commune_field=self.commune_field,
            crs=self.crs,
            layer=self.layer,
        )

    def land(self, conn: psycopg.Connection, batch: Batch) -> Landed:
        contours = self.contours
        assert contours is not None
        batch_id = batch.begin(conn)
        _copy_features(conn, self.kind, batch_id, contours, self.geo_year)
        self.communes = tuple(sorted(set(contours.features["code_commune"])))
        conn.execute(
            "insert into raw.geo_load_details (batch_id, kind, layer, crs, crs_source, id_field, "
            "commune_field, features, repaired, repaired_ids, communes, geo_year) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                batch_id,
                self.kind,
                self.layer,
                contours.crs.label,
                contours.crs.source,
                contours.fields.id_field,
                contours.fields.commune_field,
                contours.n_features,
                len(contours.repaired_ids),
                list(contours.repaired_ids),
                len(self.communes),
                self.geo_year,
            ),
        )
        detail = (
            f"{contours.n_features} features in {len(self.communes)} communes (CRS "
            f"{contours.crs.label}, {contours.crs.source}), {len(contours.repaired_ids)} repaired"
        )
        n = contours.n_features
        return Landed(n, n, communes=self.communes, detail=detail)


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
    job = _Job(path, kind, id_field, commune_field, crs, layer, geo_year)
    load = BatchLoad(
        source=SOURCE,
        logger=log,
        path=path,
        dataset_key=kind,
        label=f"{path.name} as {kind} contours",
        scope=ReplaceCommunes((TABLES[kind],)),
        # A missing or unreadable file is refused by the reader, inside the recorded failure.
        sha256=ledger.file_sha256(path) if path.exists() else ZERO_SHA256,
        force=force,
        error_text=ledger_error,
        unit="features",
    )
    outcome = load_batch(url_or_conn, load, job.land, caller="load_geo_file", prepare=job.prepare)
    contours = job.contours
    assert contours is not None
    report = GeoLoadReport(
        **outcome.outcome(), kind=kind, crs=contours.crs.label, crs_source=contours.crs.source
    )
    if outcome.status != "loaded":
        return report
    return dataclasses.replace(
        report,
        features=contours.n_features,
        repaired=contours.repaired_ids,
        communes=job.communes,
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
