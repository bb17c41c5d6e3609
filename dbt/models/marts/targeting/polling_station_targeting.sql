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

canvass as (

    select * from {{ ref('int_canvass__bureau_opinion') }}

),

reference_canvass as (

    -- The campaign-wide reading a bureau's canvass support is compared with (relative warmth),
    -- from the bureaux with at least k_min conversations ONLY: their support figures are
    -- published anyway (canvass_bureau_opinion), so q_updated can never be inverted to recover
    -- the support of a bureau below k_min (GDPR art. 9). Campaign-wide rather than per commune:
    -- a commune with one canvassed bureau would compare the bureau with itself (no update).
    select
        sum(support_positive) as reference_support_positive,
        sum(conversations) as reference_conversations
    from canvass
    where conversations >= {{ var('k_min') }}

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
        coalesce(canvass.doors_knocked, 0) as canvass_doors_knocked,
        coalesce(canvass.conversations, 0) as canvass_conversations,
        coalesce(canvass.support_positive, 0) as canvass_support_positive,
        reference_canvass.reference_support_positive,
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
        canvass_conversations < {{ var('k_min') }} as support_suppressed,
        {{ score_persuasion('valid_votes_target') }} as persuasion,
        {{ score_registration_potential('adult_french_population_approx',
            'coalesce(registered_voters_roll, registered)') }} as registration_potential
    from assembled

),

with_q as (

    select
        *,
        {{ score_mobilisable_share('reservoir', 'intermittent_voters', 'bloc_share_high') }}
            as q_mobilisable
    from components

),

with_q_updated as (

    select
        *,
        {{ score_relative_rate_update('q_mobilisable', 'canvass_support_positive',
            'canvass_conversations', 'reference_support_positive', 'reference_conversations') }}
            as q_updated
    from with_q

),

valued as (

    select
        *,
        {{ score_net_per_conversation('q_updated', score_param('tau')) }} as net_per_conversation,
        doors * open_rate_estimate as conversations_full_canvass
    from with_q_updated

),

ranked as (

    select
        *,
        conversations_full_canvass * net_per_conversation as net_mobilisation,
        predicted_bloc_share - bloc_share_target as ecological_gap,
        {{ score_value_per_hour('open_rate_estimate', 'net_per_conversation', 'coverage') }}
            as value_per_canvasser_hour,
        {{ score_value_per_hour('open_rate_estimate', 'net_per_conversation', '0.0') }}
            as value_per_canvasser_hour_uncovered,
        net_per_conversation < 0 as do_not_mobilise
    from valued

),

final as (

    select
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
        intermittent_voters,
        reservoir,
        q_mobilisable,
        q_updated,
        net_per_conversation,
        conversations_full_canvass,
        net_mobilisation,
        persuasion,
        predicted_bloc_share,
        ecological_gap,
        registration_potential,
        canvass_doors_knocked,
        canvass_conversations,
        coverage,
        open_rate_estimate,
        open_rate_suppressed,
        support_suppressed,
        value_per_canvasser_hour,
        value_per_canvasser_hour_uncovered,
        row_number() over (
            order by value_per_canvasser_hour desc nulls last, bureau_id
        ) as targeting_rank,
        do_not_mobilise,
        {{ targeting_why() }} as why,
        '{{ var('params_version') }}' as params_version,
        ecological_fit_run_id,
        census_vintage,
        roll_reference_date,
        canvass_data_until
    from ranked

)

select * from final
