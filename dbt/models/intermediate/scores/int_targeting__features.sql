{#-
    What the ecological regression is fitted on: for every bureau with results at the target
    election, its bloc share there (`actual_share`), its valid votes (`weight`) and its census
    profile (`feature_*`: shares of the allocated census, published in bureau_demographics).

    scrutin.scores.fit_step reads this table between the two dbt builds of the gate (the
    targeting marts are built after it), fits the regression on the complete rows and writes the
    predictions to scores.ecological_predictions. Any column named `feature_*` is a regressor:
    adding one here adds it to the model, with no Python change.

    A table, not a view: a view would bind to the mart_audit table it reads, which the publish
    step renames to mart (and later drops as mart_prev).
-#}
{{ config(materialized='table') }}

{%- set bloc = var('scores')['bloc'] -%}
{%- set features = [
    'share_pcs_executives', 'share_pcs_workers', 'share_pcs_retired', 'share_diploma_higher',
    'share_owners', 'share_social_renters', 'share_foreigners', 'share_age_15_29',
] -%}

with

target as (

    select * from {{ ref('int_bureau_history__by_election') }}
    where election_id = '{{ var('scores')['target_election'] }}'

),

demographics as (

    select * from {{ ref('bureau_demographics') }}

),

final as (

    select
        target.bureau_id,
        target.code_commune,
        cast(target.valid_votes as double precision) as weight,
        target.share_{{ bloc }} as actual_share,
        {%- for feature in features %}
        demographics.{{ feature }} as feature_{{ feature }}{{ ',' if not loop.last }}
        {%- endfor %}
    from target
    left join demographics
        on target.bureau_id = demographics.bureau_id

)

{{ select_in_campaign_territory('final') }}
