with

source as (

    select * from {{ source('roll', 'roll_bureau_doors') }}

),

batches as (

    select * from {{ source('ingestion', 'batch_ledger') }}

),

loaded_batches as (

    select batch_id
    from batches
    where status = 'loaded'

),

renamed as (

    select
        -- ids
        cast(source.bureau_id as text) as bureau_id,
        cast(source.code_commune as text) as code_commune,
        cast(source.code_commune_results as text) as code_commune_results,
        cast(source.code_bv as text) as code_bv,

        -- count
        cast(source.doors as integer) as doors,

        -- lineage
        cast(source.reference_date as date) as reference_date,
        cast(source.batch_id as bigint) as batch_id,
        cast(source.loaded_at as timestamptz) as loaded_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
