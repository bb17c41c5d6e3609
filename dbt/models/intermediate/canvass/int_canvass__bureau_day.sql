{#- A table, not the folder's default view: the mart and several data tests read it, and a
    view would re-aggregate every knock for each of them (~10 s each at 1 million knocks). -#}
{{ config(materialized='table') }}

{#- The topic vocabulary (dbt var `canvass_topics`, the one definition; Python reads it through
    scrutin.vocabulary); one count column per topic (Metabase reads columns, not JSON).
    stg_canvass__knocks tests that no landed knock carries a topic outside it. Topics are
    counted on the day's published step only (int_canvass__answers: the day's first topic
    answers in landing order, floored to a multiple of k_min), so a late knock of a published
    day moves no topic count until k_min more have come (docs/privacy.md). -#}
{%- set topics = var('canvass_topics') -%}

with

knocks as (

    -- the building campaign's knocks only (dbt var campaign_id, macros/campaign.sql)
    select * from {{ ref('int_canvass__knocks') }}
    where {{ in_build_campaign('campaign_id') }}

),

topic_answers as (

    select
        bureau_id,
        knocked_on,
        count(*) as topic_answers,
        {% for topic in topics -%}
            count(*) filter (
                where '{{ topic }}' = any(topics)
            ) as topic_{{ topic }}{{ "," if not loop.last }}
        {% endfor -%}
    from {{ ref('int_canvass__answers') }}
    where
        question = 'topics'
        and in_published_day_step
    group by
        bureau_id,
        knocked_on

),

first_visits as (

    -- The day each building of a bureau was first knocked at: coverage counts a building once,
    -- however often canvassers come back to it.
    select
        bureau_id,
        building_key,
        min(knocked_on) as first_visited_on
    from knocks
    group by
        bureau_id,
        building_key

),

new_buildings as (

    select
        bureau_id,
        first_visited_on as knocked_on,
        count(*) as buildings_first_visited
    from first_visits
    group by
        bureau_id,
        first_visited_on

),

daily as (

    select
        bureau_id,
        knocked_on,
        min(code_commune) as code_commune,
        min(code_bv) as code_bv,
        count(*) as doors_knocked,
        count(distinct building_key) as buildings_visited,
        count(*) filter (where is_door_opened) as doors_opened,
        count(*) filter (where outcome = 'opened_conversation') as conversations,
        count(*) filter (where outcome = 'not_reached') as not_reached,
        count(*) filter (where outcome = 'opened_refused') as opened_refused,
        count(*) filter (where outcome = 'opened_later') as opened_later,
        count(*) filter (where outcome = 'inaccessible') as inaccessible,
        count(*) filter (where outcome = 'moved') as moved,
        count(*) filter (where outcome = 'do_not_contact') as do_not_contact
    from knocks
    group by
        bureau_id,
        knocked_on

),

final as (

    select
        daily.bureau_id,
        daily.code_commune,
        daily.code_bv,
        daily.knocked_on,
        cast(daily.doors_knocked as integer) as doors_knocked,
        cast(daily.buildings_visited as integer) as buildings_visited,
        cast(
            coalesce(new_buildings.buildings_first_visited, 0) as integer
        ) as buildings_first_visited,
        cast(
            sum(coalesce(new_buildings.buildings_first_visited, 0)) over (
                partition by daily.bureau_id
                order by daily.knocked_on
                rows between unbounded preceding and current row
            ) as integer
        ) as buildings_visited_to_date,
        cast(daily.doors_opened as integer) as doors_opened,
        cast(daily.conversations as integer) as conversations,
        cast(daily.not_reached as integer) as not_reached,
        cast(daily.opened_refused as integer) as opened_refused,
        cast(daily.opened_later as integer) as opened_later,
        cast(daily.inaccessible as integer) as inaccessible,
        cast(daily.moved as integer) as moved,
        cast(daily.do_not_contact as integer) as do_not_contact,
        cast(coalesce(topic_answers.topic_answers, 0) as integer) as topic_answers,
        {% for topic in topics -%}
            cast(
                coalesce(topic_answers.topic_{{ topic }}, 0) as integer
            ) as topic_{{ topic }}{{ "," if not loop.last }}
        {% endfor -%}
    from daily
    left join new_buildings
        on
            daily.bureau_id = new_buildings.bureau_id
            and daily.knocked_on = new_buildings.knocked_on
    left join topic_answers
        on
            daily.bureau_id = topic_answers.bureau_id
            and daily.knocked_on = topic_answers.knocked_on

)

select * from final
