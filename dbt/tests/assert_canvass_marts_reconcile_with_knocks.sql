-- Both canvass marts account for every counted knock: canvass_bureau_daily holds, for every
-- bureau and French calendar day, and canvass_bureau_opinion, for every bureau, exactly the
-- knocks and conversations of int_canvass__knocks (one version per knock, a known bureau,
-- future-dated knocks left out). A join that drops or duplicates knocks, or a day boundary
-- computed in the wrong time zone, shows up here. Returns one row per (mart, bureau[, day]) that
-- disagrees.

with

knocks as (

    select
        bureau_id,
        knocked_on,
        count(*) as doors_knocked,
        count(*) filter (where is_conversation) as conversations
    from {{ ref('int_canvass__knocks') }}
    -- the marts keep the building campaign's knocks in its territory's bureaux only
    where
        {{ in_build_campaign('campaign_id') }}
        and not {{ outside_campaign_territory('bureau_id') }}
    group by
        bureau_id,
        knocked_on

),

knocks_by_bureau as (

    select
        bureau_id,
        sum(doors_knocked) as doors_knocked,
        sum(conversations) as conversations
    from knocks
    group by bureau_id

),

daily as (

    select
        bureau_id,
        knocked_on,
        doors_knocked,
        conversations
    from {{ ref('canvass_bureau_daily') }}

),

opinion as (

    select
        bureau_id,
        doors_knocked,
        conversations
    from {{ ref('canvass_bureau_opinion') }}

),

daily_compared as (

    select
        'canvass_bureau_daily' as mart,
        coalesce(knocks.bureau_id, daily.bureau_id) as bureau_id,
        coalesce(knocks.knocked_on, daily.knocked_on) as knocked_on,
        knocks.doors_knocked as knocks_doors_knocked,
        daily.doors_knocked as mart_doors_knocked,
        knocks.conversations as knocks_conversations,
        daily.conversations as mart_conversations
    from knocks
    full outer join daily
        on knocks.bureau_id = daily.bureau_id
        and knocks.knocked_on = daily.knocked_on

),

opinion_compared as (

    select
        'canvass_bureau_opinion' as mart,
        coalesce(knocks_by_bureau.bureau_id, opinion.bureau_id) as bureau_id,
        cast(null as date) as knocked_on,
        knocks_by_bureau.doors_knocked as knocks_doors_knocked,
        opinion.doors_knocked as mart_doors_knocked,
        knocks_by_bureau.conversations as knocks_conversations,
        opinion.conversations as mart_conversations
    from knocks_by_bureau
    full outer join opinion
        on knocks_by_bureau.bureau_id = opinion.bureau_id

),

compared as (

    select * from daily_compared
    union all
    select * from opinion_compared

)

select *
from compared
where
    knocks_doors_knocked is distinct from mart_doors_knocked
    or knocks_conversations is distinct from mart_conversations
