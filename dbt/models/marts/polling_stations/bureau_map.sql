{#-
    One map shape per published polling station (docs/analysts.md "Map sources"): its contour
    when the commune's bureau layer is loaded, else the Voronoi cells of its REU addresses, else
    none (geometry_geojson, latitude and longitude null, geometry_source `none`). Shapes are
    computed in Python (ingestion/geo/shapes.py): PostGIS is not needed, here or in a BI tool.
-#}
{{ config(
    indexes=[
        {'columns': ['bureau_id'], 'unique': true},
        {'columns': ['code_commune']},
    ]
) }}

with

stations as (

    select * from {{ ref('polling_stations') }}

),

shapes as (

    select * from {{ ref('stg_geography__bureau_shapes') }}

),

mapping as (

    select * from {{ ref('int_reu_bureau_mapping') }}

),

contour_shapes as (

    select * from shapes
    where key_kind = 'contour'

),

address_shapes as (

    -- The REU key of an address shape, brought onto the Ministry's bureau id (they differ in
    -- Paris, Lyon and Marseille); an unmapped key stays as it is.
    select
        coalesce(mapping.bureau_id, shapes.bureau_key) as bureau_id,
        shapes.*
    from shapes
    left join mapping
        on shapes.bureau_key = mapping.reu_bureau_id
    where shapes.key_kind = 'reu'

),

final as (

    select
        stations.bureau_id,
        stations.code_commune,
        stations.commune_name,
        stations.code_bv,
        coalesce(
            contour_shapes.geometry_source,
            address_shapes.geometry_source,
            'none'
        ) as geometry_source,
        coalesce(contour_shapes.geometry_geojson, address_shapes.geometry_geojson)
            as geometry_geojson,
        coalesce(contour_shapes.latitude, address_shapes.latitude) as latitude,
        coalesce(contour_shapes.longitude, address_shapes.longitude) as longitude,
        address_shapes.shape_addresses
    from stations
    left join contour_shapes
        on stations.bureau_id = contour_shapes.bureau_key
    left join address_shapes
        on stations.bureau_id = address_shapes.bureau_id

)

select * from final
