with

bureau_results as (

    select * from {{ ref('stg_elections__bureau_results') }}

),

nuance_votes as (

    select * from {{ ref('int_nuance_votes__summed_by_bureau') }}

),

final as (

    select
        nuance_votes.election_id,
        nuance_votes.bureau_id,
        bureau_results.code_commune,
        bureau_results.code_bv,
        nuance_votes.nuance,
        nuance_votes.votes,
        cast(nuance_votes.votes as double precision)
            / nullif(bureau_results.valid_votes, 0) as share_of_valid
    from nuance_votes
    inner join bureau_results
        on
            nuance_votes.election_id = bureau_results.election_id
            and nuance_votes.bureau_id = bureau_results.bureau_id

)

{{ select_in_campaign_territory('final') }}
