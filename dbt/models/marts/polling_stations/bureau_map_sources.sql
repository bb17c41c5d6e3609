{#-
    Where the published map shapes come from: how many bureaux of bureau_map have an official
    contour, an estimate from REU address cells, or no shape. A few rows, so that the map
    dashboard does not group every bureau of the nation at each refresh (docs/analysts.md "BI
    speed"). Counted from bureau_map itself, so the two tables always agree.
-#}

with

shapes as (

    select * from {{ ref('bureau_map') }}

),

final as (

    select
        -- key
        geometry_source,

        -- how many published bureaux have their shape from there
        cast(count(*) as integer) as bureaux
    from shapes
    group by geometry_source

)

select * from final
