-- Volume against the previous publication: an election already published may not lose a bureau.
-- A results file cut at a line boundary replaces its election whole (the loader's scope is the
-- election), so 201 bureaux became 100 and were published; no other check could tell, every row
-- left being valid. Returns one row per election that lost bureaux of the campaign's territory
-- since the publication in `mart` (the schema the gate swaps out; var previous_publication_schema),
-- with the counts and the first lost bureaux; the gate refuses the publication and names them.
--
-- What passes: a territory that no longer holds a bureau (the campaign file changed: the bureau
-- is known and marked outside by int_territory__bureaux), a bureau published for an election
-- whose id is in var('accepted_bureau_losses') (`scrutin build --accept-bureau-loss <election>`,
-- a legitimate correction: the Ministry merged or renumbered bureaux, a wrong file is withdrawn),
-- and the first publication (no `mart` yet). docs/quality.md states the rule.
{{ config(store_failures=true, schema='ops') }}

{%- set previous = none -%}
{%- if execute -%}
    {%- set previous = adapter.get_relation(
        database=target.database,
        schema=var('previous_publication_schema', 'mart'),
        identifier='polling_station_results',
    ) -%}
{%- endif -%}
{%- set accepted = var('accepted_bureau_losses', []) %}

with

audited as (

    select
        election_id,
        bureau_id
    from {{ ref('polling_station_results') }}

),

published as (

    select
        election_id,
        bureau_id
    {%- if previous is none %}
    from audited
    where false  -- the first publication: nothing to compare with
    {%- else %}
    from {{ previous }}
    {%- endif %}

),

published_elections as (

    select
        election_id,
        count(*) as published_bureaux
    from published
    group by election_id

),

lost as (

    select
        published.election_id,
        published.bureau_id
    from published
    where
        not exists (
            select 1
            from audited
            where
                audited.election_id = published.election_id
                and audited.bureau_id = published.bureau_id
        )
        and not {{ outside_campaign_territory('published.bureau_id') }}
        {%- if accepted %}
        and published.election_id not in (
            {%- for election_id in accepted %}
            '{{ election_id | replace("'", "''") }}'{{ "," if not loop.last }}
            {%- endfor %}
        )
        {%- endif %}

),

ranked as (

    select
        election_id,
        bureau_id,
        row_number() over (partition by election_id order by bureau_id) as bureau_rank
    from lost

),

final as (

    select
        ranked.election_id,
        published_elections.published_bureaux,
        count(*) as lost_bureaux,
        string_agg(ranked.bureau_id, ', ' order by ranked.bureau_id)
            filter (where ranked.bureau_rank <= 5) as first_lost_bureaux
    from ranked
    inner join published_elections
        on ranked.election_id = published_elections.election_id
    group by
        ranked.election_id,
        published_elections.published_bureaux

)

select * from final
