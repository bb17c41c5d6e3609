{#-
    Fails for every row whose bloc shares (one `share_<bloc>` column per entry of the var
    `blocs`) add up to more than 1 + `tolerance`: the blocs of a bureau cannot hold more votes
    than its valid votes. Rows without a valid vote (all shares null) pass.
-#}
{% test bloc_shares_sum_at_most_one(model, tolerance=1e-9) %}

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
where share_sum > 1 + {{ tolerance }}

{% endtest %}
