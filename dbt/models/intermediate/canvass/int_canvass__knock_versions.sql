{#- A table: the version ranking reads every landed row, and int_canvass__knocks (build-scoped:
    macros/build_scoped.sql) joins it. It holds no personal data: landed rows are named
    by (batch_id, line_no) only. -#}
{{ config(materialized='table') }}

-- Which landed row is the version of a knock that counts (de-duplication). A knock, (campaign_id,
-- source, knock_id), may land many times: twice in one file, or again in a later export. Two
-- campaigns' knocks never compete, even when their apps reuse an id.
--   1. Only rows whose bureau is known compete (int_canvass__bureau_matches): a version without
--      a bureau, or with one outside the reference, is left out.
--   2. Within a file, the newest version wins (source_updated_at), the later line on a tie.
--   3. Across files, a version replaces the counted one only when strictly newer: on a tie the
--      file loaded first keeps it.
-- `counted_batch_id` / `counted_line_no` name the row that counts instead of a superseded one.

with

knocks as (

    select
        batch_id,
        line_no,
        campaign_id,
        source,
        knock_id,
        source_updated_at
    from {{ ref('stg_canvass__knocks') }}

),

bureau_matches as (

    select * from {{ ref('int_canvass__bureau_matches') }}

),

located as (

    select
        knocks.*,
        bureau_matches.bureau_id is not null and bureau_matches.is_reference_bureau as competes,
        case
            when bureau_matches.bureau_id is null then 'bureau_missing'
            when not bureau_matches.is_reference_bureau then 'bureau_not_in_reference'
        end as bureau_problem
    from knocks
    inner join bureau_matches
        on
            knocks.batch_id = bureau_matches.batch_id
            and knocks.line_no = bureau_matches.line_no

),

ranked_in_file as (

    select
        located.*,
        row_number() over (
            partition by
                located.competes,
                located.batch_id,
                located.source,
                located.knock_id
            order by
                located.source_updated_at desc,
                located.line_no desc
        ) as file_rank
    from located

),

ranked as (

    select
        ranked_in_file.*,
        row_number() over (
            partition by
                ranked_in_file.competes and ranked_in_file.file_rank = 1,
                ranked_in_file.campaign_id,
                ranked_in_file.source,
                ranked_in_file.knock_id
            order by
                ranked_in_file.source_updated_at desc,
                ranked_in_file.batch_id asc
        ) as knock_rank
    from ranked_in_file

),

statuses as (

    select
        ranked.*,
        case
            when not ranked.competes then ranked.bureau_problem
            when ranked.file_rank > 1 then 'superseded_in_file'
            when ranked.knock_rank > 1 then 'superseded'
            else 'current'
        end as version_status
    from ranked

),

counted as (

    select
        campaign_id,
        source,
        knock_id,
        batch_id,
        line_no
    from statuses
    where version_status = 'current'

),

final as (

    select
        statuses.batch_id,
        statuses.line_no,
        statuses.version_status,
        statuses.version_status = 'current' as is_current,
        case when statuses.version_status like 'superseded%' then counted.batch_id end
            as counted_batch_id,
        case when statuses.version_status like 'superseded%' then counted.line_no end
            as counted_line_no
    from statuses
    left join counted
        on
            statuses.campaign_id = counted.campaign_id
            and statuses.source = counted.source
            and statuses.knock_id = counted.knock_id

)

select * from final
