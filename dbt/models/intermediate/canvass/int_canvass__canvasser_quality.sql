{#- A table, not the folder's default view: the mart and several data tests read it, and a
    view would re-aggregate every knock for each of them (~10 s each at 1 million knocks). -#}
{{ config(materialized='table') }}

-- Per canvasser (pseudonymous key): volume, contact rates and the loader's integrity flags.
-- For the data engineers who vet a campaign's field data (a canvasser with a contact rate far
-- from the others', or many flagged knocks, deserves a look before the scores trust them).
-- Stays in `intermediate`: volunteers' performance is not for the published mart.

with

knocks as (

    select * from {{ ref('int_canvass__knocks') }}

),

per_canvasser as (

    select
        canvasser_key,
        array_agg(distinct source order by source) as sources,
        min(knocked_at) as first_knocked_at,
        max(knocked_at) as last_knocked_at,
        count(distinct knocked_on) as active_days,
        count(distinct bureau_id) as bureaux,
        count(*) as knocks,
        count(*) filter (where is_door_opened) as doors_opened,
        count(*) filter (where is_conversation) as conversations,
        count(*) filter (where cardinality(integrity_flags) > 0) as flagged_knocks
    from knocks
    group by canvasser_key

),

flags as (

    select
        knocks.canvasser_key,
        flag.name as flag,
        count(*) as flagged
    from knocks
    cross join lateral unnest(knocks.integrity_flags) as flag (name)
    group by
        knocks.canvasser_key,
        flag.name

),

flag_counts as (

    select
        canvasser_key,
        jsonb_object_agg(flag, flagged) as flag_counts
    from flags
    group by canvasser_key

),

final as (

    select
        per_canvasser.canvasser_key,
        per_canvasser.sources,
        per_canvasser.first_knocked_at,
        per_canvasser.last_knocked_at,
        cast(per_canvasser.active_days as integer) as active_days,
        cast(per_canvasser.bureaux as integer) as bureaux,
        cast(per_canvasser.knocks as integer) as knocks,
        cast(per_canvasser.doors_opened as integer) as doors_opened,
        cast(per_canvasser.conversations as integer) as conversations,
        cast(per_canvasser.doors_opened as double precision)
        / per_canvasser.knocks as contact_rate,
        cast(per_canvasser.conversations as double precision)
        / per_canvasser.knocks as conversation_rate,
        cast(per_canvasser.knocks as double precision)
        / per_canvasser.active_days as knocks_per_active_day,
        cast(per_canvasser.flagged_knocks as integer) as flagged_knocks,
        coalesce(flag_counts.flag_counts, cast('{}' as jsonb)) as flag_counts
    from per_canvasser
    left join flag_counts
        on per_canvasser.canvasser_key = flag_counts.canvasser_key

)

select * from final
