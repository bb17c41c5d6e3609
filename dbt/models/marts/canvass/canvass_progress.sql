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

bureaux as (

    select
        bureau_id,
        min(code_commune) as code_commune,
        min(code_bv) as code_bv,
        min(knocked_on) as first_knocked_on
    from bureau_day
    group by bureau_id

),

campaign_days as (

    -- one row (none without any knock, and then the mart is empty)
    select max(knocked_on) as latest_knocked_on
    from bureau_day
    having count(*) > 0

),

calendar as (

    select
        bureaux.bureau_id,
        bureaux.code_commune,
        bureaux.code_bv,
        cast(calendar_days.day as date) as day
    from bureaux
    cross join campaign_days
    -- timestamps without time zone: a series of timestamptz would depend on the session's
    -- time zone (days of 23 or 25 hours)
    cross join lateral generate_series(
        cast(bureaux.first_knocked_on as timestamp),
        cast(campaign_days.latest_knocked_on as timestamp),
        interval '1 day'
    ) as calendar_days (day)

),

daily as (

    select
        calendar.bureau_id,
        calendar.code_commune,
        calendar.code_bv,
        calendar.day,
        coalesce(bureau_day.doors_knocked, 0) as doors_knocked,
        coalesce(bureau_day.conversations, 0) as conversations,
        -- buildings knocked at for the first time that day: their running sum counts each
        -- building once, and stays flat on days without knocks
        coalesce(bureau_day.buildings_first_visited, 0) as buildings_first_visited
    from calendar
    left join bureau_day
        on
            calendar.bureau_id = bureau_day.bureau_id
            and calendar.day = bureau_day.knocked_on

),

cumulated as (

    select
        daily.*,
        sum(daily.doors_knocked) over to_date as doors_knocked_to_date,
        sum(daily.conversations) over to_date as conversations_to_date,
        sum(daily.buildings_first_visited) over to_date as buildings_visited_to_date
    from daily
    window to_date as (
        partition by daily.bureau_id
        order by daily.day
        rows between unbounded preceding and current row
    )

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
