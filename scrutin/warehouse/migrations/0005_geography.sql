-- Migration 0005: Geography: IRIS, polling-station and commune contours, and the IRIS -> bureau
-- weights. Loaders: ingestion/geo/loader.py (contours), ingestion/geo/weights.py (weights).
-- Documentation: docs/geography.md.
--
-- Geometries: WKB (bytea) in WGS84 (EPSG:4326), 2D, valid (repaired with make_valid when the
-- file had an invalid polygon: `repaired`). WKB is lossless and compact and any GIS reads it
-- (shapely.from_wkb, PostGIS ST_GeomFromWKB if it is ever installed). Areas are in m² computed
-- in the metric CRS of the feature's region (`area_epsg`: 2154 Lambert-93 in metropolitan
-- France, the IGN's UTM projections overseas); the centroid is that planar centroid in lon/lat.
-- A new file replaces the rows of the communes it covers, per kind; raw tables carry no FK to
-- the ledger (see 0002_elections.sql for why).

create table if not exists raw.geo_iris (
    batch_id              bigint  not null,
    feature_no            integer not null,           -- 1-based position in the file
    geo_year              integer,                    -- IRIS geography vintage, when known
    id                    text    not null,           -- CODE_IRIS (9 characters)
    code_commune          text    not null,           -- INSEE_COM (arrondissement for PLM)
    code_commune_results  text    not null,           -- commune code of the results files
    name                  text,                       -- NOM_IRIS
    typ_iris              text,                       -- H habitat, A activité, D divers, Z non irisée
    geometry              bytea   not null,           -- WKB, WGS84
    centroid_lon          double precision not null,
    centroid_lat          double precision not null,
    area_m2               double precision not null,
    area_epsg             integer not null,
    repaired              boolean not null,
    loaded_at             timestamptz not null default now()
);
create index if not exists geo_iris_batch on raw.geo_iris (batch_id);
create index if not exists geo_iris_commune on raw.geo_iris (code_commune);

create table if not exists raw.geo_bureaux (
    batch_id              bigint  not null,
    feature_no            integer not null,
    geo_year              integer,
    id                    text    not null,           -- bureau_id <commune results>_<code BV>
    code_commune          text    not null,           -- as published
    code_commune_results  text    not null,
    code_bv               text    not null,           -- zero-padded to 4 digits when numeric
    name                  text,
    geometry              bytea   not null,
    centroid_lon          double precision not null,
    centroid_lat          double precision not null,
    area_m2               double precision not null,
    area_epsg             integer not null,
    repaired              boolean not null,
    loaded_at             timestamptz not null default now()
);
create index if not exists geo_bureaux_batch on raw.geo_bureaux (batch_id);
create index if not exists geo_bureaux_commune on raw.geo_bureaux (code_commune);

create table if not exists raw.geo_communes (
    batch_id              bigint  not null,
    feature_no            integer not null,
    geo_year              integer,
    id                    text    not null,           -- INSEE commune code
    code_commune          text    not null,
    code_commune_results  text    not null,
    name                  text,
    geometry              bytea   not null,
    centroid_lon          double precision not null,
    centroid_lat          double precision not null,
    area_m2               double precision not null,
    area_epsg             integer not null,
    repaired              boolean not null,
    loaded_at             timestamptz not null default now()
);
create index if not exists geo_communes_batch on raw.geo_communes (batch_id);
create index if not exists geo_communes_commune on raw.geo_communes (code_commune);

-- One row per loaded contour batch: what the ledger row cannot say (CRS, fields, repairs).
create table if not exists raw.geo_load_details (
    batch_id        bigint  primary key,
    kind            text    not null check (kind in ('iris', 'bureau', 'commune')),
    layer           text,
    crs             text    not null,           -- e.g. EPSG:2154
    crs_source      text    not null,           -- declared | option | rfc7946 | assumed_lonlat
    id_field        text    not null,
    commune_field   text,
    features        integer not null,
    repaired        integer not null,           -- invalid geometries repaired with make_valid
    repaired_ids    text[]  not null default '{}',
    communes        integer not null,
    geo_year        integer
);

-- The current IRIS -> bureau allocation weights: one set, replaced whole in one transaction.
-- Weights of an IRIS sum to 1 (checked by the suite raw_iris_bureau_weights).
create table if not exists raw.iris_bureau_weights (
    batch_id        bigint  not null,
    geo_year        integer,                    -- geo_year of the IRIS contour
    code_iris       text    not null,
    code_commune    text    not null,           -- results commune code of the IRIS
    bureau_id       text    not null,
    weight          double precision not null,  -- in (0, 1]
    method          text    not null,           -- addresses | areal | commune | nearest
    quality         text    not null,           -- good | few_addresses | partial_coverage | no_overlap | no_bureau_geometry
    n_addresses     integer,                    -- addresses (Σ nb_adresses) behind the weight
    coverage        double precision,           -- areal: share of the IRIS covered by bureaux
    loaded_at       timestamptz not null default now()
);
create index if not exists iris_bureau_weights_iris on raw.iris_bureau_weights (code_iris);
create index if not exists iris_bureau_weights_bureau on raw.iris_bureau_weights (bureau_id);

-- One row per weights computation: its inputs' fingerprint, parameters and report.
create table if not exists raw.geo_weight_runs (
    batch_id        bigint  primary key,
    fingerprint     text    not null,
    parameters      jsonb   not null,
    inputs          jsonb   not null,           -- loaded batch ids per input table
    report          jsonb   not null,
    computed_at     timestamptz not null default now()
);
