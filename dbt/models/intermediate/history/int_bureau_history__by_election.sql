{#-
    A table, not a view: the polling-station mart and a dozen tests read it, and recomputing
    the bloc sums over every candidate row of every election for each of them would cost more
    than storing one row per bureau and election.
    JIT off for this statement: compiling the plan's expressions costs PostgreSQL several
    seconds (measured: ~10 s of a 26 s build on 1.4 million candidate rows), more than it saves.
-#}
{{ config(
    materialized='table',
    pre_hook="set local jit = off",
) }}

with

bureau_results as (

    select * from {{ ref('stg_elections__bureau_results') }}

),

elections as (

    select * from {{ ref('int_elections__registered') }}

),

candidate_blocs as (

    select * from {{ ref('int_candidate_results__blocs') }}

),

bloc_votes as (

    select
        election_id,
        bureau_id,
        cast(sum(votes) as integer) as candidate_votes,
        cast(coalesce(sum(votes) filter (where bloc is null), 0) as integer) as unmapped_votes,
        {%- for bloc in var('blocs') %}
        cast(coalesce(sum(votes) filter (where bloc = '{{ bloc }}'), 0) as integer)
            as votes_{{ bloc }}{{ ',' if not loop.last }}
        {%- endfor %}
    from candidate_blocs
    group by
        election_id,
        bureau_id

),

final as (

    select
        bureau_results.bureau_id,
        bureau_results.election_id,
        bureau_results.code_commune,
        bureau_results.commune_name,
        bureau_results.code_bv,
        elections.election_type,
        elections.election_date,
        elections.election_year,
        elections.round,
        bureau_results.registered,
        bureau_results.voters,
        bureau_results.valid_votes,
        cast(bureau_results.voters as double precision)
            / nullif(bureau_results.registered, 0) as turnout,
        coalesce(bloc_votes.candidate_votes, 0) as candidate_votes,
        coalesce(bloc_votes.unmapped_votes, 0) as unmapped_votes,
        {%- for bloc in var('blocs') %}
        coalesce(bloc_votes.votes_{{ bloc }}, 0) as votes_{{ bloc }},
        {%- endfor %}
        {%- for bloc in var('blocs') %}
        cast(coalesce(bloc_votes.votes_{{ bloc }}, 0) as double precision)
            / nullif(bureau_results.valid_votes, 0) as share_{{ bloc }}{{ ',' if not loop.last }}
        {%- endfor %}
    from bureau_results
    inner join elections
        on bureau_results.election_id = elections.election_id
    left join bloc_votes
        on
            bureau_results.election_id = bloc_votes.election_id
            and bureau_results.bureau_id = bloc_votes.bureau_id

)

select * from final
