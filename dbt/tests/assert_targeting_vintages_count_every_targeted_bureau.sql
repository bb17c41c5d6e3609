-- The freshness dashboard's summary counts every published bureau once: per campaign, the
-- bureaux of targeting_vintages add up to the rows of polling_station_targeting. (Both are
-- score marts, built in the same stage.) Returns one row per campaign whose totals differ.

with

vintages as (

    select
        campaign_id,
        sum(bureaux) as summarised
    from {{ ref('targeting_vintages') }}
    group by campaign_id

),

targeting as (

    select
        campaign_id,
        count(*) as published
    from {{ ref('polling_station_targeting') }}
    group by campaign_id

),

final as (

    select
        coalesce(vintages.campaign_id, targeting.campaign_id) as campaign_id,
        coalesce(vintages.summarised, 0) as summarised,
        coalesce(targeting.published, 0) as published
    from vintages
    full outer join targeting
        on vintages.campaign_id = targeting.campaign_id
    where coalesce(vintages.summarised, 0) != coalesce(targeting.published, 0)

)

select * from final
