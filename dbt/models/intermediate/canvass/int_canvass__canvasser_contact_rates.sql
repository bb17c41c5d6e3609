{#- A table, like int_canvass__canvasser_quality: int_canvass__knocks (build-scoped:
    macros/build_scoped.sql) joins it. Per pseudonymous canvasser key: counts only. -#}
{{ config(materialized='table') }}

{%- set high_rate = var('canvass_high_contact_rate') -%}
{%- set min_knocks = var('canvass_high_contact_min_knocks') -%}

-- The contact-rate check: a canvasser whose knocks are almost all conversations, over enough
-- knocks to tell, is more likely filling in forms than knocking on doors. Counted per campaign
-- over the knocks' counted versions (knocks dated up to an hour after their load included, as
-- they are real knocks of the canvasser); int_canvass__knocks flags every knock of a canvasser
-- above the threshold `high_contact_rate_canvasser`. Recounted at every build: a flag is set or
-- cleared as soon as the counts say so.

with

knocks as (

    select * from {{ ref('stg_canvass__knocks') }}

),

versions as (

    select * from {{ ref('int_canvass__knock_versions') }}

),

counted as (

    select
        knocks.campaign_id,
        knocks.canvasser_key,
        knocks.is_conversation
    from knocks
    inner join versions
        on
            knocks.batch_id = versions.batch_id
            and knocks.line_no = versions.line_no
    where versions.is_current

),

per_canvasser as (

    select
        campaign_id,
        canvasser_key,
        count(*) as knocks,
        count(*) filter (where is_conversation) as conversations
    from counted
    group by
        campaign_id,
        canvasser_key

),

final as (

    select
        campaign_id,
        canvasser_key,
        cast(knocks as integer) as knocks,
        cast(conversations as integer) as conversations,
        knocks >= {{ min_knocks }}
        and conversations > {{ high_rate }} * knocks as is_high_contact_rate
    from per_canvasser

)

select * from final
