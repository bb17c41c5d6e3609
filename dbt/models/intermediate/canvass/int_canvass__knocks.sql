{#- Build-scoped (macros/build_scoped.sql): a table while the build's readers (the canvass
    models, a score of data tests) read it, put back as a view of this same SQL when the build
    ends, so no copy of the knocks outlives their retention purge. The rules it joins are tables
    without personal data (bureau matches, versions, fast pairs) or per-canvasser counts. -#}
{{ config(materialized='table', tags=['build_scoped']) }}

-- The door knocks the canvass marts count: one row per knock (campaign_id, source, knock_id),
-- its counted version (int_canvass__knock_versions) with the bureau it belongs to
-- (int_canvass__bureau_matches) and every integrity flag. Knocks dated after their load
-- (`future_timestamp`, at most 1 h: the loader quarantines the rest) are left out: they would
-- land on a day that has not happened yet. What is left out, and why, is in
-- int_canvass__excluded_knocks.
--
-- Flags do not remove knocks: they are for the engineers who vet the field data
-- (int_canvass__canvasser_quality). `outside_campaign_window` comes from the loader; the others:
--   too_fast_distant             the knock is one of a pair of int_canvass__fast_knock_pairs
--   high_contact_rate_canvasser  its canvasser is above the threshold of
--                                int_canvass__canvasser_contact_rates in the knock's campaign
--   suppressed_building          knocked after the building's first do_not_contact
--                                (stg_canvass__suppression, which outlives purged knocks)

with

knocks as (

    select * from {{ ref('stg_canvass__knocks') }}

),

versions as (

    select * from {{ ref('int_canvass__knock_versions') }}

),

bureau_matches as (

    select * from {{ ref('int_canvass__bureau_matches') }}

),

fast_pairs as (

    select * from {{ ref('int_canvass__fast_knock_pairs') }}

),

fast_knocks as (

    select
        batch_id,
        line_no
    from fast_pairs
    union
    select
        batch_id,
        previous_line_no as line_no
    from fast_pairs

),

contact_rates as (

    select * from {{ ref('int_canvass__canvasser_contact_rates') }}

),

opposition as (

    select * from {{ ref('stg_canvass__suppression') }}

),

current_versions as (

    select
        knocks.*,
        bureau_matches.bureau_id,
        bureau_matches.match_method as bureau_match_method,
        fast_knocks.line_no is not null as is_too_fast,
        coalesce(contact_rates.is_high_contact_rate, false) as is_high_contact_rate,
        coalesce(knocks.knocked_at > opposition.first_seen_at, false) as is_after_opposition
    from knocks
    inner join versions
        on
            knocks.batch_id = versions.batch_id
            and knocks.line_no = versions.line_no
    inner join bureau_matches
        on
            knocks.batch_id = bureau_matches.batch_id
            and knocks.line_no = bureau_matches.line_no
    left join fast_knocks
        on
            knocks.batch_id = fast_knocks.batch_id
            and knocks.line_no = fast_knocks.line_no
    left join contact_rates
        on
            knocks.campaign_id = contact_rates.campaign_id
            and knocks.canvasser_key = contact_rates.canvasser_key
    left join opposition
        on knocks.building_key = opposition.building_key
    where versions.is_current

),

final as (

    select
        -- ids
        source,
        knock_id,
        campaign_id,
        canvasser_key,
        bureau_id,
        split_part(bureau_id, '_', 1) as code_commune,
        split_part(bureau_id, '_', 2) as code_bv,
        bureau_match_method,
        building_key,

        -- when
        knocked_at,
        knocked_on,
        source_updated_at,

        -- outcome
        outcome,
        is_door_opened,
        is_conversation,

        -- conversation-only answers (null unless the outcome is opened_conversation)
        topics,
        intends_to_vote,
        registered_here,
        sentiment,
        wants_to_volunteer,
        consent,

        -- quality: the loader's flags, then the rules', in a fixed order
        row_flags || array_remove(
            array[
                case when is_too_fast then 'too_fast_distant' end,
                case when is_high_contact_rate then 'high_contact_rate_canvasser' end,
                case when is_after_opposition then 'suppressed_building' end
            ]::text[],
            null
        ) as integrity_flags,

        -- lineage: the landed row that holds this version
        batch_id,
        line_no,
        loaded_at

    from current_versions
    where not ('future_timestamp' = any(row_flags))

)

select * from final
