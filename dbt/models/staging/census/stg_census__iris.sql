with

source as (

    select * from {{ source('census', 'census_iris') }}

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
        -- keys
        cast(source.vintage as integer) as vintage,
        cast(source.theme as text) as theme,
        cast(source.code_iris as text) as code_iris,

        -- geography
        cast(source.code_commune as text) as code_commune,
        cast(source.geo_year as integer) as geo_year,
        cast(source.dep as text) as code_departement,
        cast(source.reg as text) as code_region,
        cast(source.grd_quart as text) as code_grand_quartier,
        cast(source.triris as text) as code_triris,
        cast(source.unite_urbaine as text) as code_urban_unit,

        -- attributes
        cast(source.libiris as text) as iris_name,
        cast(source.libcom as text) as commune_name,
        cast(source.typ_iris as text) as iris_type,
        cast(source.lab_iris as text) as iris_label,
        cast(source.modif_iris as text) as iris_modification,

        -- lineage
        cast(source.batch_id as bigint) as batch_id,
        cast(source.source_line as integer) as source_line,
        cast(source.loaded_at as timestamptz) as loaded_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
