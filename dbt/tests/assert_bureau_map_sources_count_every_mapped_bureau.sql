-- The map dashboard's summary counts every published bureau once: the bureaux of
-- bureau_map_sources add up to the rows of bureau_map. Returns a row when they differ.

with

summarised as (

    select coalesce(sum(bureaux), 0) as bureaux from {{ ref('bureau_map_sources') }}

),

published as (

    select count(*) as bureaux from {{ ref('bureau_map') }}

),

final as (

    select
        summarised.bureaux as summarised,
        published.bureaux as published
    from summarised
    cross join published
    where summarised.bureaux != published.bureaux

)

select * from final
