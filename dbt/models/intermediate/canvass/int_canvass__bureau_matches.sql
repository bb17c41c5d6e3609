{#- A table: the nearest-address search is the heaviest canvass rule, and int_canvass__knocks
    (build-scoped: macros/build_scoped.sql) joins it. It holds no personal data, only which
    bureau each landed row (batch_id, line_no) belongs to and how that was decided.

    Incremental in the gate's incremental builds only (dbt var `canvass_delta`, set by
    pipeline/gate.py; every other build recomputes it whole): a landed row's match depends on
    the row and on the reference data (REU addresses, results), and an incremental build is
    one where the reference data, the code and the vars did not move and landed rows were only
    added or deleted (pipeline/build_plan.py; an UPDATE forces a full refresh). So only the
    rows landed since are matched, and the rows no longer landed (a purge, a superseded batch)
    are deleted. -#}
{{ config(
    materialized='incremental',
    unique_key=['batch_id', 'line_no'],
    incremental_strategy='delete+insert',
    full_refresh=not var('canvass_delta', false),
    post_hook=["{{ delete_unlanded_rows() }}"],
) }}

{%- set radius_m = var('canvass_reu_radius_m') -%}
{#- Half-side of the search box around a door, in degrees of latitude: 111 km per degree is a
    little less than the true 111.2 km, so the box always holds the circle. Computed in double
    precision, as the canvass loader did. -#}
{%- set box_degrees = '(cast(' ~ radius_m ~ ' as double precision) / 111000.0)' -%}

-- Which polling station each landed knock belongs to: the bureau the app recorded; else the
-- bureau of the nearest REU address within the radius, when the app gave coordinates; else the
-- bureau of an REU address with the same address key (the smallest bureau id if several).
-- `is_reference_bureau` says whether that bureau is one of the loaded election results or REU
-- addresses: int_canvass__knock_versions counts only knocks with such a bureau.

with

knocks as (

    select
        landed.batch_id,
        landed.line_no,
        landed.app_bureau_id,
        landed.longitude,
        landed.latitude,
        landed.address_key
    from {{ ref('stg_canvass__knocks') }} as landed
    {% if is_incremental() -%}
        -- the rows landed since the last build only: those of the batches it has not seen
        -- (macros/canvass.sql, canvass_batches_seen)
        where not exists (
            select 1
            from ({{ canvass_batches_seen(this) }}) as seen
            where seen.batch_id = landed.batch_id
        )
    {%- endif %}

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

reu_points as (

    select * from {{ ref('int_canvass__reu_points') }}

),

reference_bureaux as (

    select * from {{ ref('int_canvass__reference_bureaux') }}

),

located_doors as (

    -- Each located door once: knocks at one building usually share its coordinates, and a knock
    -- exported again repeats them.
    select distinct
        longitude,
        latitude
    from knocks
    where
        app_bureau_id is null
        and longitude is not null
        and latitude is not null

),

doors as (

    -- each door's search box, as the canvass loader drew it
    select
        longitude,
        latitude,
        latitude - {{ box_degrees }} as latitude_min,
        latitude + {{ box_degrees }} as latitude_max,
        longitude - {{ box_degrees }} / cos(radians(latitude)) as longitude_min,
        longitude + {{ box_degrees }} / cos(radians(latitude)) as longitude_max
    from located_doors

),

candidates as (

    -- the REU addresses inside each door's search box (the GiST index of int_canvass__reu_points
    -- answers the box; the bounds are checked again as numbers), with their distance
    select
        doors.longitude,
        doors.latitude,
        reu_points.bureau_id,
        {{ haversine_m(
            'doors.longitude',
            'doors.latitude',
            'reu_points.longitude',
            'reu_points.latitude'
        ) }} as distance_m
    from doors
    inner join reu_points
        on
            reu_points.location <@ box(
                point(doors.longitude_min, doors.latitude_min),
                point(doors.longitude_max, doors.latitude_max)
            )
            and reu_points.latitude between doors.latitude_min and doors.latitude_max
            and reu_points.longitude between doors.longitude_min and doors.longitude_max

),

nearest as (

    -- equally near addresses of two bureaux: the smaller bureau id, so a rebuild agrees
    select distinct on (longitude, latitude)
        longitude,
        latitude,
        bureau_id,
        distance_m
    from candidates
    order by
        longitude,
        latitude,
        distance_m,
        bureau_id

),

knock_address_keys as (

    select distinct address_key
    from knocks
    where
        app_bureau_id is null
        and address_key is not null

),

by_address_key as (

    -- only the keys a knock without an app bureau carries: grouping every REU address by its
    -- key (13 M nationally) cost more than the whole rest of the model
    select
        reu_addresses.address_key,
        min(reu_addresses.bureau_id) as bureau_id
    from reu_addresses
    inner join knock_address_keys
        on reu_addresses.address_key = knock_address_keys.address_key
    group by reu_addresses.address_key

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
            knocks.app_bureau_id is null
            and knocks.longitude = nearest.longitude
            and knocks.latitude = nearest.latitude
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
