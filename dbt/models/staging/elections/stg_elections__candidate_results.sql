with

source as (

    select * from {{ source('elections', 'election_results_candidate') }}

),

batches as (

    select * from {{ source('ingestion', 'batch_ledger') }}

),

loaded_batches as (

    -- A reloaded file supersedes its previous batch; failed or running loads never count.
    select batch_id
    from batches
    where status = 'loaded'

),

renamed as (

    select
        -- ids
        cast(source.election_id as text) as election_id,
        cast(source.bureau_id as text) as bureau_id,
        cast(source.code_commune as text) as code_commune,
        cast(source.code_bv as text) as code_bv,
        cast(source.numero_panneau as integer) as panel_number,

        -- candidate
        cast(source.nuance as text) as nuance,
        cast(source.nom as text) as last_name,
        cast(source.prenom as text) as first_name,
        cast(source.sexe as text) as sex,

        -- result
        cast(source.voix as integer) as votes,
        cast(source.elu as boolean) as is_elected,

        -- lineage
        cast(source.batch_id as bigint) as batch_id,
        cast(source.source_line as integer) as source_line,
        cast(source.loaded_at as timestamptz) as loaded_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
