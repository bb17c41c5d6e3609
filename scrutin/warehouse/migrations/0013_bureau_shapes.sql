-- Migration 0013: one map shape per polling station (issue 13, docs/analysts.md), computed in
-- Python (ingestion/geo/shapes.py: PostGIS is not part of the stack) from the loaded contours and
-- REU address points, and published by dbt as mart.bureau_map. Replaced as a whole, in one
-- transaction, whenever its input batches change (batch ledger source 'geo_shapes').

create table if not exists raw.geo_bureau_shapes (
    batch_id              bigint  not null,
    bureau_key            text    not null,   -- contour: Ministry bureau id; reu: REU-derived key
    key_kind              text    not null check (key_kind in ('contour', 'reu')),
    code_commune_results  text    not null,
    geometry_source       text    not null check (geometry_source in ('contour', 'reu_addresses')),
    geometry_geojson      text    not null,   -- WGS84 Polygon or MultiPolygon, GeoJSON text
    centroid_lat          double precision not null,
    centroid_lon          double precision not null,
    n_addresses           integer,            -- REU addresses behind an address shape
    loaded_at             timestamptz not null default now(),
    primary key (key_kind, bureau_key)
);
create index if not exists geo_bureau_shapes_batch on raw.geo_bureau_shapes (batch_id);

comment on table raw.geo_bureau_shapes is
    'Map shape of each polling station: its contour, or the Voronoi cells of its REU addresses '
    '(ingestion/geo/shapes.py); read by mart.bureau_map';
