with

source as (

    select * from {{ source('geography', 'geo_bureau_shapes') }}

),

batches as (

    select * from {{ source('ingestion', 'batch_ledger') }}

),

loaded_batches as (

    -- A recomputed set supersedes the previous one; failed or running runs never count.
    select batch_id
    from batches
    where status = 'loaded'

),

renamed as (

    select
        -- keys
        cast(source.bureau_key as text) as bureau_key,
        cast(source.key_kind as text) as key_kind,
        cast(source.code_commune_results as text) as code_commune,

        -- shape
        cast(source.geometry_source as text) as geometry_source,
        cast(source.geometry_geojson as text) as geometry_geojson,
        cast(source.centroid_lat as double precision) as latitude,
        cast(source.centroid_lon as double precision) as longitude,
        cast(source.n_addresses as integer) as shape_addresses,

        -- lineage
        cast(source.batch_id as bigint) as batch_id,
        cast(source.loaded_at as timestamptz) as loaded_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
