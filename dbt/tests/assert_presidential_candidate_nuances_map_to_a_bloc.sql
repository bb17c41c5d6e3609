-- Every nuance of seeds/presidential_candidate_nuances.csv has a row of
-- seeds/nuance_blocs.csv valid for that présidentielle: checked on the seeds themselves, so a
-- typo fails before any présidentielle result is loaded.

with

candidates as (

    select * from {{ ref('presidential_candidate_nuances') }}

),

elections as (

    select * from {{ ref('elections') }}

),

nuance_blocs as (

    select * from {{ ref('nuance_blocs') }}

),

unmapped as (

    select
        candidates.election_id,
        candidates.last_name,
        candidates.nuance
    from candidates
    inner join elections
        on candidates.election_id = elections.election_id
    where not exists (
        select 1
        from nuance_blocs
        where
            nuance_blocs.nuance = candidates.nuance
            and nuance_blocs.election_type in (elections.election_type, '*')
            and extract(year from elections.election_date) >= nuance_blocs.valid_from_year
            and (
                nuance_blocs.valid_to_year is null
                or extract(year from elections.election_date) <= nuance_blocs.valid_to_year
            )
    )

)

select * from unmapped
