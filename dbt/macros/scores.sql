{#-
    The score formulas of DESIGN.md "Scores", one macro each, as SQL expressions.

    They mirror scrutin/scores/formulas.py line for line (the Python functions are the reference:
    tests/e2e/test_scores_pipeline.py::test_components_match_the_python_reference_formulas checks
    both on every row of the sample, and the targeting model's unit tests check them on
    hand-computed rows). Every macro is null-safe in the same way:
    a missing input gives NULL, never a silent 0 (PostgreSQL's greatest/least ignore NULLs, so
    each macro tests its inputs first).
-#}

{% macro score_param(name) -%}
    {#- A score parameter as a SQL literal (numbers as double precision, text quoted). -#}
    {%- set value = var('scores')[name] -%}
    {%- if value is string -%}
        '{{ value | replace("'", "''") }}'
    {%- else -%}
        cast({{ value }} as double precision)
    {%- endif -%}
{%- endmacro %}

{% macro score_intermittent_voters(voters_high, voters_low) -%}
    {#- INT = V_h - V_l (not clipped: a negative INT is information) -#}
    ({{ voters_high }} - {{ voters_low }})
{%- endmacro %}

{% macro score_reservoir(bloc_votes_high, bloc_votes_low) -%}
    {#- RES = max(0, S_h - S_l) -#}
    (case
        when {{ bloc_votes_high }} is null or {{ bloc_votes_low }} is null then null
        else greatest(0.0, cast({{ bloc_votes_high }} - {{ bloc_votes_low }} as double precision))
    end)
{%- endmacro %}

{% macro score_net_margin(q_bloc, q_rival) -%}
    {#- q_bloc - q_rival: net votes one more mobilised voter brings (<= 0: do not mobilise) -#}
    ({{ q_bloc }} - {{ q_rival }})
{%- endmacro %}

{% macro score_net_per_conversation(margin, tau) -%}
    {#- tau x margin -#}
    ({{ tau }} * {{ margin }})
{%- endmacro %}

{% macro score_pedersen(left_relation, right_relation) -%}
    {#- 1/2 x sum over the blocs of |share at one election - share at the other| (null if any is) -#}
    (0.5 * (
        {%- for bloc in var('blocs') %}
        abs({{ left_relation }}.share_{{ bloc }} - {{ right_relation }}.share_{{ bloc }}){{ ' +' if not loop.last }}
        {%- endfor %}
    ))
{%- endmacro %}

{% macro score_coverage_discount(coverage, gamma) -%}
    {#- (1 - coverage)^gamma, and 0 at full coverage whatever gamma -#}
    (case
        when {{ coverage }} is null then null
        when {{ coverage }} >= 1.0 then 0.0
        else power(1.0 - greatest(0.0, {{ coverage }}), {{ gamma }})
    end)
{%- endmacro %}

{% macro score_value_per_hour(open_rate, net_per_conversation, persuadable_share, coverage) -%}
    {#- doors/hour x open rate x (net + persuasion per conversation) x coverage discount -#}
    ({{ score_param('doors_per_canvasser_hour') }} * {{ open_rate }}
        * ({{ net_per_conversation }}
            + {{ persuadable_share }} * {{ score_param('pi') }})
        * {{ score_coverage_discount(coverage, score_param('coverage_gamma')) }})
{%- endmacro %}

{% macro score_beta_update(prior, successes, trials) -%}
    {#- (kappa x prior + successes) / (kappa + trials); the prior alone below k_min trials -#}
    (case
        when {{ prior }} is null then null
        when coalesce({{ trials }}, 0) < {{ var('k_min') }} then {{ prior }}
        else ({{ score_param('kappa') }} * {{ prior }} + {{ successes }})
            / ({{ score_param('kappa') }} + {{ trials }})
    end)
{%- endmacro %}

{% macro score_relative_rate_update(prior, successes, trials, reference_successes, reference_trials) -%}
    {#-
        The prior moved toward prior x (bureau rate / reference rate), clipped to [0, 1], with the
        bureau's trials as the evidence's weight; the prior alone below k_min trials or when
        the reference rate is 0 (no information). The caller chooses the reference; it must be
        built from published figures only (see polling_station_targeting: k_min).
    -#}
    (case
        when {{ prior }} is null then null
        when coalesce({{ trials }}, 0) < {{ var('k_min') }} then {{ prior }}
        when coalesce({{ reference_trials }}, 0) <= 0 or coalesce({{ reference_successes }}, 0) <= 0
            then {{ prior }}
        else ({{ score_param('kappa') }} * {{ prior }}
            + {{ trials }} * least(1.0, greatest(0.0,
                {{ prior }} * ((cast({{ successes }} as double precision) / {{ trials }})
                    / (cast({{ reference_successes }} as double precision) / {{ reference_trials }})))))
            / ({{ score_param('kappa') }} + {{ trials }})
    end)
{%- endmacro %}

{% macro score_persuasion(valid_votes, persuadable_share) -%}
    {#- PERS = X x persuadable share x pi -#}
    ({{ valid_votes }} * {{ persuadable_share }} * {{ score_param('pi') }})
{%- endmacro %}

{% macro score_registration_potential(adult_french_population, registered) -%}
    {#- max(0, adult French population - registered) -#}
    (case
        when {{ adult_french_population }} is null or {{ registered }} is null then null
        else greatest(0.0, {{ adult_french_population }} - {{ registered }})
    end)
{%- endmacro %}

{% macro targeting_why() -%}
    {#-
        The `why` sentence of polling_station_targeting, from the row's own components; the
        same wording as scrutin.scores.formulas.why_sentence (checked by a test on every row).
    -#}
    {%- set s = var('scores') -%}
    (case
        when net_margin is null or persuadable_share is null then
            'Not scored: the bureau has no results for {{ s['high_salience_election'] }} and '
            || '{{ s['low_salience_election'] }} (both are needed for the bloc shares and '
            || 'the volatility).'
        else concat_ws('; ',
            '{{ s['bloc'] }} ' || to_char(round(cast(q_updated as numeric), 2), 'FM0.00')
                || ' vs ' || rival_bloc || ' '
                || to_char(round(cast(rival_share_updated as numeric), 2), 'FM0.00')
                || ' (its rival) among the voters of {{ s['high_salience_election'] }}',
            case
                when net_margin > 0
                    then 'a mobilised voter nets '
                        || to_char(round(cast(net_margin as numeric), 2), 'FM0.00') || ' votes'
                else 'do not mobilise: {{ s['bloc'] }} does not lead ' || rival_bloc
                    || ' here, so turning voters out helps the rival'
            end,
            'persuadable share ' || to_char(round(cast(persuadable_share as numeric), 2), 'FM0.00')
                || ' (' || case
                    when support_suppressed then 'volatility'
                    else 'volatility and canvass undecided'
                end || '), so a conversation wins '
                || to_char(round(cast(persuasion_per_conversation as numeric), 3), 'FM0.000')
                || ' votes by persuasion'
                || case
                    when net_margin > 0
                        then ' and '
                            || to_char(round(cast(net_per_conversation as numeric), 3), 'FM0.000')
                            || ' by mobilisation'
                    else ''
                end
                || ' (prior profile {{ s['profile'] }})',
            cast(round(cast(coverage * 100 as numeric)) as bigint) || '% of doors already covered',
            case
                when registration_potential >= 1
                    then 'about ' || cast(round(cast(registration_potential as numeric)) as bigint)
                        || ' adult French residents not registered'
            end,
            case
                when support_suppressed
                    then 'canvass feedback hidden (fewer than k_min answers)'
            end
        ) || '.'
    end)
{%- endmacro %}
