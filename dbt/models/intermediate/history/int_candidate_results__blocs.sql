{#-
    A table, not a view: the bureau history, the election_results mart and the bloc tests read
    it, and as a view each of them recomputed the nuance and bloc of every candidate row
    (issue 15, national scale: 633 of the 773 s of dbt node time). The project's ANALYZE post-hook
    (macros/analyze.sql) gives those readers the true row count instead of an estimate.

    The présidentielle nuance comes from a left join on the normalised surname, computed for
    présidentielle rows only (null elsewhere, so it matches nothing). The former correlated
    scalar lookup ran once per reference to it after inlining: 6 loops per présidentielle row.
    The seed's (election_id, last_name) is unique (tested in _seeds.yml), so the join keeps one
    row per candidate, as the lookup did.
-#}
{{ config(
    materialized='table',
) }}

with

candidate_results as (

    select * from {{ ref('stg_elections__candidate_results') }}

),

elections as (

    select * from {{ ref('int_elections__registered') }}

),

presidential_candidates as (

    select * from {{ ref('presidential_candidate_nuances') }}

),

nuance_blocs as (

    select * from {{ ref('nuance_blocs') }}

),

normalised_candidates as (

    -- Présidentielle rows only: the surname in upper case without accents ("MELENCHON",
    -- "PECRESSE"), as the seed spells it; null for other elections, so they match no seed row.
    select
        candidate_results.election_id,
        candidate_results.bureau_id,
        candidate_results.panel_number,
        candidate_results.last_name,
        candidate_results.nuance,
        candidate_results.votes,
        elections.election_type,
        elections.election_year,
        case
            when elections.election_type = 'pres' then upper(translate(
                trim(candidate_results.last_name),
                'àâäáãéèêëíìîïóòôöõúùûüçñÀÂÄÁÃÉÈÊËÍÌÎÏÓÒÔÖÕÚÙÛÜÇÑ',
                'aaaaaeeeeiiiiooooouuuucnAAAAAEEEEIIIIOOOOOUUUUCN'
            ))
        end as presidential_surname
    from candidate_results
    inner join elections
        on candidate_results.election_id = elections.election_id

),

candidates as (

    select
        normalised_candidates.election_id,
        normalised_candidates.bureau_id,
        normalised_candidates.panel_number,
        normalised_candidates.last_name,
        presidential_candidates.nuance as presidential_nuance,
        nullif(trim(normalised_candidates.nuance), '') as published_nuance,
        normalised_candidates.votes,
        normalised_candidates.election_type,
        normalised_candidates.election_year
    from normalised_candidates
    left join presidential_candidates
        on
            normalised_candidates.election_id = presidential_candidates.election_id
            and normalised_candidates.presidential_surname = presidential_candidates.last_name

),

labelled as (

    -- Présidentielle files carry no nuance: the candidate's surname gives it. Elsewhere a
    -- candidate or list published without nuance is labelled with the var `unknown_nuance`;
    -- a présidentielle candidate missing from the seed gets none, so it surfaces as unmapped
    -- instead of being counted in a bloc by default.
    select
        candidates.election_id,
        candidates.bureau_id,
        candidates.panel_number,
        candidates.last_name,
        candidates.votes,
        candidates.election_type,
        candidates.election_year,
        case
            when candidates.presidential_nuance is not null
                then candidates.presidential_nuance
            when candidates.published_nuance is not null
                then candidates.published_nuance
            when candidates.election_type = 'pres'
                then null
            else '{{ var("unknown_nuance") }}'
        end as nuance,
        case
            when candidates.presidential_nuance is not null
                then 'presidential_candidate'
            when candidates.published_nuance is not null
                then 'ministry'
            when candidates.election_type = 'pres'
                then 'none'
            else 'unknown_nuance'
        end as nuance_source
    from candidates

),

election_nuance_blocs as (

    -- The bloc is decided once per (election, nuance), not per candidate row: a row of the
    -- seed applies when its election type is the election's or '*' and the election's year
    -- lies in [valid_from_year, valid_to_year]. The most specific row wins (a type over '*'),
    -- then the highest version. (An aggregate rather than a row_number() filter: PostgreSQL
    -- then estimates this small relation sensibly and hash-joins it to the candidate rows
    -- instead of looping over them.)
    select
        elections.election_id,
        nuance_blocs.nuance,
        (array_agg(
            nuance_blocs.bloc
            order by
                case when nuance_blocs.election_type = '*' then 1 else 0 end asc,
                nuance_blocs.version desc
        ))[1] as bloc,
        (array_agg(
            nuance_blocs.version
            order by
                case when nuance_blocs.election_type = '*' then 1 else 0 end asc,
                nuance_blocs.version desc
        ))[1] as version
    from elections
    inner join nuance_blocs
        on
            nuance_blocs.election_type in (elections.election_type, '*')
            and elections.election_year >= nuance_blocs.valid_from_year
            and (
                nuance_blocs.valid_to_year is null
                or elections.election_year <= nuance_blocs.valid_to_year
            )
    group by
        elections.election_id,
        nuance_blocs.nuance

),

final as (

    select
        labelled.election_id,
        labelled.bureau_id,
        labelled.panel_number,
        labelled.last_name,
        labelled.election_type,
        labelled.election_year,
        labelled.nuance,
        labelled.nuance_source,
        election_nuance_blocs.bloc,
        election_nuance_blocs.version as mapping_version,
        labelled.votes
    from labelled
    left join election_nuance_blocs
        on
            labelled.election_id = election_nuance_blocs.election_id
            and labelled.nuance = election_nuance_blocs.nuance

)

select * from final
