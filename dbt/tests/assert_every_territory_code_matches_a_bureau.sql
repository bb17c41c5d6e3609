-- Every code of the campaign's territory (ops.campaign_territory rows of var('campaign_id'))
-- matches at least one bureau the warehouse knows: a typo (29-20), a commune whose files are
-- not loaded, or a constituency no loaded results file locates would otherwise publish a
-- smaller territory than the campaign declared, or empty marts. Returns each unmatched code with
-- the reason; the gate refuses the publication.
{{ config(store_failures=true, schema='ops') }}

with

territory as (

    {{ campaign_territory_codes() }}

),

bureaux as (

    select * from {{ ref('int_territory__bureaux') }}

),

located_constituencies as (

    select count(*) as bureaux
    from bureaux
    where constituency is not null

),

unmatched as (

    select
        territory.kind,
        territory.code,
        case
            when territory.kind = 'constituency' and located_constituencies.bureaux = 0
                then
                    'no loaded results carry a constituency code (législatives or présidentielle '
                    || 'in a 2017-2022 Ministry layout or a data.gouv file): load one'
            else 'no loaded bureau (results, REU, roll, census weights) lies there'
        end as reason
    from territory
    cross join located_constituencies
    where not exists (
        select 1
        from bureaux
        where {{ territory_code_covers('territory', 'bureaux') }}
    )

)

select * from unmatched
