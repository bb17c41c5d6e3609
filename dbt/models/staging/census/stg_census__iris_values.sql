with

source as (

    select * from {{ source('census', 'census_iris_values') }}

),

batches as (

    select * from {{ source('ingestion', 'batch_ledger') }}

),

loaded_batches as (

    -- A newer file of the same theme and vintage supersedes the earlier batch; failed or
    -- running loads never count.
    select batch_id
    from batches
    where status = 'loaded'

),

renamed as (

    select
        -- keys
        cast(source.vintage as integer) as vintage,
        cast(source.theme as text) as theme,
        cast(source.code_iris as text) as code_iris,
        cast(source.prefix as text) as prefix,
        cast(source.indicator as text) as indicator,

        -- geography
        cast(source.code_commune as text) as code_commune,
        cast(source.geo_year as integer) as geo_year,

        -- value
        cast(source.value as double precision) as value,
        cast(source.masked as boolean) as masked,
        cast(source.mask_code as text) as mask_code,

        -- lineage
        cast(source.batch_id as bigint) as batch_id

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
