{#- A table, not the folder's default view: the mart and several data tests read it, and a
    view would re-aggregate every knock for each of them (~10 s each at 1 million knocks). -#}
{{ config(materialized='table') }}

-- Per polling station, over the whole campaign: how many doors, how many conversations, and
-- the answers given in those conversations, as raw counts. Not published: the mart
-- canvass_bureau_opinion turns them into shares and applies k-minimum suppression.

with

knocks as (

    select * from {{ ref('int_canvass__knocks') }}

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
        count(*) filter (where is_conversation) as conversations,

        -- support: the canvasser's reading; a conversation without one counts as unknown
        count(*) filter (
            where is_conversation and sentiment = 'positive'
        ) as support_positive,
        count(*) filter (
            where is_conversation and sentiment = 'neutral'
        ) as support_neutral,
        count(*) filter (
            where is_conversation and sentiment = 'negative'
        ) as support_negative,
        count(*) filter (
            where is_conversation and sentiment is null
        ) as support_unknown,

        -- intention to vote: `unknown` and a missing answer are the same thing here
        count(*) filter (
            where is_conversation and intends_to_vote = 'certain'
        ) as intends_to_vote_certain,
        count(*) filter (
            where is_conversation and intends_to_vote = 'likely'
        ) as intends_to_vote_likely,
        count(*) filter (
            where is_conversation and intends_to_vote = 'unlikely'
        ) as intends_to_vote_unlikely,
        count(*) filter (
            where is_conversation and intends_to_vote = 'no'
        ) as intends_to_vote_no,
        count(*) filter (
            where is_conversation and coalesce(intends_to_vote, 'unknown') = 'unknown'
        ) as intends_to_vote_unknown,

        count(*) filter (
            where is_conversation and registered_here
        ) as registered_here,
        count(*) filter (
            where is_conversation and wants_to_volunteer
        ) as wants_to_volunteer
    from knocks
    group by bureau_id

),

final as (

    select
        bureau_id,
        code_commune,
        code_bv,
        first_knocked_on,
        last_knocked_on,
        cast(doors_knocked as integer) as doors_knocked,
        cast(doors_opened as integer) as doors_opened,
        cast(conversations as integer) as conversations,
        cast(support_positive as integer) as support_positive,
        cast(support_neutral as integer) as support_neutral,
        cast(support_negative as integer) as support_negative,
        cast(support_unknown as integer) as support_unknown,
        cast(intends_to_vote_certain as integer) as intends_to_vote_certain,
        cast(intends_to_vote_likely as integer) as intends_to_vote_likely,
        cast(intends_to_vote_unlikely as integer) as intends_to_vote_unlikely,
        cast(intends_to_vote_no as integer) as intends_to_vote_no,
        cast(intends_to_vote_unknown as integer) as intends_to_vote_unknown,
        cast(registered_here as integer) as registered_here,
        cast(wants_to_volunteer as integer) as wants_to_volunteer
    from summed

)

select * from final
