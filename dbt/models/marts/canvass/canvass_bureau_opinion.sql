{#- k-minimum suppression threshold (GDPR art. 9): project var, default 11. -#}
{%- set k_min = var('k_min') | int -%}
{%- if k_min < 1 -%}
    {{ exceptions.raise_compiler_error(
        "var k_min must be a positive integer, got " ~ var('k_min')
    ) }}
{%- endif -%}

with

bureau_opinion as (

    select * from {{ ref('int_canvass__bureau_opinion') }}

),

suppression as (

    select
        *,
        conversations < {{ k_min }} as suppressed
    from bureau_opinion

),

final as (

    select
        -- keys and facts (never suppressed: they say how much evidence stands behind the row)
        bureau_id,
        code_commune,
        code_bv,
        first_knocked_on,
        last_knocked_on,
        doors_knocked,
        doors_opened,
        conversations,
        suppressed,
        case
            when suppressed
                then 'fewer than {{ k_min }} conversations (k_min): opinion figures hidden'
        end as suppression_reason,

        -- opinion figures: null when suppressed; shares of the bureau's conversations
        case
            when not suppressed
                then cast(support_positive as double precision) / conversations
        end as support_positive_share,
        case
            when not suppressed
                then cast(support_neutral as double precision) / conversations
        end as support_neutral_share,
        case
            when not suppressed
                then cast(support_negative as double precision) / conversations
        end as support_negative_share,
        case
            when not suppressed
                then cast(support_unknown as double precision) / conversations
        end as support_unknown_share,
        case
            when not suppressed
                then cast(intends_to_vote_certain as double precision) / conversations
        end as intends_to_vote_certain_share,
        case
            when not suppressed
                then cast(intends_to_vote_likely as double precision) / conversations
        end as intends_to_vote_likely_share,
        case
            when not suppressed
                then cast(intends_to_vote_unlikely as double precision) / conversations
        end as intends_to_vote_unlikely_share,
        case
            when not suppressed
                then cast(intends_to_vote_no as double precision) / conversations
        end as intends_to_vote_no_share,
        case
            when not suppressed
                then cast(intends_to_vote_unknown as double precision) / conversations
        end as intends_to_vote_unknown_share,
        case
            when not suppressed
                then cast(registered_here as double precision) / conversations
        end as registered_here_share,
        case
            when not suppressed
                then wants_to_volunteer
        end as wants_to_volunteer_count

    from suppression

)

select * from final
where {{ in_campaign_territory('final.bureau_id') }}
