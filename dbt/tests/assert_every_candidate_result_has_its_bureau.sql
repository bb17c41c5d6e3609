-- Every candidate row belongs to a polling station of the same election: an orphan would
-- silently drop out of the marts (they join candidates to bureaux).

with

candidate_results as (

    select * from {{ ref('stg_elections__candidate_results') }}

),

bureau_results as (

    select * from {{ ref('stg_elections__bureau_results') }}

),

orphans as (

    select
        candidate_results.election_id,
        candidate_results.bureau_id,
        candidate_results.panel_number
    from candidate_results
    left join bureau_results
        on
            candidate_results.election_id = bureau_results.election_id
            and candidate_results.bureau_id = bureau_results.bureau_id
    where bureau_results.bureau_id is null

)

select * from orphans
