{{ config(materialized='table') }}

with

candidate_results as (

    select * from {{ ref('stg_elections__candidate_results') }}

),

labelled as (

    select
        election_id,
        bureau_id,
        coalesce(nullif(trim(nuance), ''), '{{ var("unknown_nuance") }}') as nuance,
        votes
    from candidate_results

),

summed as (

    -- Several candidates of one bureau can share a nuance (two EXG candidates, say).
    select
        election_id,
        bureau_id,
        nuance,
        cast(sum(votes) as integer) as votes,
        cast(count(*) as integer) as candidates_count
    from labelled
    group by
        election_id,
        bureau_id,
        nuance

),

final as (

    select
        election_id,
        bureau_id,
        nuance,
        votes,
        candidates_count
    from summed

)

select * from final
