{#- A table, built by full builds only (it reads no canvass data, so an incremental build's
    selection `source:canvass+` leaves it as the published build made it): the delta of
    int_canvass__bureau_matches looks its few new bureaux up here instead of aggregating the
    13 M national REU addresses again (about 5 s). -#}
{{ config(materialized='table') }}

-- The polling stations a door knock may count in: every bureau of the loaded election results
-- or REU addresses (int_canvass__bureau_matches, `is_reference_bureau`).

with

results_bureaux as (

    select distinct bureau_id
    from {{ ref('stg_elections__bureau_results') }}

),

reu_bureaux as (

    -- a hash aggregate of the 13 M national addresses into ~65,000 bureaux, where a union of
    -- the raw rows sorted them all
    select bureau_id
    from {{ ref('stg_reu__addresses') }}
    where bureau_id is not null
    group by bureau_id

),

final as (

    select bureau_id from results_bureaux
    union
    select bureau_id from reu_bureaux

)

select * from final
