{#- A table, not the folder's default view: the mart and several data tests read it, and a
    view would re-aggregate every knock for each of them (~10 s each at 1 million knocks). -#}
{{ config(materialized='table') }}

-- Per polling station, over the whole campaign: how many doors, how many conversations, and
-- the answers of the PUBLISHED STEP of each question (int_canvass__answers): for each question,
-- its first answers in landing order, floored to a multiple of k_min. Not published as such:
-- the mart canvass_bureau_opinion turns the counts into shares and flags the questions below
-- k_min; the targeting scores read the support counts. Nothing downstream can see an answer
-- outside a published step (docs/privacy.md, "Disclosure control").

with

knocks as (

    -- the building campaign's knocks only (dbt var campaign_id, macros/campaign.sql)
    select * from {{ ref('int_canvass__knocks') }}
    where {{ in_build_campaign('campaign_id') }}

),

answers as (

    select * from {{ ref('int_canvass__answers') }}
    where in_published_step

),

summed as (

    select
        bureau_id,
        min(code_commune) as code_commune,
        min(code_bv) as code_bv,
        min(knocked_on) as first_knocked_on,
        max(knocked_on) as last_knocked_on,
        count(*) as doors_knocked,
        count(*) filter (where is_door_opened) as doors_opened,
        count(*) filter (where is_conversation) as conversations
    from knocks
    group by bureau_id

),

stepped as (

    select
        bureau_id,

        -- support: the canvasser's reading
        count(*) filter (where question = 'support') as support_answers,
        count(*) filter (
            where question = 'support' and answer = 'positive'
        ) as support_positive,
        count(*) filter (
            where question = 'support' and answer = 'neutral'
        ) as support_neutral,
        count(*) filter (
            where question = 'support' and answer = 'negative'
        ) as support_negative,

        -- intention to vote (`unknown` is no answer)
        count(*) filter (where question = 'intends_to_vote') as intends_to_vote_answers,
        count(*) filter (
            where question = 'intends_to_vote' and answer = 'certain'
        ) as intends_to_vote_certain,
        count(*) filter (
            where question = 'intends_to_vote' and answer = 'likely'
        ) as intends_to_vote_likely,
        count(*) filter (
            where question = 'intends_to_vote' and answer = 'unlikely'
        ) as intends_to_vote_unlikely,
        count(*) filter (
            where question = 'intends_to_vote' and answer = 'no'
        ) as intends_to_vote_no,

        count(*) filter (where question = 'registered_here') as registered_here_answers,
        count(*) filter (
            where question = 'registered_here' and answer = 'true'
        ) as registered_here,
        count(*) filter (where question = 'wants_to_volunteer') as wants_to_volunteer_answers,
        count(*) filter (
            where question = 'wants_to_volunteer' and answer = 'true'
        ) as wants_to_volunteer
    from answers
    group by bureau_id

),

final as (

    select
        summed.bureau_id,
        summed.code_commune,
        summed.code_bv,
        summed.first_knocked_on,
        summed.last_knocked_on,
        cast(summed.doors_knocked as integer) as doors_knocked,
        cast(summed.doors_opened as integer) as doors_opened,
        cast(summed.conversations as integer) as conversations,
        cast(coalesce(stepped.support_answers, 0) as integer) as support_answers,
        cast(coalesce(stepped.support_positive, 0) as integer) as support_positive,
        cast(coalesce(stepped.support_neutral, 0) as integer) as support_neutral,
        cast(coalesce(stepped.support_negative, 0) as integer) as support_negative,
        cast(coalesce(stepped.intends_to_vote_answers, 0) as integer) as intends_to_vote_answers,
        cast(coalesce(stepped.intends_to_vote_certain, 0) as integer) as intends_to_vote_certain,
        cast(coalesce(stepped.intends_to_vote_likely, 0) as integer) as intends_to_vote_likely,
        cast(coalesce(stepped.intends_to_vote_unlikely, 0) as integer) as intends_to_vote_unlikely,
        cast(coalesce(stepped.intends_to_vote_no, 0) as integer) as intends_to_vote_no,
        cast(coalesce(stepped.registered_here_answers, 0) as integer) as registered_here_answers,
        cast(coalesce(stepped.registered_here, 0) as integer) as registered_here,
        cast(
            coalesce(stepped.wants_to_volunteer_answers, 0) as integer
        ) as wants_to_volunteer_answers,
        cast(coalesce(stepped.wants_to_volunteer, 0) as integer) as wants_to_volunteer
    from summed
    left join stepped
        on summed.bureau_id = stepped.bureau_id

)

select * from final
