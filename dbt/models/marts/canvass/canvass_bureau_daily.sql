{#- k-minimum suppression threshold (GDPR art. 9): project var, default 11. -#}
{%- set k_min = canvass_k_min() -%}
{%- set topics = [
    'security',
    'cost_of_living',
    'housing',
    'transport',
    'environment',
    'schools',
    'health',
    'jobs',
    'local_services',
    'other',
] -%}

with

bureau_day as (

    select * from {{ ref('int_canvass__bureau_day') }}

),

bureau_doors as (

    -- Doors (distinct electors' addresses, i.e. building entrances) of each bureau, from the
    -- campaign's roll extract. A bureau the roll does not cover gets no coverage (null).
    select
        bureau_id,
        doors
    from {{ ref('stg_roll__bureau_doors') }}

),

final as (

    select
        -- keys
        -- the campaign (macros/campaign.sql): published rows are isolated by it
        {{ build_campaign_id() }} as campaign_id,
        bureau_day.bureau_id,
        bureau_day.code_commune,
        bureau_day.code_bv,
        bureau_day.knocked_on,

        -- what the canvassers did (facts, never suppressed)
        bureau_day.doors_knocked,
        bureau_day.buildings_visited,
        bureau_day.doors_opened,
        bureau_day.conversations,
        bureau_day.not_reached,
        bureau_day.opened_refused,
        bureau_day.opened_later,
        bureau_day.inaccessible,
        bureau_day.moved,
        bureau_day.do_not_contact,

        -- outcome mix: shares of the day's knocks
        cast(bureau_day.doors_opened as double precision)
            / nullif(bureau_day.doors_knocked, 0) as doors_opened_share,
        cast(bureau_day.conversations as double precision)
            / nullif(bureau_day.doors_knocked, 0) as conversation_share,
        cast(bureau_day.not_reached as double precision)
            / nullif(bureau_day.doors_knocked, 0) as not_reached_share,
        cast(bureau_day.opened_refused as double precision)
            / nullif(bureau_day.doors_knocked, 0) as opened_refused_share,
        cast(bureau_day.opened_later as double precision)
            / nullif(bureau_day.doors_knocked, 0) as opened_later_share,
        cast(bureau_day.inaccessible as double precision)
            / nullif(bureau_day.doors_knocked, 0) as inaccessible_share,
        cast(bureau_day.moved as double precision)
            / nullif(bureau_day.doors_knocked, 0) as moved_share,
        cast(bureau_day.do_not_contact as double precision)
            / nullif(bureau_day.doors_knocked, 0) as do_not_contact_share,

        -- coverage of the bureau so far
        bureau_day.buildings_visited_to_date,
        bureau_doors.doors as bureau_doors,
        cast(bureau_day.buildings_visited_to_date as double precision)
            / nullif(bureau_doors.doors, 0) as coverage,

        -- topics are opinion-like: counted on the day's published step of topic answers (the
        -- day's first answers in landing order, floored to a multiple of k_min), hidden below
        -- k_min answers that day (a refused consent is no answer)
        bureau_day.topic_answers,
        bureau_day.topic_answers < {{ k_min }} as topics_suppressed,
        case
            when bureau_day.topic_answers < {{ k_min }}
                then 'fewer than {{ k_min }} topic answers that day (k_min): topic counts hidden'
        end as topics_suppression_reason,
        {%- for topic in topics %}
        case
            when bureau_day.topic_answers >= {{ k_min }}
                then bureau_day.topic_{{ topic }}
        end as topic_{{ topic }}{{ "," if not loop.last }}
        {%- endfor %}

    from bureau_day
    left join bureau_doors
        on bureau_day.bureau_id = bureau_doors.bureau_id

)

{{ select_in_campaign_territory('final') }}
