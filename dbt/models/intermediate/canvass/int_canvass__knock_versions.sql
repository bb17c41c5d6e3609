{#- A table: the version ranking reads every landed row, and int_canvass__knocks (build-scoped:
    macros/build_scoped.sql) joins it. It holds no personal data: landed rows are named by
    (batch_id, line_no) only.

    Incremental in the gate's incremental builds only (dbt var `canvass_delta`, like
    int_canvass__bureau_matches): a version's status depends only on the landed rows of its own
    knock (campaign_id, source, knock_id), so the knocks with a row landed since are ranked
    again, all their rows, and their rows replace the ones kept. When a row is no longer landed
    (a purge, a superseded batch), this table cannot tell whose knock it was (it keeps no knock
    id): every knock is ranked again, as in a full build. -#}
{{ config(
    materialized='incremental',
    unique_key=['batch_id', 'line_no'],
    incremental_strategy='delete+insert',
    full_refresh=not var('canvass_delta', false),
    post_hook=["{{ delete_unlanded_rows() }}"],
) }}

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
{%- if is_incremental() %}

landed_since as (

    -- the rows of the batches it has not seen (macros/canvass.sql, canvass_batches_seen)
    select
        knocks.campaign_id,
        knocks.source,
        knocks.knock_id
    from knocks
    where not exists (
        select 1
        from ({{ canvass_batches_seen(this) }}) as seen
        where seen.batch_id = knocks.batch_id
    )

),

no_longer_landed as (

    -- the batches that lost rows since (a purge, a superseding load): a batch only ever
    -- loses rows, so one ranked with more rows than it now has lost some (macros/canvass.sql)
    select count(*) as rows_gone
    from ({{ canvass_batches_shrunk(this, 'knocks') }}) as shrunk

),

touched_knocks as (

    select distinct
        campaign_id,
        source,
        knock_id
    from landed_since

),

knocks_to_rank as (

    -- every landed row of a knock landed again since; of every knock once a row went
    select knocks.*
    from knocks
    inner join touched_knocks
        on
            knocks.campaign_id = touched_knocks.campaign_id
            and knocks.source = touched_knocks.source
            and knocks.knock_id = touched_knocks.knock_id
    where (select rows_gone from no_longer_landed) = 0
    union all
    select knocks.*
    from knocks
    where (select rows_gone from no_longer_landed) > 0

),
{%- endif %}

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
    from {{ 'knocks_to_rank' if is_incremental() else 'knocks' }} as knocks
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
