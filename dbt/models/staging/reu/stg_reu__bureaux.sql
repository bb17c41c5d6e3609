with

source as (

    select * from {{ source('reu', 'reu_bureaux') }}

),

batches as (

    select * from {{ source('ingestion', 'batch_ledger') }}

),

loaded_batches as (

    -- A reloaded or replaced file supersedes its previous batch; failed or running loads
    -- never count.
    select batch_id
    from batches
    where status = 'loaded'

),

renamed as (

    select
        -- ids
        cast(source.bureau_id as text) as bureau_id,
        cast(source.id_brut_reu as text) as reu_bureau_key,
        cast(source.id_brut_insee as text) as insee_bureau_key,
        nullif(trim(cast(source.id_brut_miom as text)), '') as ministry_bureau_key,
        cast(source.code_commune as text) as code_commune,
        cast(source.code_commune_results as text) as code_commune_results,
        cast(source.code as text) as reu_code,
        cast(source.code_bv as text) as code_bv,

        -- polling place (public information)
        cast(source.libelle_reu as text) as polling_place_name,
        cast(source.num_voie_reu as text) as polling_place_street_number,
        cast(source.voie_reu as text) as polling_place_street,
        cast(source.cp_reu as text) as polling_place_postcode,
        cast(source.commune_reu as text) as polling_place_commune,

        -- counts
        cast(source.nb_adresses_initial as integer) as addresses_initial,
        cast(source.nb_adresses_final as integer) as addresses_final,

        -- lineage
        cast(source.batch_id as bigint) as batch_id,
        cast(source.source_line as integer) as source_line,
        cast(source.loaded_at as timestamptz) as loaded_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
