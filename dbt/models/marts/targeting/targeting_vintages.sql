{#-
    The data behind the published scores, per campaign: which score parameters, target
    election, census vintage, roll extract and last canvass day the rows of
    polling_station_targeting were computed from, and how many bureaux each combination covers.
    Pre-aggregated so that the freshness dashboard reads a handful of rows instead of grouping
    every bureau of the nation at each refresh (docs/analysts.md "BI speed"). Counted from
    polling_station_targeting itself, so the two tables always agree.
-#}

{{ config(tags=['scores']) }}

with

targeting as (

    select * from {{ ref('polling_station_targeting') }}

),

final as (

    select
        -- keys
        campaign_id,
        params_version,
        target_election_id,
        census_vintage,
        roll_reference_date,
        canvass_data_until,

        -- how many published bureaux carry that combination
        cast(count(*) as integer) as bureaux
    from targeting
    group by
        campaign_id,
        params_version,
        target_election_id,
        census_vintage,
        roll_reference_date,
        canvass_data_until

)

select * from final
