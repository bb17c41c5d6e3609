with

source as (

    select * from {{ source('reu', 'reu_addresses') }}

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
        -- ids: exact duplicate rows are distinct REU rows, so the key is the file position
        cast(source.batch_id as bigint) as batch_id,
        cast(source.source_line as integer) as source_line,
        cast(source.bureau_id as text) as bureau_id,
        cast(source.id_brut_bv_reu as text) as reu_bureau_key,
        cast(source.code_commune as text) as code_commune,
        cast(source.code_commune_results as text) as code_commune_results,
        cast(source.code_bv as text) as code_bv,
        cast(source.code_commune_ref as text) as address_code_commune,
        cast(source.reconstitution_code_commune as text) as reconstituted_code_commune,

        -- address point (public open data)
        cast(source.ban_id as text) as ban_id,
        cast(source.address_key as text) as address_key,
        cast(source.geo_adresse as text) as geocoded_address,
        cast(source.geo_type as text) as geo_type,
        cast(source.geo_score as double precision) as geo_score,
        cast(source.longitude as double precision) as longitude,
        cast(source.latitude as double precision) as latitude,
        cast(source.api_line as text) as geocoder_line,

        -- counts
        cast(source.nb_adresses as integer) as addresses,
        cast(source.nb_bv_commune as integer) as commune_bureaux_count,

        -- lineage
        cast(source.loaded_at as timestamptz) as loaded_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
