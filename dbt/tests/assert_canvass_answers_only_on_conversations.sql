-- Answers (topics, intention to vote, registration, sentiment, volunteering, consent) exist
-- only where a conversation took place. An answer on a closed door means a mapper put a field
-- in the wrong place, and it would be counted nowhere (the marts count answers of
-- conversations only) or, worse, attributed to the wrong outcome.

with

knocks as (

    select * from {{ ref('stg_canvass__knocks') }}

),

misplaced_answers as (

    select
        batch_id,
        line_no,
        source,
        knock_id,
        outcome
    from knocks
    where
        not is_conversation
        and (
            topics is not null
            or intends_to_vote is not null
            or registered_here is not null
            or sentiment is not null
            or wants_to_volunteer is not null
            or consent is not null
        )

)

select * from misplaced_answers
