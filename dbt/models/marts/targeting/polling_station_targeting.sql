{#-
    Where door-to-door canvassing wins the most net votes per volunteer hour, and why: one row
    per polling station (every bureau of polling_stations), every score component of
    DESIGN.md "Scores" in its own column, the canvass-updated estimates, the suppression flags,
    a `why` sentence, the parameters' version and the data vintages. Formulas: macros/scores.sql
    (mirrors scrutin/scores/formulas.py); meaning and limits: docs/scores.md.

    Built in the gate's second dbt build (tag `scores`), after scrutin.scores.fit_step has
    written the ecological predictions.
-#}
{{ config(tags=['scores']) }}

{%- set s = var('scores') -%}
{%- set bloc = s['bloc'] -%}
{%- set rival = s.get('rival', 'strongest_other') -%}

with

stations as (

    select * from {{ ref('polling_stations') }}

),

demographics as (

    select * from {{ ref('bureau_demographics') }}

),

history as (

    select * from {{ ref('int_bureau_history__by_election') }}
    where election_id in (
        '{{ s['target_election'] }}',
        '{{ s['high_salience_election'] }}',
        '{{ s['low_salience_election'] }}'
    )

),

target as (

    select * from history
    where election_id = '{{ s['target_election'] }}'

),

high as (

    select * from history
    where election_id = '{{ s['high_salience_election'] }}'

),

low as (

    select * from history
    where election_id = '{{ s['low_salience_election'] }}'

),

high_blocs as (

    -- The high-salience election's bloc shares and votes, one row per bureau and bloc, with
    -- the bloc's position in vars.blocs (ties between rivals go to the bloc listed first).
    select
        high.bureau_id,
        blocs.bloc,
        blocs.bloc_order,
        blocs.bloc_share,
        blocs.bloc_votes
    from high
    cross join lateral (
        values
        {%- for b in var('blocs') %}
            ('{{ b }}', {{ loop.index }}, high.share_{{ b }}, high.votes_{{ b }})
            {{- ',' if not loop.last }}
        {%- endfor %}
    ) as blocs (bloc, bloc_order, bloc_share, bloc_votes)

),

{% if rival == 'strongest_other' -%}
rivals as (

    -- rival `strongest_other`: the bureau's strongest other bloc at h
    select distinct on (bureau_id)
        bureau_id,
        bloc as rival_bloc
    from high_blocs
    where bloc <> '{{ bloc }}'
    order by bureau_id, coalesce(bloc_share, 0.0) desc, bloc_order

),
{%- elif rival == 'runoff_opponent' -%}
territory_blocs as (

    -- the territory's votes per bloc at h (the bureaux of polling_stations: the territory)
    select
        high_blocs.bloc,
        high_blocs.bloc_order,
        sum(coalesce(high_blocs.bloc_votes, 0)) as territory_votes
    from high_blocs
    inner join stations on high_blocs.bureau_id = stations.bureau_id
    group by high_blocs.bloc, high_blocs.bloc_order

),

ranked_blocs as (

    select
        bloc,
        row_number() over (order by territory_votes desc, bloc_order) as bloc_rank
    from territory_blocs

),

runoff as (

    -- rival `runoff_opponent`: the other of the two strongest blocs, or the strongest when the
    -- campaign's bloc is not in the top two
    select
        case
            when exists (
                select 1 from ranked_blocs where bloc = '{{ bloc }}' and bloc_rank <= 2
            )
                then (
                    select bloc from ranked_blocs where bloc_rank <= 2 and bloc <> '{{ bloc }}'
                )
            else (select bloc from ranked_blocs where bloc_rank = 1)
        end as rival_bloc

),

rivals as (

    select
        high.bureau_id,
        runoff.rival_bloc
    from high
    cross join runoff

),
{%- else -%}
rivals as (

    -- rival: the bloc named in the campaign file
    select
        high.bureau_id,
        '{{ rival }}' as rival_bloc
    from high

),
{%- endif %}

rival_shares as (

    select
        rivals.bureau_id,
        rivals.rival_bloc,
        high_blocs.bloc_share as rival_share_high,
        high_blocs.bloc_votes as rival_votes_high
    from rivals
    inner join high_blocs
        on
            rivals.bureau_id = high_blocs.bureau_id
            and rivals.rival_bloc = high_blocs.bloc

),

volatility as (

    -- the Pedersen index of the bloc shares between the two reference elections
    select
        high.bureau_id,
        {{ score_pedersen('high', 'low') }} as volatility_pedersen
    from high
    inner join low on high.bureau_id = low.bureau_id

),

canvass as (

    select * from {{ ref('int_canvass__bureau_opinion') }}

),

reference_canvass as (

    -- The campaign-wide reading a bureau's canvass support is compared with (relative warmth),
    -- from the published steps of the bureaux with at least k_min support answers ONLY: their
    -- support figures are published anyway (canvass_bureau_opinion), so q_updated can never be
    -- inverted to recover the support of a bureau below k_min, nor an answer outside a published
    -- step (GDPR art. 9, docs/privacy.md). Campaign-wide rather than per commune: a commune with
    -- one canvassed bureau would compare the bureau with itself (no update).
    select
        sum(support_positive) as reference_support_positive,
        sum(support_negative) as reference_support_negative,
        sum(support_answers) as reference_conversations
    from canvass
    where support_answers >= {{ var('k_min') }}

),

predictions as (

    select * from {{ source('scores', 'ecological_predictions') }}

),

reu_places as (

    select distinct on (mapping.bureau_id)
        mapping.bureau_id,
        reu.polling_place_name
    from {{ ref('int_reu_bureau_mapping') }} as mapping
    inner join {{ ref('stg_reu__bureaux') }} as reu
        on mapping.reu_bureau_id = reu.bureau_id
    where mapping.match_status = 'matched'
    order by mapping.bureau_id, reu.polling_place_name

),

assembled as (

    select
        stations.bureau_id,
        stations.code_commune,
        stations.commune_name,
        stations.code_bv,
        reu_places.polling_place_name,
        target.registered,
        stations.registered_voters_roll,
        -- Doors in the canvassing sense, one per household: the census households allocated to
        -- the bureau; the roll's distinct addresses (one per building) only without a census.
        cast(coalesce(demographics.households, stations.doors) as double precision) as doors,
        case
            when demographics.households is not null then 'census_households'
            when stations.doors is not null then 'roll_addresses'
        end as doors_source,
        demographics.share_pcs_executives,
        demographics.share_pcs_workers,
        demographics.share_pcs_retired,
        demographics.share_diploma_higher,
        demographics.share_owners,
        demographics.share_social_renters,
        demographics.share_foreigners,
        demographics.median_income_approx,
        demographics.adult_french_population_approx,
        target.turnout as turnout_target,
        target.valid_votes as valid_votes_target,
        target.share_{{ bloc }} as bloc_share_target,
        high.voters as voters_high,
        low.voters as voters_low,
        high.turnout as turnout_high,
        low.turnout as turnout_low,
        high.votes_{{ bloc }} as bloc_votes_high,
        low.votes_{{ bloc }} as bloc_votes_low,
        high.share_{{ bloc }} as bloc_share_high,
        rival_shares.rival_bloc,
        rival_shares.rival_votes_high,
        rival_shares.rival_share_high,
        volatility.volatility_pedersen,
        coalesce(canvass.doors_knocked, 0) as canvass_doors_knocked,
        coalesce(canvass.conversations, 0) as canvass_conversations,
        -- the published step of support answers: the support estimates' only evidence
        coalesce(canvass.support_answers, 0) as canvass_support_answers,
        coalesce(canvass.support_positive, 0) as canvass_support_positive,
        coalesce(canvass.support_neutral, 0) as canvass_support_neutral,
        coalesce(canvass.support_negative, 0) as canvass_support_negative,
        reference_canvass.reference_support_positive,
        reference_canvass.reference_support_negative,
        reference_canvass.reference_conversations,
        canvass.last_knocked_on as canvass_data_until,
        predictions.predicted_share as predicted_bloc_share,
        predictions.fit_run_id as ecological_fit_run_id,
        demographics.census_vintage,
        stations.roll_reference_date
    from stations
    left join demographics on stations.bureau_id = demographics.bureau_id
    left join target on stations.bureau_id = target.bureau_id
    left join high on stations.bureau_id = high.bureau_id
    left join low on stations.bureau_id = low.bureau_id
    left join rival_shares on stations.bureau_id = rival_shares.bureau_id
    left join volatility on stations.bureau_id = volatility.bureau_id
    left join canvass on stations.bureau_id = canvass.bureau_id
    cross join reference_canvass
    left join predictions on stations.bureau_id = predictions.bureau_id
    left join reu_places on stations.bureau_id = reu_places.bureau_id

),

components as (

    select
        *,
        {{ score_intermittent_voters('voters_high', 'voters_low') }} as intermittent_voters,
        {{ score_reservoir('bloc_votes_high', 'bloc_votes_low') }} as reservoir,
        case
            when doors > 0 then least(1.0, canvass_doors_knocked / doors)
            else 0.0
        end as coverage,
        {{ score_beta_update(score_param('open_rate_prior'), 'canvass_conversations',
            'canvass_doors_knocked') }} as open_rate_estimate,
        canvass_doors_knocked < {{ var('k_min') }} as open_rate_suppressed,
        canvass_support_answers < {{ var('k_min') }} as support_suppressed,
        {{ score_registration_potential('adult_french_population_approx',
            'coalesce(registered_voters_roll, registered)') }} as registration_potential
    from assembled

),

with_q as (

    -- The mobilised voters are assumed to vote like the bureau's voters at h (the bloc's and
    -- the rival's shares there); scored only where both reference elections have results.
    select
        *,
        case when volatility_pedersen is not null then bloc_share_high end as q_mobilisable,
        case when volatility_pedersen is not null then rival_share_high end as rival_share_prior
    from components

),

with_q_updated as (

    -- The canvass moves both shares by the bureau's warmth relative to the campaign (positive
    -- answers for the bloc, negative ones for the rival) and the persuadable share by the
    -- undecided answers, each only from the published step of support answers (k_min or more).
    select
        *,
        {{ score_relative_rate_update('q_mobilisable', 'canvass_support_positive',
            'canvass_support_answers', 'reference_support_positive', 'reference_conversations') }}
            as q_updated,
        {{ score_relative_rate_update('rival_share_prior', 'canvass_support_negative',
            'canvass_support_answers', 'reference_support_negative', 'reference_conversations') }}
            as rival_share_updated,
        {{ score_beta_update('volatility_pedersen', 'canvass_support_neutral',
            'canvass_support_answers') }} as persuadable_share
    from with_q

),

