with

source as (

    select * from {{ source('canvass', 'canvass_suppression') }}

),

renamed as (

    select
        cast(source.building_key as text) as building_key,
        cast(source.first_seen_at as timestamptz) as first_seen_at,
        cast(source.source as text) as source,
        cast(source.loaded_at as timestamptz) as loaded_at
    from source

)

select * from renamed
