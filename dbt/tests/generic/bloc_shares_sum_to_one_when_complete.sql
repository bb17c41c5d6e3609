{#-
    Fails for every row whose bloc shares do not add up to 1 within `tolerance` although they
    should: the bureau has valid votes, every candidate's nuance mapped to a bloc
    (`unmapped_votes` = 0) and the candidates' votes add up to the valid votes. A bureau where
    they do not add up is the job of assert_nuance_votes_sum_to_valid_votes, not of this test.
-#}
{% test bloc_shares_sum_to_one_when_complete(model, tolerance=1e-9) %}

with

summed as (

    select
        *,
        {% for bloc in var('blocs') -%}
        coalesce(share_{{ bloc }}, 0){{ ' +' if not loop.last }}
        {% endfor -%}
        as share_sum
    from {{ model }}

)

select *
from summed
where
    valid_votes > 0
    and unmapped_votes = 0
    and candidate_votes = valid_votes
    and abs(share_sum - 1) > {{ tolerance }}

{% endtest %}
