{#- A table with a GiST index on the point: int_canvass__bureau_matches asks it, door by door,
    for the addresses inside a small box, and the index answers each in a few page reads. -#}
{{ config(
    materialized='table',
    indexes=[{'columns': ['location'], 'type': 'gist'}],
) }}

-- The REU address points (public open data) that can give a knock its bureau, as geometric
-- points (longitude, latitude) for the nearest-address search of int_canvass__bureau_matches.

with

reu_addresses as (

    select * from {{ ref('stg_reu__addresses') }}

),

final as (

    select
        bureau_id,
        longitude,
        latitude,
        point(longitude, latitude) as location
    from reu_addresses
    where
        bureau_id is not null
        and longitude is not null
        and latitude is not null

)

select * from final
