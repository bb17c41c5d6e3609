-- Every landed canvass row is accounted for exactly once: either it is the counted version of a
-- knock (int_canvass__knocks) or it is listed with a reason (int_canvass__excluded_knocks).
-- This is what the loader's ledger reconciliation (read = loaded + quarantined + duplicates) used
-- to say before the rules moved to dbt: a rule that silently drops a row, or counts it twice,
-- shows up here. Returns the landed rows that break it, with how often each side holds them.

with

landed as (

    select
        batch_id,
        line_no
    from {{ ref('stg_canvass__knocks') }}

),

counted as (

    select
        batch_id,
        line_no,
        count(*) as times
    from {{ ref('int_canvass__knocks') }}
    group by
        batch_id,
        line_no

),

excluded as (

    select
        batch_id,
        line_no,
        count(*) as times
    from {{ ref('int_canvass__excluded_knocks') }}
    group by
        batch_id,
        line_no

),

compared as (

    select
        coalesce(landed.batch_id, counted.batch_id, excluded.batch_id) as batch_id,
        coalesce(landed.line_no, counted.line_no, excluded.line_no) as line_no,
        landed.batch_id is not null as is_landed,
        coalesce(counted.times, 0) as times_counted,
        coalesce(excluded.times, 0) as times_excluded
    from landed
    full outer join counted
        on
            landed.batch_id = counted.batch_id
            and landed.line_no = counted.line_no
    full outer join excluded
        on
            coalesce(landed.batch_id, counted.batch_id) = excluded.batch_id
            and coalesce(landed.line_no, counted.line_no) = excluded.line_no

)

select *
from compared
where
    not is_landed
    or times_counted + times_excluded <> 1
