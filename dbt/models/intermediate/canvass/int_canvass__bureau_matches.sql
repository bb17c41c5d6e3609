{#- A table: the nearest-address search is the heaviest canvass rule, and int_canvass__knocks (a
    view, read by every canvass model and test) joins it. It holds no personal data, only which
    bureau each landed row (batch_id, line_no) belongs to and how that was decided. -#}
{{ config(materialized='table') }}

{%- set radius_m = var('canvass_reu_radius_m') -%}
{#- Half-side of the search box around a door, in degrees of latitude: 111 km per degree is a
    little less than the true 111.2 km, so the box always holds the circle. Computed in double
    precision, as the canvass loader did. -#}
{%- set box_degrees = '(cast(' ~ radius_m ~ ' as double precision) / 111000.0)' -%}
{#- Grid cells (degrees) that turn the search into an equality join: each REU address falls in
    one cell, each door's box covers the few cells it overlaps, whatever its latitude. An
    implementation detail: any size gives the same matches, this one keeps a cell to a few
    dozen addresses in a dense city. -#}
{%- set cell_degrees = 0.002 -%}

-- Which polling station each landed knock belongs to: the bureau the app recorded; else the
-- bureau of the nearest REU address within the radius, when the app gave coordinates; else the
-- bureau of an REU address with the same address key (the smallest bureau id if several).
-- `is_reference_bureau` says whether that bureau is one of the loaded election results or REU
-- addresses: int_canvass__knock_versions counts only knocks with such a bureau.

with

knocks as (

    select
        batch_id,
        line_no,
        app_bureau_id,
        longitude,
        latitude,
        address_key
    from {{ ref('stg_canvass__knocks') }}

),

reu_addresses as (

    select
        bureau_id,
        longitude,
        latitude,
        address_key
    from {{ ref('stg_reu__addresses') }}
    where bureau_id is not null

),

results_bureaux as (

    select distinct bureau_id
    from {{ ref('stg_elections__bureau_results') }}

),

reference_bureaux as (

    select bureau_id from results_bureaux
    union
    select bureau_id from reu_addresses

),

search_boxes as (

    select
        batch_id,
        line_no,
        longitude,
        latitude,
        latitude - {{ box_degrees }} as latitude_min,
        latitude + {{ box_degrees }} as latitude_max,
        longitude - {{ box_degrees }} / cos(radians(latitude)) as longitude_min,
        longitude + {{ box_degrees }} / cos(radians(latitude)) as longitude_max
    from knocks
    where
        app_bureau_id is null
        and longitude is not null
        and latitude is not null

),

box_cells as (

    select
        search_boxes.*,
        cell_y,
        cell_x
    from search_boxes
    cross join lateral generate_series(
        cast(floor(search_boxes.latitude_min / {{ cell_degrees }}) as integer),
        cast(floor(search_boxes.latitude_max / {{ cell_degrees }}) as integer)
    ) as cells_y (cell_y)
    cross join lateral generate_series(
        cast(floor(search_boxes.longitude_min / {{ cell_degrees }}) as integer),
        cast(floor(search_boxes.longitude_max / {{ cell_degrees }}) as integer)
    ) as cells_x (cell_x)

),

reu_cells as (

    select
        bureau_id,
        longitude,
        latitude,
        cast(floor(latitude / {{ cell_degrees }}) as integer) as cell_y,
        cast(floor(longitude / {{ cell_degrees }}) as integer) as cell_x
    from reu_addresses

),

candidates as (

    select
        box_cells.batch_id,
        box_cells.line_no,
        reu_cells.bureau_id,
        {{ haversine_m(
            'box_cells.longitude',
            'box_cells.latitude',
            'reu_cells.longitude',
            'reu_cells.latitude'
        ) }} as distance_m
    from box_cells
    inner join reu_cells
        on
            box_cells.cell_y = reu_cells.cell_y
            and box_cells.cell_x = reu_cells.cell_x
    where
        reu_cells.latitude between box_cells.latitude_min and box_cells.latitude_max
        and reu_cells.longitude between box_cells.longitude_min and box_cells.longitude_max

),

nearest as (

    -- equally near addresses of two bureaux: the smaller bureau id, so a rebuild agrees
    select distinct on (batch_id, line_no)
        batch_id,
        line_no,
        bureau_id,
        distance_m
    from candidates
    order by
        batch_id,
        line_no,
        distance_m,
        bureau_id

),

by_address_key as (

    select
        address_key,
        min(bureau_id) as bureau_id
    from reu_addresses
    where address_key is not null
    group by address_key

),

matched as (

    select
        knocks.batch_id,
        knocks.line_no,
        case
            when knocks.app_bureau_id is not null then 'app'
            when nearest.distance_m <= {{ radius_m }} then 'reu_nearest'
            when by_address_key.bureau_id is not null then 'reu_address'
        end as match_method,
        case
            when knocks.app_bureau_id is not null then knocks.app_bureau_id
            when nearest.distance_m <= {{ radius_m }} then nearest.bureau_id
            else by_address_key.bureau_id
        end as bureau_id,
        case
            when knocks.app_bureau_id is null and nearest.distance_m <= {{ radius_m }}
                then nearest.distance_m
        end as match_distance_m
    from knocks
    left join nearest
        on
            knocks.batch_id = nearest.batch_id
            and knocks.line_no = nearest.line_no
    left join by_address_key
        on
            knocks.app_bureau_id is null
            and knocks.address_key = by_address_key.address_key

),

final as (

    select
        matched.batch_id,
        matched.line_no,
        matched.bureau_id,
        matched.match_method,
        matched.match_distance_m,
        reference_bureaux.bureau_id is not null as is_reference_bureau
    from matched
    left join reference_bureaux
        on matched.bureau_id = reference_bureaux.bureau_id

)

select * from final
