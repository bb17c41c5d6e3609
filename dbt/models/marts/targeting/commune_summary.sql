{#-
    One row per commune: the size of its electorate, the campaign bloc's result at the target
    election, the reservoir, the canvass done so far and the volunteer plan's share, summed from
    polling_station_targeting and canvass_plan. No opinion figure: canvass counts only.
-#}
{{ config(tags=['scores']) }}

with

targeting as (

    select * from {{ ref('polling_station_targeting') }}

),

plan as (

    select * from {{ ref('canvass_plan') }}

),

best as (

    select distinct on (code_commune)
        code_commune,
        bureau_id as best_bureau_id,
        value_per_canvasser_hour as best_value_per_canvasser_hour
    from targeting
    -- a bureau worth sending someone to: never a do_not_mobilise one, never a losing value
    where value_per_canvasser_hour > 0 and not do_not_mobilise
    order by code_commune, targeting_rank

),

planned as (

    select
        code_commune,
        sum(hours) as plan_hours,
        sum(expected_net_votes) as plan_expected_net_votes
    from plan
    group by code_commune

),

summed as (

    select
        code_commune,
        max(commune_name) as commune_name,
        count(*) as bureaux,
        count(value_per_canvasser_hour) as bureaux_scored,
        count(*) filter (where do_not_mobilise) as bureaux_do_not_mobilise,
        sum(registered) as registered,
        sum(valid_votes_target) as valid_votes_target,
        sum(bloc_share_target * valid_votes_target) as bloc_votes_target,
        sum(intermittent_voters) as intermittent_voters,
        sum(reservoir) as reservoir,
        sum(doors) as doors,
        sum(canvass_doors_knocked) as canvass_doors_knocked,
        sum(canvass_conversations) as canvass_conversations,
        min(params_version) as params_version
    from targeting
    group by code_commune

),

final as (

    select
        -- the campaign (macros/campaign.sql): published rows are isolated by it
        {{ build_campaign_id() }} as campaign_id,
        summed.code_commune,
        summed.commune_name,
        summed.bureaux,
        summed.bureaux_scored,
        summed.bureaux_do_not_mobilise,
        summed.registered,
        summed.valid_votes_target,
        summed.bloc_votes_target,
        summed.bloc_votes_target / nullif(summed.valid_votes_target, 0) as bloc_share_target,
        summed.intermittent_voters,
        summed.reservoir,
        summed.doors,
        summed.canvass_doors_knocked,
        summed.canvass_conversations,
        least(1.0, summed.canvass_doors_knocked / nullif(summed.doors, 0)) as coverage,
        best.best_bureau_id,
        best.best_value_per_canvasser_hour,
        coalesce(planned.plan_hours, 0) as plan_hours,
        coalesce(planned.plan_expected_net_votes, 0) as plan_expected_net_votes,
        summed.params_version
    from summed
    left join best on summed.code_commune = best.code_commune
    left join planned on summed.code_commune = planned.code_commune

)

select * from final
