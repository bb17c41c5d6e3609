{#-
    The bureau universe of the campaign: every bureau the warehouse knows (from the results, the
    REU, the roll extract, the census allocation weights), with its commune, département and
    législative constituency, and whether it lies in the campaign's territory
    (ops.campaign_territory rows of var('campaign_id'); none = every bureau is in).

    Constituency at bureau level, because Brest, Paris and many towns are split between two or
    more constituencies: the code_circonscription of the bureau's latest loaded results that
    carry one (législatives and présidentielle in the 2017-2022 Ministry layouts, data.gouv
    files); else, when every bureau of its commune with a known constituency has the same one,
    that one (the commune lies in a single constituency); else unknown, and the bureau is in no
    constituency of a territory (the test assert_territory_bureaux_have_a_known_constituency
    lists such bureaux of the territory's communes).

    A table: every mart filters on it, and the universe reads national raw relations. Its
    ANALYZE hooks keep the marts' plans sane: a results file COPYed just before the gate has no
    statistics yet, the planner then estimates a handful of rows for the staging join of a
    national file and checks the territory by a nested loop over every row (minutes nationally,
    2.6 s with a hash); analysing the raw results first (and this table after, by the project's post-hook,
    macros/analyze.sql) gives it the true sizes.
-#}
{{ config(
    materialized='table',
    indexes=[{'columns': ['bureau_id']}],
    pre_hook=[
        "analyze {{ source('ingestion', 'batch_ledger') }}",
        "analyze {{ source('elections', 'election_results_bureau') }}",
        "analyze {{ source('elections', 'election_results_candidate') }}",
    ],
) }}

with

territory as (

    {{ campaign_territory_codes() }}

),

results as (

    select * from {{ ref('stg_elections__bureau_results') }}

),

elections as (

    select * from {{ ref('int_elections__registered') }}

),

universe as (

    -- each source deduplicated on its own (a hash aggregate over the 13 M national REU
    -- addresses and the roll's counts), then unioned: the union then dedups thousands of ids,
    -- not the millions a union of the raw rows made it sort
    select bureau_id
    from results
    group by bureau_id
    union
    select bureau_id
    from {{ ref('int_reu_bureau_mapping') }}
    group by bureau_id
    union
    select bureau_id
    from {{ ref('stg_reu__bureaux') }}
    group by bureau_id
    union
    select bureau_id
    from {{ ref('stg_reu__addresses') }}
    group by bureau_id
    union
    select bureau_id
    from {{ ref('stg_roll__bureau_counts') }}
    group by bureau_id
    union
    select bureau_id
    from {{ ref('stg_roll__bureau_doors') }}
    group by bureau_id
    union
    select bureau_id
    from {{ ref('stg_geography__iris_bureau_weights') }}
    group by bureau_id

),

bureau_constituencies as (

    -- The constituency number is the trailing one or two digits of the published code
    -- (`02`, `2`, or department + number in harmonised files), on two digits.
    select distinct on (results.bureau_id)
        results.bureau_id,
        {{ departement_of_commune('results.code_commune') }}
        || '-'
        || lpad(substring(results.code_circonscription from '([0-9]{1,2})$'), 2, '0')
        as constituency
    from results
    inner join elections
        on results.election_id = elections.election_id
    where substring(results.code_circonscription from '([0-9]{1,2})$') is not null
    order by
        results.bureau_id,
        coalesce(elections.election_date, make_date(elections.election_year, 1, 1)) desc,
        elections.round desc,
        results.election_id desc

),

single_constituency_communes as (

    select
        split_part(bureau_id, '_', 1) as code_commune,
        min(constituency) as constituency
    from bureau_constituencies
    group by split_part(bureau_id, '_', 1)
    having count(distinct constituency) = 1

),

located as (

    select
        universe.bureau_id,
        split_part(universe.bureau_id, '_', 1) as code_commune,
        {{ departement_of_commune("split_part(universe.bureau_id, '_', 1)") }} as code_departement,
        coalesce(
            bureau_constituencies.constituency,
            single_constituency_communes.constituency
        ) as constituency,
        case
            when bureau_constituencies.constituency is not null then 'results'
            when single_constituency_communes.constituency is not null then 'commune'
        end as constituency_source
    from universe
    left join bureau_constituencies
        on universe.bureau_id = bureau_constituencies.bureau_id
    left join single_constituency_communes
        on split_part(universe.bureau_id, '_', 1) = single_constituency_communes.code_commune
    where universe.bureau_id is not null

),

final as (

    select
        located.bureau_id,
        located.code_commune,
        located.code_departement,
        located.constituency,
        located.constituency_source,
        (
            not exists (select 1 from territory)
            or exists (
                select 1
                from territory
                where {{ territory_code_covers('territory', 'located') }}
            )
        ) as in_territory
    from located

)

select * from final
