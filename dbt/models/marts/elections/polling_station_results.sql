with

bureau_results as (

    select * from {{ ref('stg_elections__bureau_results') }}

),

nuance_votes as (

    select * from {{ ref('int_nuance_votes__summed_by_bureau') }}

),

nuance_summary as (

    select
        election_id,
        bureau_id,
        jsonb_object_agg(nuance, votes) as votes_by_nuance,
        cast(sum(candidates_count) as integer) as candidates_count
    from nuance_votes
    group by
        election_id,
        bureau_id

),

ranked_nuances as (

    -- Ties are broken alphabetically so the leader is deterministic; a bureau whose nuances
    -- all got zero votes has no leader.
    select
        election_id,
        bureau_id,
        nuance,
        row_number() over (
            partition by election_id, bureau_id
            order by votes desc, nuance asc
        ) as nuance_rank
    from nuance_votes
    where votes > 0

),

leaders as (

    select
        election_id,
        bureau_id,
        nuance as leading_nuance
    from ranked_nuances
    where nuance_rank = 1

),

final as (

    select
        bureau_results.election_id,
        bureau_results.bureau_id,
        bureau_results.code_departement,
        bureau_results.code_commune,
        bureau_results.commune_name,
        bureau_results.code_bv,
        bureau_results.registered,
        bureau_results.voters,
        bureau_results.abstentions,
        bureau_results.blank_votes,
        bureau_results.null_votes,
        bureau_results.valid_votes,
        cast(bureau_results.voters as double precision)
            / nullif(bureau_results.registered, 0) as turnout_rate,
        cast(bureau_results.blank_votes as double precision)
            / nullif(bureau_results.voters, 0) as blank_rate,
        cast(bureau_results.null_votes as double precision)
            / nullif(bureau_results.voters, 0) as null_rate,
        cast(bureau_results.valid_votes as double precision)
            / nullif(bureau_results.voters, 0) as valid_rate,
        coalesce(nuance_summary.candidates_count, 0) as candidates_count,
        coalesce(nuance_summary.votes_by_nuance, cast('{}' as jsonb)) as votes_by_nuance,
        leaders.leading_nuance
    from bureau_results
    left join nuance_summary
        on
            bureau_results.election_id = nuance_summary.election_id
            and bureau_results.bureau_id = nuance_summary.bureau_id
    left join leaders
        on
            bureau_results.election_id = leaders.election_id
            and bureau_results.bureau_id = leaders.bureau_id

)

{{ select_in_campaign_territory('final') }}
