{#-
    Canvass progress per polling station and day: a dense calendar, from the bureau's first
    knock to the latest knock day of the whole campaign (not the bureau's own last knock), so
    that every canvassed bureau has a row on the same last day and a cumulative line stays flat
    across the days nobody came. Counts of doors and conversations only: no opinion figure
    (no support, no topic), the same counts canvass_bureau_daily publishes on every row.
-#}

with

bureau_day as (

    select * from {{ ref('int_canvass__bureau_day') }}

),

polling_stations as (

    select * from {{ ref('polling_stations') }}

),

campaign_days as (

    -- one row (none without any knock, and then the mart is empty)
    select max(knocked_on) as latest_knocked_on
    from bureau_day
    having count(*) > 0

),

knock_days as (

    -- The bureau's knock days with their running totals, and until when each one's totals hold:
    -- the day before its next knock day, or the campaign's latest knock day.
    select
        bureau_id,
        knocked_on,
        doors_knocked,
        conversations,
        min(code_commune) over in_bureau as code_commune,
        min(code_bv) over in_bureau as code_bv,
        sum(doors_knocked) over to_date as doors_knocked_to_date,
        sum(conversations) over to_date as conversations_to_date,
        -- buildings knocked at for the first time that day: their running sum counts each
        -- building once
        sum(buildings_first_visited) over to_date as buildings_visited_to_date,
        lead(knocked_on) over by_day as next_knocked_on
    from bureau_day
    window
        in_bureau as (partition by bureau_id),
        by_day as (partition by bureau_id order by knocked_on),
        to_date as (by_day rows between unbounded preceding and current row)

),

cumulated as (

    -- The dense calendar: each knock day carries its totals forward over the days nobody came
    -- (0 knocks, the same running totals), so the calendar is generated already in order and
    -- no calendar-sized join or sort is needed (3 million bureau-days nationally).
    select
        knock_days.bureau_id,
        knock_days.code_commune,
        knock_days.code_bv,
        cast(calendar_days.day as date) as day,
        case
            when calendar_days.day = knock_days.knocked_on then knock_days.doors_knocked else 0
        end as doors_knocked,
        case
            when calendar_days.day = knock_days.knocked_on then knock_days.conversations else 0
        end as conversations,
        knock_days.doors_knocked_to_date,
        knock_days.conversations_to_date,
        knock_days.buildings_visited_to_date
    from knock_days
    cross join campaign_days
    -- timestamps without time zone: a series of timestamptz would depend on the session's
    -- time zone (days of 23 or 25 hours)
    cross join lateral generate_series(
        cast(knock_days.knocked_on as timestamp),
        cast(
            coalesce(knock_days.next_knocked_on - 1, campaign_days.latest_knocked_on)
            as timestamp
        ),
        interval '1 day'
    ) as calendar_days (day)

),

final as (

    select
        -- keys
        -- the campaign (macros/campaign.sql): published rows are isolated by it
        {{ build_campaign_id() }} as campaign_id,
        cumulated.bureau_id,
        cumulated.code_commune,
        cumulated.code_bv,
        cumulated.day,

        -- that day
        cast(cumulated.doors_knocked as integer) as doors_knocked,
        cast(cumulated.conversations as integer) as conversations,

        -- since the bureau's first knock, up to and including that day
        cast(cumulated.doors_knocked_to_date as integer) as doors_knocked_to_date,
        cast(cumulated.conversations_to_date as integer) as conversations_to_date,
        cast(cumulated.buildings_visited_to_date as integer) as buildings_visited_to_date,

        -- coverage of the bureau's doors (roll extract)
        polling_stations.doors as bureau_doors,
        case
            when polling_stations.doors > 0
                then least(
                    cast(cumulated.buildings_visited_to_date as double precision)
                    / polling_stations.doors,
                    1
                )
        end as coverage

    from cumulated
    left join polling_stations
        on cumulated.bureau_id = polling_stations.bureau_id

)

{{ select_in_campaign_territory('final') }}
