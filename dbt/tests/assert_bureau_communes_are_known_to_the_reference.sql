-- Official commune codes per département, for the campaign's territory. No full official list
-- (COG) is bundled and there is no network, so the reference is what the warehouse knows from
-- sources other than the results: the REU (bureau table and addresses), the census IRIS, the
-- IRIS-to-bureau weights of the contours, plus the seed known_communes. A département is judged
-- once that reference holds at least 90 % of the communes the loaded results name there (a full
-- REU or census file of the département does; the three-commune REU sample of real Finistère
-- addresses does not, and judging it would refuse 32 real communes). Then every commune of a
-- results bureau of the territory in that département must be in the reference: `29999` (no
-- such commune) is refused. Returns one row per unknown commune, with its elections and the
-- coverage that made the département judged. The département prefix itself (a 22xxx commune in
-- a row of département 29) is the raw suite's (`code_commune lies in code_departement`).
-- docs/quality.md says what this can and cannot catch.
{{ config(store_failures=true, schema='ops') }}

{%- set min_coverage = var('commune_reference_min_coverage', 0.9) %}

with

results as (

    select
        election_id,
        bureau_id,
        code_commune
    from {{ ref('stg_elections__bureau_results') }}

),

reference as (

    -- Each source deduplicated on its own (a hash aggregate over the 13 M national REU
    -- addresses), then unioned: the union's own deduplication then sees thousands of codes.
    select code_commune
    from {{ ref('stg_reu__bureaux') }}
    group by code_commune
    union
    select code_commune_results
    from {{ ref('stg_reu__bureaux') }}
    group by code_commune_results
    union
    select code_commune
    from {{ ref('stg_reu__addresses') }}
    group by code_commune
    union
    select code_commune_results
    from {{ ref('stg_reu__addresses') }}
    group by code_commune_results
    union
    select code_commune
    from {{ ref('stg_census__iris') }}
    group by code_commune
    union
    select code_commune
    from {{ ref('stg_geography__iris_bureau_weights') }}
    group by code_commune
    union
    select code_commune from {{ ref('known_communes') }}

),

results_communes as (

    -- a join, not `in (select ...)`: the planner cannot hash a union it estimates at 27 M rows
    -- and rescanned it for each results row (164 s nationally)
    select
        results_codes.code_commune,
        {{ departement_of_commune('results_codes.code_commune') }} as code_departement,
        reference.code_commune is not null as is_known
    from (select distinct code_commune from results) as results_codes
    left join reference
        on results_codes.code_commune = reference.code_commune

),

coverage as (

    select
        code_departement,
        count(*) as results_communes,
        count(*) filter (where is_known) as known_communes
    from results_communes
    group by code_departement

),

judged as (

    select
        code_departement,
        results_communes,
        known_communes
    from coverage
    where known_communes >= {{ min_coverage }} * results_communes

),

final as (

    select
        results_communes.code_departement,
        results_communes.code_commune,
        string_agg(distinct results.election_id, ', ') as elections,
        count(distinct results.bureau_id) as bureaux,
        judged.known_communes || ' of ' || judged.results_communes
        || ' communes of the results known to the reference' as coverage
    from results_communes
    inner join judged
        on results_communes.code_departement = judged.code_departement
    inner join results
        on results_communes.code_commune = results.code_commune
    where
        not results_communes.is_known
        and {{ in_campaign_territory('results.bureau_id') }}
    group by
        results_communes.code_departement,
        results_communes.code_commune,
        judged.known_communes,
        judged.results_communes

)

select * from final
