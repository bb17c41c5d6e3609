{#- k-minimum suppression threshold (GDPR art. 9): project var, default 11. -#}
{%- set k_min = canvass_k_min() -%}
{#- Each question, the answers count of its published step, and its share columns (numerator
    count column of int_canvass__bureau_opinion -> published share column). -#}
{%- set questions = {
    'support': ['positive', 'neutral', 'negative'],
    'intends_to_vote': ['certain', 'likely', 'unlikely', 'no'],
} -%}

with

bureau_opinion as (

    select * from {{ ref('int_canvass__bureau_opinion') }}

),

suppression as (

    -- Per question: hidden unless k_min people answered it (int_canvass__bureau_opinion
    -- counts the published step only, so its answers are 0 or a multiple of k_min).
    select
        *,
        support_answers < {{ k_min }} as support_suppressed,
        intends_to_vote_answers < {{ k_min }} as intends_to_vote_suppressed,
        registered_here_answers < {{ k_min }} as registered_here_suppressed,
        wants_to_volunteer_answers < {{ k_min }} as wants_to_volunteer_suppressed
    from bureau_opinion

),

final as (

    select
        -- keys and facts (never suppressed: they say how much work was done)
        -- the campaign (macros/campaign.sql): published rows are isolated by it
        {{ build_campaign_id() }} as campaign_id,
        bureau_id,
        code_commune,
        code_bv,
        first_knocked_on,
        last_knocked_on,
        doors_knocked,
        doors_opened,
        conversations,
        support_suppressed
        and intends_to_vote_suppressed
        and registered_here_suppressed
        and wants_to_volunteer_suppressed as suppressed,
        case
            when
                support_suppressed
                or intends_to_vote_suppressed
                or registered_here_suppressed
                or wants_to_volunteer_suppressed
                then 'fewer than {{ k_min }} answers (k_min) to: ' || concat_ws(
                    ', ',
                    case when support_suppressed then 'support' end,
                    case when intends_to_vote_suppressed then 'intends_to_vote' end,
                    case when registered_here_suppressed then 'registered_here' end,
                    case when wants_to_volunteer_suppressed then 'wants_to_volunteer' end
                ) || ': their figures hidden'
        end as suppression_reason,

        -- opinion figures, per question: shares of the answers of its published step, null
        -- when suppressed
        {%- for question, answers in questions.items() %}
        {{ question }}_answers,
        {{ question }}_suppressed,
        {%- for answer in answers %}
        case
            when not {{ question }}_suppressed
                then cast({{ question }}_{{ answer }} as double precision)
                / {{ question }}_answers
        end as {{ question }}_{{ answer }}_share,
        {%- endfor %}
        {%- endfor %}
        registered_here_answers,
        registered_here_suppressed,
        case
            when not registered_here_suppressed
                then cast(registered_here as double precision) / registered_here_answers
        end as registered_here_share,
        wants_to_volunteer_answers,
        wants_to_volunteer_suppressed,
        case
            when not wants_to_volunteer_suppressed
                then wants_to_volunteer
        end as wants_to_volunteer_count

    from suppression

)

{{ select_in_campaign_territory('final') }}
