-- The candidates' votes of a polling station add up to its valid votes ("exprimés"): checks
-- both that no candidate row was lost or duplicated and that the Ministry file is consistent.
-- Returns one row per bureau where they differ, including bureaux present in only one mart.

with

bureau_results as (

    select
        election_id,
        bureau_id,
        valid_votes
    from {{ ref('polling_station_results') }}

),

nuance_votes as (

    select
        election_id,
        bureau_id,
        sum(votes) as summed_votes
    from {{ ref('polling_station_nuance_votes') }}
    group by
        election_id,
        bureau_id

),

compared as (

    select
        coalesce(bureau_results.election_id, nuance_votes.election_id) as election_id,
        coalesce(bureau_results.bureau_id, nuance_votes.bureau_id) as bureau_id,
        bureau_results.valid_votes,
        coalesce(nuance_votes.summed_votes, 0) as summed_votes
    from bureau_results
    full outer join nuance_votes
        on
            bureau_results.election_id = nuance_votes.election_id
            and bureau_results.bureau_id = nuance_votes.bureau_id

)

select *
from compared
where valid_votes is distinct from summed_votes
