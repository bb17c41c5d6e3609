{#- JIT off, as for int_bureau_history__by_election: its compilation costs more than it saves. -#}
{{ config(pre_hook="set local jit = off") }}

{%- set age_columns = [] -%}
{%- for band in var('roll_age_bands') -%}
    {%- do age_columns.append((band, 'age_' ~ band | replace('-', '_') | replace('+', '_plus'))) -%}
{%- endfor -%}

with

history as (

    select * from {{ ref('int_bureau_history__by_election') }}

),

mapping as (

    select * from {{ ref('int_reu_bureau_mapping') }}

),

reu_bureaux as (

    select * from {{ ref('stg_reu__bureaux') }}

),

reu_addresses as (

    select * from {{ ref('stg_reu__addresses') }}

),

roll_counts as (

    select * from {{ ref('stg_roll__bureau_counts') }}

),

roll_doors as (

    select * from {{ ref('stg_roll__bureau_doors') }}

),

reu_key_to_bureau as (

    -- The REU and the roll store a bureau under the key derived from its REU code; the
    -- mapping says which Ministry bureau that is (they differ in Paris, Lyon, Marseille or
    -- when INSEE publishes another Ministry key). A key absent from the REU stays as it is.
    select
        reu_bureau_id,
        bureau_id
    from mapping
    where reu_bureau_id is not null

),

address_sums as (

    -- summed per REU bureau first: a hash aggregate of the 13 M national addresses into
    -- ~65,000 rows; joining the mapping to every address sorted them all (17 s nationally)
    select
        bureau_id,
        sum(addresses) as addresses
    from reu_addresses
    group by bureau_id

),

address_totals as (

    select
        coalesce(reu_key_to_bureau.bureau_id, address_sums.bureau_id) as bureau_id,
        cast(sum(address_sums.addresses) as integer) as reu_addresses
    from address_sums
    left join reu_key_to_bureau
        on address_sums.bureau_id = reu_key_to_bureau.reu_bureau_id
    group by coalesce(reu_key_to_bureau.bureau_id, address_sums.bureau_id)

),

roll_totals as (

    -- Registered voters and their age and sex profile come from the principal list (LP), the
    -- one every election uses and the Ministry's `inscrits` counts at législatives and
    -- présidentielles. EU citizens' complementary lists are counted apart: one person can be
    -- on both, so adding them would count people twice.
    select
        coalesce(reu_key_to_bureau.bureau_id, roll_counts.bureau_id) as bureau_id,
        max(roll_counts.reference_date) as roll_reference_date,
        cast(coalesce(sum(roll_counts.electors) filter (
            where roll_counts.list_type = 'LP'
        ), 0) as integer) as registered_voters_roll,
        cast(coalesce(sum(roll_counts.electors) filter (
            where roll_counts.list_type = 'LCM'
        ), 0) as integer) as eu_citizens_municipal_roll,
        cast(coalesce(sum(roll_counts.electors) filter (
            where roll_counts.list_type = 'LCE'
        ), 0) as integer) as eu_citizens_european_roll,
        {%- for band, column in age_columns %}
        coalesce(sum(roll_counts.electors) filter (
            where roll_counts.list_type = 'LP' and roll_counts.age_band = '{{ band }}'
        ), 0) as electors_{{ column }},
        {%- endfor %}
        coalesce(sum(roll_counts.electors) filter (
            where roll_counts.list_type = 'LP' and roll_counts.sex = 'F'
        ), 0) as electors_female,
        coalesce(sum(roll_counts.electors) filter (
            where roll_counts.list_type = 'LP' and roll_counts.sex = 'M'
        ), 0) as electors_male
    from roll_counts
    left join reu_key_to_bureau
        on roll_counts.bureau_id = reu_key_to_bureau.reu_bureau_id
    group by coalesce(reu_key_to_bureau.bureau_id, roll_counts.bureau_id)

),

door_totals as (

    select
        coalesce(reu_key_to_bureau.bureau_id, roll_doors.bureau_id) as bureau_id,
        cast(sum(roll_doors.doors) as integer) as doors
    from roll_doors
    left join reu_key_to_bureau
        on roll_doors.bureau_id = reu_key_to_bureau.reu_bureau_id
    group by coalesce(reu_key_to_bureau.bureau_id, roll_doors.bureau_id)

),

ranked_elections as (

    -- The latest election of each bureau: by date (an unregistered election counts as 1
    -- January of its year), then round, then id so ties (départementales and régionales on the
    -- same Sunday) are broken the same way every time.
    select
        history.*,
        row_number() over (
            partition by history.bureau_id
            order by
                coalesce(history.election_date, make_date(history.election_year, 1, 1)) desc,
                history.round desc,
                history.election_id desc
        ) as recency_rank
    from history

),

latest_election as (

    select * from ranked_elections
    where recency_rank = 1

),

reu_names as (

    select
        mapping.bureau_id,
        reu_bureaux.polling_place_commune
    from mapping
    inner join reu_bureaux
        on mapping.reu_bureau_id = reu_bureaux.bureau_id

),

all_bureaux as (

    select bureau_id from history
    union
    select bureau_id from mapping
    union
    select bureau_id from address_totals
    union
    select bureau_id from roll_totals
    union
    select bureau_id from door_totals

),

final as (

    select
        all_bureaux.bureau_id,
        coalesce(
            latest_election.code_commune,
            mapping.code_commune,
            split_part(all_bureaux.bureau_id, '_', 1)
        ) as code_commune,
        coalesce(latest_election.commune_name, reu_names.polling_place_commune) as commune_name,
        coalesce(latest_election.code_bv, split_part(all_bureaux.bureau_id, '_', 2)) as code_bv,
        roll_totals.registered_voters_roll,
        roll_totals.eu_citizens_municipal_roll,
        roll_totals.eu_citizens_european_roll,
        door_totals.doors,
        address_totals.reu_addresses,
        mapping.match_status as reu_match_status,
        latest_election.election_id as latest_election_id,
        latest_election.election_date as latest_election_date,
        latest_election.registered as latest_registered,
        latest_election.turnout as latest_turnout,
        roll_totals.roll_reference_date,
        {%- for band, column in age_columns %}
        cast(roll_totals.electors_{{ column }} as double precision)
            / nullif(roll_totals.registered_voters_roll, 0) as share_{{ column }},
        {%- endfor %}
        cast(roll_totals.electors_female as double precision)
            / nullif(roll_totals.registered_voters_roll, 0) as share_female,
        cast(roll_totals.electors_male as double precision)
            / nullif(roll_totals.registered_voters_roll, 0) as share_male
    from all_bureaux
    left join latest_election
        on all_bureaux.bureau_id = latest_election.bureau_id
    left join mapping
        on all_bureaux.bureau_id = mapping.bureau_id
    left join reu_names
        on all_bureaux.bureau_id = reu_names.bureau_id
    left join roll_totals
        on all_bureaux.bureau_id = roll_totals.bureau_id
    left join door_totals
        on all_bureaux.bureau_id = door_totals.bureau_id
    left join address_totals
        on all_bureaux.bureau_id = address_totals.bureau_id

)

{{ select_in_campaign_territory('final') }}
