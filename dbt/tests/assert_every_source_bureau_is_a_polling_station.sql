-- Every bureau of the loaded results, of the REU and of the roll extract has its row in the
-- polling_stations mart (REU and roll bureaux under the Ministry key the mapping gives them):
-- a bureau missing there would silently drop out of every campaign plan. Bureaux outside the
-- campaign's territory (int_territory__bureaux) are meant to be absent.

with

polling_stations as (

    select * from {{ ref('polling_stations') }}

),

mapping as (

    select * from {{ ref('int_reu_bureau_mapping') }}

),

source_bureaux as (

    select distinct
        'results' as source,
        bureau_id
    from {{ ref('stg_elections__bureau_results') }}

    union

    select distinct
        'roll' as source,
        coalesce(mapping.bureau_id, roll_counts.bureau_id) as bureau_id
    from {{ ref('stg_roll__bureau_counts') }} as roll_counts
    left join mapping
        on roll_counts.bureau_id = mapping.reu_bureau_id

    union

    select distinct
        'reu' as source,
        mapping.bureau_id
    from {{ ref('stg_reu__bureaux') }} as reu_bureaux
    inner join mapping
        on reu_bureaux.bureau_id = mapping.reu_bureau_id

),

missing as (

    select
        source_bureaux.source,
        source_bureaux.bureau_id
    from source_bureaux
    left join polling_stations
        on source_bureaux.bureau_id = polling_stations.bureau_id
    where
        polling_stations.bureau_id is null
        and not {{ outside_campaign_territory('source_bureaux.bureau_id') }}

)

select * from missing
