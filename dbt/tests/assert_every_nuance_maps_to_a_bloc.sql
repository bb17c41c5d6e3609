-- Every candidate of the staged results is counted in a bloc: one row per (election, nuance)
-- that no row of seeds/nuance_blocs.csv covers for that election's type and year (or per
-- présidentielle candidate missing from seeds/presidential_candidate_nuances.csv), with the
-- votes at stake and the bureaux whose bloc shares it leaves short. The failing rows are stored
-- in ops.assert_every_nuance_maps_to_a_bloc, so the missing codes can be read there after a
-- failed build.
--
-- It reads the bureau history as well as the candidates: dbt then lets a failure stop only
-- what depends on both (the polling-station mart), and the history is still built, with the
-- unmapped votes counted apart, for whoever investigates.
{{ config(store_failures=true, schema='ops') }}

with

candidate_blocs as (

    select * from {{ ref('int_candidate_results__blocs') }}

),

history as (

    select * from {{ ref('int_bureau_history__by_election') }}

),

unmapped as (

    select
        election_id,
        election_type,
        election_year,
        coalesce(nuance, 'présidentielle candidate ' || last_name) as unmapped_nuance,
        cast(count(*) as integer) as candidate_rows,
        cast(sum(votes) as integer) as votes
    from candidate_blocs
    where bloc is null
    group by
        election_id,
        election_type,
        election_year,
        coalesce(nuance, 'présidentielle candidate ' || last_name)

),

short_bureaux as (

    select
        election_id,
        cast(count(*) as integer) as bureaux_with_unmapped_votes
    from history
    where unmapped_votes > 0
    group by election_id

),

final as (

    select
        unmapped.election_id,
        unmapped.election_type,
        unmapped.election_year,
        unmapped.unmapped_nuance,
        unmapped.candidate_rows,
        unmapped.votes,
        coalesce(short_bureaux.bureaux_with_unmapped_votes, 0) as bureaux_with_unmapped_votes
    from unmapped
    left join short_bureaux
        on unmapped.election_id = short_bureaux.election_id

)

select * from final