valued as (

    select
        *,
        {{ score_net_margin('q_updated', 'rival_share_updated') }} as net_margin,
        {{ score_net_per_conversation(score_net_margin('q_updated', 'rival_share_updated'),
            score_param('tau')) }} as net_per_conversation,
        persuadable_share * {{ score_param('pi') }} as persuasion_per_conversation,
        {{ score_persuasion('valid_votes_target', 'persuadable_share') }} as persuasion,
        doors * open_rate_estimate as conversations_full_canvass
    from with_q_updated

),

ranked as (

    select
        *,
        conversations_full_canvass * net_per_conversation as net_mobilisation,
        predicted_bloc_share - bloc_share_target as ecological_gap,
        {{ score_value_per_hour('open_rate_estimate', 'net_per_conversation',
            'persuadable_share', 'coverage') }}
            as value_per_canvasser_hour,
        {{ score_value_per_hour('open_rate_estimate', 'net_per_conversation',
            'persuadable_share', '0.0') }}
            as value_per_canvasser_hour_uncovered,
        net_margin <= 0 as do_not_mobilise
    from valued

),

mapped as (

    -- the bureau's map centroid (bureau_map), so that the map card reads one table in rank order
    select
        ranked.*,
        map_points.latitude,
        map_points.longitude,
        map_points.geometry_source as map_geometry_source
    from ranked
    left join {{ ref('bureau_map') }} as map_points
        on ranked.bureau_id = map_points.bureau_id

),

