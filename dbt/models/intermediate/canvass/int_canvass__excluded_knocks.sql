{#- A view, like int_canvass__knocks between builds: it names knocks, and must not outlive their
    purge. Only the canvass marts' tests read it, once each: nothing to gain from a table. -#}

-- Every landed row the canvass marts do not count, with the reason: where an engineer looks
-- when a file's rows do not all show up. (Rows that could not even be read as a knock never
-- landed: they are in quarantine.canvass_rows.) Every row of stg_canvass__knocks is either
-- counted in int_canvass__knocks or listed here, once (dbt test
-- assert_canvass_landed_knocks_are_counted_or_excluded).

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

batches as (

    select * from {{ source('ingestion', 'batch_ledger') }}

),

excluded as (

    select
        knocks.batch_id,
        knocks.line_no,
        knocks.source,
        knocks.knock_id,
        knocks.knocked_at,
        knocks.loaded_at,
        bureau_matches.bureau_id,
        versions.counted_batch_id,
        versions.counted_line_no,
        case
            when versions.is_current then 'future_timestamp'
            else versions.version_status
        end as exclusion_reason
    from knocks
    inner join versions
        on
            knocks.batch_id = versions.batch_id
            and knocks.line_no = versions.line_no
    inner join bureau_matches
        on
            knocks.batch_id = bureau_matches.batch_id
            and knocks.line_no = bureau_matches.line_no
    where
        not versions.is_current
        or 'future_timestamp' = any(knocks.row_flags)

),

final as (

    select
        excluded.batch_id,
        batches.file_name,
        excluded.line_no,
        excluded.source,
        excluded.knock_id,
        excluded.knocked_at,
        excluded.loaded_at,
        excluded.bureau_id,
        excluded.exclusion_reason,
        case excluded.exclusion_reason
            when 'bureau_missing'
                then
                    'no bureau in the export, no REU address within '
                    || '{{ var("canvass_reu_radius_m") }} m of its coordinates, '
                    || 'no REU address with its address key'
            when 'bureau_not_in_reference'
                then
                    'bureau ' || excluded.bureau_id || ' is neither a bureau of the loaded '
                    || 'election results nor of the REU addresses'
            when 'superseded_in_file'
                then
                    'a newer version of the knock is in the same file (or the same version on '
                    || 'a later line); the version counted is batch ' || excluded.counted_batch_id
                    || ' line ' || excluded.counted_line_no
            when 'superseded'
                then
                    'another version of the knock is counted (a newer one, or the same one '
                    || 'loaded earlier): batch ' || excluded.counted_batch_id
                    || ' line ' || excluded.counted_line_no
            when 'future_timestamp'
                then
                    'knocked after its file was loaded (by at most 1 h; more is quarantined): '
                    || 'a day that had not happened yet'
        end as exclusion_detail,
        excluded.counted_batch_id,
        excluded.counted_line_no
    from excluded
    left join batches
        on excluded.batch_id = batches.batch_id

)

select * from final
