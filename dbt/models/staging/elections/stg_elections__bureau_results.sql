with

source as (

    select * from {{ source('elections', 'election_results_bureau') }}

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
        cast(source.code_departement as text) as code_departement,
        cast(source.code_commune as text) as code_commune,
        cast(source.code_bv as text) as code_bv,
        -- législative constituency number as the layout writes it (null where it has none)
        cast(source.code_circonscription as text) as code_circonscription,

        -- labels
        cast(source.libelle_departement as text) as department_name,
        cast(source.libelle_commune as text) as commune_name,

        -- counts
        cast(source.inscrits as integer) as registered,
        cast(source.votants as integer) as voters,
        cast(source.abstentions as integer) as abstentions,
        cast(source.exprimes as integer) as valid_votes,
        cast(source.blancs as integer) as blank_votes,
        cast(source.nuls as integer) as null_votes,

        -- lineage
        cast(source.batch_id as bigint) as batch_id,
        cast(source.source_line as integer) as source_line,
        cast(source.loaded_at as timestamptz) as loaded_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