final as (

    select
        -- the campaign (macros/campaign.sql): published rows are isolated by it
        {{ build_campaign_id() }} as campaign_id,
        bureau_id,
        code_commune,
        commune_name,
        code_bv,
        polling_place_name,
        registered,
        registered_voters_roll,
        doors,
        doors_source,
        share_pcs_executives,
        share_pcs_workers,
        share_pcs_retired,
        share_diploma_higher,
        share_owners,
        share_social_renters,
        share_foreigners,
        median_income_approx,
        adult_french_population_approx,
        {{ score_param('bloc') }} as bloc,
        {{ score_param('target_election') }} as target_election_id,
        {{ score_param('high_salience_election') }} as high_salience_election_id,
        {{ score_param('low_salience_election') }} as low_salience_election_id,
        turnout_target,
        valid_votes_target,
        bloc_share_target,
        voters_high,
        voters_low,
        turnout_high,
        turnout_low,
        bloc_votes_high,
        bloc_votes_low,
        bloc_share_high,
        {{ score_param('rival') }} as rival_rule,
        {{ score_param('profile') }} as prior_profile,
        rival_bloc,
        rival_votes_high,
        rival_share_high,
        intermittent_voters,
        reservoir,
        q_mobilisable,
        q_updated,
        rival_share_updated,
        net_margin,
        net_per_conversation,
        conversations_full_canvass,
        net_mobilisation,
        volatility_pedersen,
        persuadable_share,
        persuasion_per_conversation,
        persuasion,
        predicted_bloc_share,
        ecological_gap,
        registration_potential,
        canvass_doors_knocked,
        canvass_conversations,
        canvass_support_answers,
        coverage,
        open_rate_estimate,
        open_rate_suppressed,
        support_suppressed,
        value_per_canvasser_hour,
        value_per_canvasser_hour_uncovered,
        -- Unscored bureaux (no value) get no rank; do_not_mobilise bureaux rank after every
        -- bureau the plan may send volunteers to.
        case
            when value_per_canvasser_hour is not null then row_number() over (
                order by
                    value_per_canvasser_hour is null,
                    do_not_mobilise,
                    value_per_canvasser_hour desc,
                    bureau_id
            )
        end as targeting_rank,
        do_not_mobilise,
        {{ targeting_why() }} as why,
        '{{ var('params_version') }}' as params_version,
        ecological_fit_run_id,
        census_vintage,
        roll_reference_date,
        canvass_data_until,
        latitude,
        longitude,
        map_geometry_source
    from mapped

)

select * from final
