-- canvass_progress accounts for every counted knock, bureau by bureau: its daily knocks and
-- conversations add up to those of int_canvass__knocks, its running totals on the last row
-- equal them, as does the number of distinct buildings visited; and its calendar is dense,
-- one row per day from the bureau's first knock to the latest knock day of all bureaux.
-- Returns one row per bureau where anything disagrees (a bureau missing on either side too).

with

knocks as (

    select
        bureau_id,
        count(*) as doors_knocked,
        count(*) filter (where is_conversation) as conversations,
        count(distinct building_key) as buildings_visited,
        min(knocked_on) as first_knocked_on
    from {{ ref('int_canvass__knocks') }}
    -- the mart keeps the building campaign's knocks in its territory's bureaux only (the latest
    -- day stays every bureau's)
    where
        {{ in_build_campaign('campaign_id') }}
        and not {{ outside_campaign_territory('bureau_id') }}
    group by bureau_id

),

latest as (

    select max(knocked_on) as latest_knocked_on
    from {{ ref('int_canvass__knocks') }}
    where {{ in_build_campaign('campaign_id') }}

),

progress as (

    -- the running totals as of the latest knock day, which must be every bureau's last day
    -- (checked below): filtered aggregates, not a sort of the calendar's 3 million rows
    select
        progress.bureau_id,
        sum(progress.doors_knocked) as doors_knocked,
        sum(progress.conversations) as conversations,
        count(*) as days,
        min(progress.day) as first_day,
        max(progress.day) as last_day,
        max(progress.doors_knocked_to_date) filter (
            where progress.day = latest.latest_knocked_on
        ) as doors_knocked_to_date,
        max(progress.conversations_to_date) filter (
            where progress.day = latest.latest_knocked_on
        ) as conversations_to_date,
        max(progress.buildings_visited_to_date) filter (
            where progress.day = latest.latest_knocked_on
        ) as buildings_visited_to_date
    from {{ ref('canvass_progress') }} as progress
    cross join latest
    group by progress.bureau_id

),

compared as (

    select
        coalesce(knocks.bureau_id, progress.bureau_id) as bureau_id,
        knocks.doors_knocked as knocks_doors_knocked,
        progress.doors_knocked as progress_doors_knocked,
        progress.doors_knocked_to_date,
        knocks.conversations as knocks_conversations,
        progress.conversations as progress_conversations,
        progress.conversations_to_date,
        knocks.buildings_visited as knocks_buildings_visited,
        progress.buildings_visited_to_date,
        knocks.first_knocked_on,
        progress.first_day,
        latest.latest_knocked_on,
        progress.last_day,
        progress.days
    from knocks
    full outer join progress
        on knocks.bureau_id = progress.bureau_id
    cross join latest

)

select *
from compared
where
    knocks_doors_knocked is distinct from progress_doors_knocked
    or knocks_doors_knocked is distinct from doors_knocked_to_date
    or knocks_conversations is distinct from progress_conversations
    or knocks_conversations is distinct from conversations_to_date
    or knocks_buildings_visited is distinct from buildings_visited_to_date
    or first_knocked_on is distinct from first_day
    or latest_knocked_on is distinct from last_day
    or days is distinct from (last_day - first_day + 1)
