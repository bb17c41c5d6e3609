{#- A table: int_canvass__knocks (build-scoped: macros/build_scoped.sql) joins it. It
    holds no personal data: knocks are named by (batch_id, line_no), with how far apart in
    seconds and metres they were, never where. -#}
{{ config(materialized='table') }}

{%- set seconds = var('canvass_fast_knock_seconds') -%}
{%- set distance_m = var('canvass_fast_knock_distance_m') -%}

-- Knocks nobody could have walked between: two consecutive knocks of one canvasser in one file
-- (ordered by time, then line), less than the var's seconds apart, at doors more than the var's
-- metres apart (great circle) — or, when either door has no coordinates, at two different
-- buildings. Both knocks of a pair are flagged `too_fast_distant` by int_canvass__knocks. Only
-- the rows that compete for their knock's version in their file are paired (a known bureau,
-- the file's newest version), as the loader did when it decided this flag.

with

knocks as (

    select * from {{ ref('stg_canvass__knocks') }}

),

versions as (

    select * from {{ ref('int_canvass__knock_versions') }}

),

competing as (

    -- a row superseded by a later one of the same file is out; a row superseded by another
    -- file is in: the pair was real in its own file
    select
        knocks.batch_id,
        knocks.line_no,
        knocks.canvasser_key,
        knocks.building_key,
        knocks.knocked_at,
        knocks.longitude,
        knocks.latitude
    from knocks
    inner join versions
        on
            knocks.batch_id = versions.batch_id
            and knocks.line_no = versions.line_no
    where versions.version_status in ('current', 'superseded')

),

ordered as (

    select
        competing.*,
        lag(competing.line_no) over by_canvasser as previous_line_no,
        lag(competing.knocked_at) over by_canvasser as previous_knocked_at,
        lag(competing.building_key) over by_canvasser as previous_building_key,
        lag(competing.longitude) over by_canvasser as previous_longitude,
        lag(competing.latitude) over by_canvasser as previous_latitude
    from competing
    window by_canvasser as (
        partition by
            competing.batch_id,
            competing.canvasser_key
        order by
            competing.knocked_at,
            competing.line_no
    )

),

measured as (

    select
        batch_id,
        line_no,
        previous_line_no,
        extract(epoch from knocked_at - previous_knocked_at) as seconds_apart,
        longitude is not null and previous_longitude is not null as both_located,
        {{ haversine_m('longitude', 'latitude', 'previous_longitude', 'previous_latitude') }}
            as metres_apart,
        building_key <> previous_building_key as other_building,
        knocked_at - previous_knocked_at < interval '{{ seconds }} seconds' as too_soon
    from ordered
    where previous_knocked_at is not null

),

final as (

    select
        batch_id,
        line_no,
        previous_line_no,
        cast(seconds_apart as double precision) as seconds_apart,
        metres_apart
    from measured
    where
        too_soon
        and case
            when both_located then metres_apart > {{ distance_m }}
            else other_building
        end

)

select * from final
