{#-
    The canvass per campaign and day, all bureaux together: the totals the progress dashboard
    charts and the campaign's last published canvass day, pre-aggregated so that a BI query
    reads a hundred rows instead of every (bureau, day) row of canvass_progress (millions
    nationally: docs/analysts.md "BI speed"). Summed from canvass_progress itself, so the two
    tables always agree. Counts only, like canvass_progress.
-#}

with

progress as (

    select * from {{ ref('canvass_progress') }}

),

final as (

    select
        -- keys
        campaign_id,
        day,

        -- that day, every bureau together
        cast(sum(doors_knocked) as integer) as doors_knocked,
        cast(sum(conversations) as integer) as conversations,
        cast(count(*) filter (where doors_knocked > 0) as integer) as bureaux_knocked,

        -- bureaux with a row that day: canvassed at least once up to then
        cast(count(*) as integer) as bureaux_canvassed_to_date
    from progress
    group by
        campaign_id,
        day

)

select * from final
