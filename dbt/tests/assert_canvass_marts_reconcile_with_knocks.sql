-- Both canvass marts account for every loaded knock, bureau by bureau: the daily facts and the
-- campaign-long opinion rows must each add up to the knocks and conversations of staging.
-- A join or a day boundary that drops or duplicates knocks shows up here. Returns one row per
-- bureau where any of the three disagree.

with

knocks as (

    select
        bureau_id,
        count(*) as doors_knocked,
        count(*) filter (where is_conversation) as conversations
    from {{ ref('stg_canvass__knocks') }}
    group by bureau_id

),

daily as (

    select
        bureau_id,
        sum(doors_knocked) as doors_knocked,
        sum(conversations) as conversations
    from {{ ref('canvass_bureau_daily') }}
    group by bureau_id

),

opinion as (

    select
        bureau_id,
        doors_knocked,
        conversations
    from {{ ref('canvass_bureau_opinion') }}

),

compared as (

    select
        coalesce(knocks.bureau_id, daily.bureau_id, opinion.bureau_id) as bureau_id,
        knocks.doors_knocked as knocks_doors_knocked,
        daily.doors_knocked as daily_doors_knocked,
        opinion.doors_knocked as opinion_doors_knocked,
        knocks.conversations as knocks_conversations,
        daily.conversations as daily_conversations,
        opinion.conversations as opinion_conversations
    from knocks
    full outer join daily
        on knocks.bureau_id = daily.bureau_id
    full outer join opinion
        on coalesce(knocks.bureau_id, daily.bureau_id) = opinion.bureau_id

)

select *
from compared
where
    knocks_doors_knocked is distinct from daily_doors_knocked
    or knocks_doors_knocked is distinct from opinion_doors_knocked
    or knocks_conversations is distinct from daily_conversations
    or knocks_conversations is distinct from opinion_conversations
