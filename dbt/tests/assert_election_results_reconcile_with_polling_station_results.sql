-- The tidy results hold, for every (election, bureau), exactly the bureau of
-- polling_station_results: the same registered voters, voters and valid votes on every
-- candidate row, and candidates' votes adding up to the valid votes. A bureau present in only
-- one of the two marts, a candidate row lost or duplicated by a join, or bureau totals copied
-- from the wrong row show up here. Returns one row per (election, bureau) that disagrees.

with

tidy as (

    select
        election_id,
        bureau_id,
        sum(votes) as summed_votes,
        min(registered) as min_registered,
        max(registered) as max_registered,
        min(voters) as min_voters,
        max(voters) as max_voters,
        min(valid_votes) as min_valid_votes,
        max(valid_votes) as max_valid_votes
    from {{ ref('election_results') }}
    group by
        election_id,
        bureau_id

),

bureaux as (

    -- bureaux without any candidate row have nothing to reconcile in the tidy mart
    select
        polling_station_results.election_id,
        polling_station_results.bureau_id,
        polling_station_results.registered,
        polling_station_results.voters,
        polling_station_results.valid_votes
    from {{ ref('polling_station_results') }} as polling_station_results
    where polling_station_results.candidates_count > 0

),

compared as (

    select
        coalesce(tidy.election_id, bureaux.election_id) as election_id,
        coalesce(tidy.bureau_id, bureaux.bureau_id) as bureau_id,
        tidy.summed_votes,
        bureaux.valid_votes,
        tidy.min_registered,
        tidy.max_registered,
        bureaux.registered,
        tidy.min_voters,
        tidy.max_voters,
        bureaux.voters,
        tidy.min_valid_votes,
        tidy.max_valid_votes
    from tidy
    full outer join bureaux
        on
            tidy.election_id = bureaux.election_id
            and tidy.bureau_id = bureaux.bureau_id

)

select *
from compared
where
    summed_votes is distinct from valid_votes
    or min_registered is distinct from registered
    or max_registered is distinct from registered
    or min_voters is distinct from voters
    or max_voters is distinct from voters
    or min_valid_votes is distinct from valid_votes
    or max_valid_votes is distinct from valid_votes
