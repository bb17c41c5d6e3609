{#-
    Tidy election results: one row per (bureau, election, candidate or list). The long form
    BI tools filter and chart without unpacking JSON: every candidate with its panel number,
    name, nuance and bloc (int_candidate_results__blocs, the same nuance -> bloc mapping as the
    bureau history), its votes and shares, next to the bureau's own totals.

    No nested loops for this statement (`set local`, this transaction only): the planner
    estimates ONE row out of int_candidate_results__blocs (its nuance is a CASE expression
    joined to the seed) and then loops over every bureau for each candidate row: 3.4 s instead
    of 0.03 s on the 2,295 rows of the bundled sample, and quadratic nationally.
-#}
{{ config(
    pre_hook=["set local enable_nestloop = off"],
) }}

with

candidates as (

    select * from {{ ref('int_candidate_results__blocs') }}

),

candidate_names as (

    -- first names only: the bloc model keeps the last name alone
    select
        election_id,
        bureau_id,
        panel_number,
        first_name
    from {{ ref('stg_elections__candidate_results') }}

),

bureau_results as (

    select * from {{ ref('stg_elections__bureau_results') }}

),

elections as (

    select * from {{ ref('int_elections__registered') }}

),

final as (

    select
        -- bureau
        bureau_results.bureau_id,
        bureau_results.code_commune,
        bureau_results.commune_name,
        bureau_results.code_bv,

        -- election
        candidates.election_id,
        candidates.election_type,
        elections.election_date,
        elections.round,

        -- candidate or list
        candidates.panel_number,
        candidates.last_name,
        candidate_names.first_name,
        candidates.nuance,
        candidates.nuance_source,
        candidates.bloc,

        -- result
        candidates.votes,
        cast(candidates.votes as double precision)
            / nullif(bureau_results.valid_votes, 0) as share_of_valid_votes,
        cast(candidates.votes as double precision)
            / nullif(bureau_results.registered, 0) as share_of_registered,

        -- the bureau's totals, repeated on each of its candidates
        bureau_results.registered,
        bureau_results.voters,
        bureau_results.valid_votes

    from candidates
    -- every candidate row has its bureau row (test assert_every_candidate_result_has_its_bureau)
    inner join bureau_results
        on
            candidates.election_id = bureau_results.election_id
            and candidates.bureau_id = bureau_results.bureau_id
    inner join elections
        on candidates.election_id = elections.election_id
    left join candidate_names
        on
            candidates.election_id = candidate_names.election_id
            and candidates.bureau_id = candidate_names.bureau_id
            and candidates.panel_number = candidate_names.panel_number

)

{{ select_in_campaign_territory('final') }}
