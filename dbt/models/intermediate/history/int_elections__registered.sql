with

bureau_results as (

    select * from {{ ref('stg_elections__bureau_results') }}

),

registry as (

    select * from {{ ref('elections') }}

),

loaded_elections as (

    select distinct election_id
    from bureau_results

),

final as (

    -- An election missing from the registry (a test fixture, or a registry not updated yet:
    -- the relationships test names it) keeps the type, year and round its id spells out,
    -- `<year>_<type>_t<round>`, so its nuances can still be mapped to blocs.
    select
        loaded_elections.election_id,
        registry.election_id is not null as is_registered,
        coalesce(
            registry.election_type,
            split_part(loaded_elections.election_id, '_', 2)
        ) as election_type,
        coalesce(
            cast(extract(year from registry.election_date) as integer),
            cast(left(loaded_elections.election_id, 4) as integer)
        ) as election_year,
        coalesce(
            registry.round,
            cast(substring(loaded_elections.election_id from '_t([0-9]+)$') as integer)
        ) as round,
        registry.election_date,
        registry.label
    from loaded_elections
    left join registry
        on loaded_elections.election_id = registry.election_id

)

select * from final
