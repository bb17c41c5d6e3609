{#- Build-scoped like int_canvass__knocks (macros/build_scoped.sql): one row per answer, a table
    while the build reads it, a view of this same SQL between builds, so no copy outlives the
    retention purge of raw.canvass_knocks. -#}
{{ config(materialized='table', tags=['build_scoped']) }}

-- Every answer given in a conversation, one row per (knock, question), with its place in the
-- published steps of disclosure control (docs/privacy.md, "Disclosure control"):
--
--   * An answer is a non-null reply of a consenting person: a refused consent, a missing reply
--     and an intention recorded as `unknown` are not answers, and do not count toward k_min.
--   * The answers of a cell (a bureau over the campaign; a bureau and a French day for the
--     daily topics) are numbered in the order the warehouse learned of their knock: the first
--     landed row of the knock (its batch, then its line), which a later version, a later file
--     or a rebuild never changes. New knocks always come after the numbers already given.
--   * Only the first k_min_step(answers of the cell) answers are in the published step: the
--     opinion figures are computed on them. A new answer changes no published figure until
--     the cell has k_min more answers, and then the figures move by a whole step of k_min.

with

knocks as (

    -- the building campaign's knocks only (dbt var campaign_id, macros/campaign.sql): each
    -- campaign's answers are numbered and stepped on their own
    select * from {{ ref('int_canvass__knocks') }}
    where {{ in_build_campaign('campaign_id') }}

),

landed as (

    select
        source,
        knock_id,
        batch_id,
        line_no
    from {{ ref('stg_canvass__knocks') }}
    where {{ in_build_campaign('campaign_id') }}

),

first_landed as (

    -- the knock's first landed row, whatever version counts now
    select distinct on (source, knock_id)
        source,
        knock_id,
        batch_id as first_batch_id,
        line_no as first_line_no
    from landed
    order by
        source,
        knock_id,
        batch_id,
        line_no

),

answers as (

    select
        knocks.bureau_id,
        knocks.code_commune,
        knocks.code_bv,
        knocks.knocked_on,
        questions.question,
        questions.answer,
        case when questions.question = 'topics' then knocks.topics end as topics,
        first_landed.first_batch_id,
        first_landed.first_line_no,
        knocks.source,
        knocks.knock_id,
        knocks.batch_id,
        knocks.line_no
    from knocks
    inner join first_landed
        on
            knocks.source = first_landed.source
            and knocks.knock_id = first_landed.knock_id
    cross join lateral (
        values
        ('support', knocks.sentiment),
        ('intends_to_vote', nullif(knocks.intends_to_vote, 'unknown')),
        ('registered_here', cast(knocks.registered_here as text)),
        ('wants_to_volunteer', cast(knocks.wants_to_volunteer as text)),
        ('topics', cast(knocks.topics as text))
    ) as questions (question, answer)
    where
        knocks.is_conversation
        and knocks.consent is not false
        and questions.answer is not null

),

numbered as (

    select
        answers.*,
        row_number() over in_bureau as answer_no,
        count(*) over (
            partition by answers.bureau_id, answers.question
        ) as bureau_answers,
        row_number() over on_day as answer_no_on_day,
        count(*) over (
            partition by answers.bureau_id, answers.knocked_on, answers.question
        ) as day_answers
    from answers
    window
        in_bureau as (
            partition by answers.bureau_id, answers.question
            order by
                answers.first_batch_id,
                answers.first_line_no,
                answers.source,
                answers.knock_id
        ),
        on_day as (
            partition by answers.bureau_id, answers.knocked_on, answers.question
            order by
                answers.first_batch_id,
                answers.first_line_no,
                answers.source,
                answers.knock_id
        )

),

final as (

    select
        bureau_id,
        code_commune,
        code_bv,
        knocked_on,
        question,
        answer,
        topics,
        cast(answer_no as integer) as answer_no,
        cast(bureau_answers as integer) as bureau_answers,
        answer_no <= {{ k_min_step('bureau_answers') }} as in_published_step,
        cast(answer_no_on_day as integer) as answer_no_on_day,
        cast(day_answers as integer) as day_answers,
        answer_no_on_day <= {{ k_min_step('day_answers') }} as in_published_day_step,
        -- lineage: the landed row of the knock's counted version (the purge's key,
        -- ingestion/canvass/purge.py)
        batch_id,
        line_no
    from numbered

)

select * from final
