with

source as (

    select * from {{ source('geography', 'iris_bureau_weights') }}

),

batches as (

    select * from {{ source('ingestion', 'batch_ledger') }}

),

loaded_batches as (

    -- A recomputed set supersedes the previous one; failed or running loads never count.
    select batch_id
    from batches
    where status = 'loaded'

),

renamed as (

    select
        -- keys
        cast(source.code_iris as text) as code_iris,
        cast(source.bureau_id as text) as bureau_id,

        -- geography
        cast(source.code_commune as text) as code_commune,
        cast(source.geo_year as integer) as geo_year,

        -- weight
        cast(source.weight as double precision) as weight,
        cast(source.method as text) as method,
        cast(source.quality as text) as quality,
        cast(source.n_addresses as integer) as n_addresses,
        cast(source.coverage as double precision) as coverage,

        -- lineage
        cast(source.batch_id as bigint) as batch_id,
        cast(source.loaded_at as timestamptz) as loaded_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
