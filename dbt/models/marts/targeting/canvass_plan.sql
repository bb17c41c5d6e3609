{#-
    The volunteer plan: where the campaign's next `scores.plan_hours` canvasser-hours win the
    most expected net votes (docs/scores.md "Volunteer plan").

    Greedy allocation with diminishing returns, written as a ranking: a bureau's k-th step of
    `plan_step_hours` is worth value_per_canvasser_hour_uncovered x step x (1 - c)^gamma at the
    coverage c reached after k - 1 steps (each step knocks doors_per_canvasser_hour x step
    doors). The worth of successive steps never increases within a bureau, so taking the N best
    steps over all bureaux (ties: smallest bureau_id, then earliest step) is exactly what the
    greedy algorithm of scrutin.scores.plan.allocate_hours does step by step: `scrutin plan`
    uses that function and gives the same plan for the same hours (tested).
    Bureaux marked do_not_mobilise (NET < 0) never get hours.
-#}
{{ config(tags=['scores']) }}

{%- set s = var('scores') -%}
{%- set step = s['plan_step_hours'] -%}

with

targeting as (

    select * from {{ ref('polling_station_targeting') }}

),

eligible as (

    select
        bureau_id,
        code_commune,
        commune_name,
        code_bv,
        value_per_canvasser_hour,
        value_per_canvasser_hour_uncovered,
        least(1.0, greatest(0.0, coverage)) as coverage_before,
        -- share of the bureau's doors one step knocks
        {{ score_param('doors_per_canvasser_hour') }} * {{ step }} / doors as step_coverage
    from targeting
    where
        not do_not_mobilise
        and value_per_canvasser_hour_uncovered > 0
        and doors > 0
        and coverage < 1

),

budget as (

    select floor({{ score_param('plan_hours') }} / {{ step }} + 1e-9)::bigint as steps

),

steps as (

    -- Only the steps that can be chosen: none beyond full coverage, none beyond the budget.
    select
        eligible.bureau_id,
        step_number,
        eligible.value_per_canvasser_hour_uncovered * {{ step }}
            * {{ score_coverage_discount(
                'least(1.0, eligible.coverage_before + (step_number - 1) * eligible.step_coverage)',
                score_param('coverage_gamma')) }} as gain
    from eligible
    cross join budget
    cross join lateral generate_series(
        1,
        least(
            budget.steps,
            -- one more than needed: rounding decides, and a step at full coverage has gain 0
            ceil((1.0 - eligible.coverage_before) / eligible.step_coverage)::bigint + 1
        )
    ) as step_number

),

chosen as (

    select
        ordered.bureau_id,
        ordered.gain
    from (
        select
            bureau_id,
            gain,
            row_number() over (order by gain desc, bureau_id, step_number) as step_rank
        from steps
        where gain > 0
    ) as ordered
    cross join budget
    where ordered.step_rank <= budget.steps

),

allocated as (

    select
        bureau_id,
        count(*) as steps_given,
        sum(gain) as expected_net_votes
    from chosen
    group by bureau_id

),

final as (

    select
        -- the campaign (macros/campaign.sql): published rows are isolated by it
        {{ build_campaign_id() }} as campaign_id,
        eligible.bureau_id,
        eligible.code_commune,
        eligible.commune_name,
        eligible.code_bv,
        row_number() over (
            order by allocated.expected_net_votes desc, eligible.bureau_id
        ) as plan_rank,
        cast(allocated.steps_given * {{ step }} as double precision) as hours,
        allocated.expected_net_votes,
        eligible.coverage_before,
        least(1.0, eligible.coverage_before + allocated.steps_given * eligible.step_coverage)
            as coverage_after,
        eligible.value_per_canvasser_hour,
        '{{ var('params_version') }}' as params_version,
        {{ score_param('plan_hours') }} as plan_hours_budget
    from allocated
    inner join eligible on allocated.bureau_id = eligible.bureau_id

)

select * from final
