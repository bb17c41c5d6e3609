with

source as (

    select * from {{ source('canvass', 'canvass_knocks') }}

),

batches as (

    select * from {{ source('ingestion', 'batch_ledger') }}

),

loaded_batches as (

    -- A load that failed or is still running never counts.
    select batch_id
    from batches
    where status = 'loaded'

),

renamed as (

    select
        -- ids: one landed row per (batch_id, line_no); a knock exported twice lands twice
        cast(source.batch_id as bigint) as batch_id,
        cast(source.line_no as integer) as line_no,
        cast(source.source as text) as source,
        cast(source.knock_id as text) as knock_id,
        cast(source.campaign_id as text) as campaign_id,
        cast(source.canvasser_key as text) as canvasser_key,
        cast(source.building_key as text) as building_key,

        -- where, as the app gave it (int_canvass__bureau_matches decides the bureau)
        cast(source.bureau_id as text) as app_bureau_id,
        cast(source.longitude as double precision) as longitude,
        cast(source.latitude as double precision) as latitude,
        cast(source.address_key as text) as address_key,

        -- when: the campaign's calendar day is the French one (a knock at 00:30 Paris time
        -- belongs to that day, not to the UTC day before)
        cast(source.knocked_at as timestamptz) as knocked_at,
        cast(
            (source.knocked_at at time zone 'Europe/Paris') as date
        ) as knocked_on,
        cast(source.source_updated_at as timestamptz) as source_updated_at,

        -- outcome
        cast(source.outcome as text) as outcome,
        source.outcome in (
            'opened_refused',
            'opened_later',
            'opened_conversation'
        ) as is_door_opened,
        source.outcome = 'opened_conversation' as is_conversation,

        -- conversation-only answers (null unless the outcome is opened_conversation)
        cast(source.topics as text[]) as topics,
        cast(source.intends_to_vote as text) as intends_to_vote,
        cast(source.registered_here as boolean) as registered_here,
        cast(source.sentiment as text) as sentiment,
        cast(source.wants_to_volunteer as boolean) as wants_to_volunteer,
        cast(source.consent as boolean) as consent,

        -- quality: the flags the loader set while validating the row
        coalesce(cast(source.integrity_flags as text[]), '{}') as row_flags,

        -- lineage
        cast(source.loaded_at as timestamptz) as loaded_at

    from source
    inner join loaded_batches
        on source.batch_id = loaded_batches.batch_id

)

select * from renamed
