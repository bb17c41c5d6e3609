with

source as (

    select * from {{ source('canvass', 'canvass_knocks') }}

),

batches as (

    select * from {{ source('ingestion', 'batch_ledger') }}

),

loaded_batches as (

    -- A superseded export, or a load that failed or is still running, never counts.
    select batch_id
    from batches
    where status = 'loaded'

),

renamed as (

    select
        -- ids
        cast(source.source as text) as source,
        cast(source.knock_id as text) as knock_id,
        cast(source.campaign_id as text) as campaign_id,
        cast(source.canvasser_key as text) as canvasser_key,
        cast(source.bureau_id as text) as bureau_id,
        split_part(source.bureau_id, '_', 1) as code_commune,
        split_part(source.bureau_id, '_', 2) as code_bv,
        cast(source.building_key as text) as building_key,

        -- when: the campaign's calendar day is the French one (a knock at 00:30 Paris time
        -- belongs to that day, not to the UTC day before)
        cast(source.knocked_at as timestamptz) as knocked_at,
        cast(
            (source.knocked_at at time zone 'Europe/Paris') as date
        ) as knocked_on,

        -- outcome
        cast(source.outcome as text) as outcome,
        source.outcome in (
            'opened_refused',
            'opened_later',
            'opened_conversation'
        ) as is_door_opened,
        source.outcome = 'opened_conversation' as is_conversation,

        -- conversation-only answers (null unless the outcome is opened_conversation)
        cast(source.topics as text []) as topics,
        cast(source.intends_to_vote as text) as intends_to_vote,
        cast(source.registered_here as boolean) as registered_here,
        cast(source.sentiment as text) as sentiment,
        cast(source.wants_to_volunteer as boolean) as wants_to_volunteer,
        cast(source.consent as boolean) as consent,

        -- quality
        coalesce(cast(source.integrity_flags as text []), '{}') as integrity_flags,

        -- lineage
        cast(source.batch_id as bigint) as batch_id,
        cast(source.loaded_at as timestamptz) as loaded_at,
        cast(source.updated_at as timestamptz) as updated_at,
        cast(source.source_updated_at as timestamptz) as source_updated_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id
    -- The loader quarantines knocks dated in the future; any that slipped through (flagged
    -- but kept) would land on a day that has not happened yet.
    where not coalesce('future_timestamp' = any(source.integrity_flags), false)

)

select * from renamed
