{#-
    Fails for every group (e.g. every IRIS) whose weights do not add up to 1 within `tolerance`:
    allocation weights w(source -> target) share each source out whole, so allocated totals can
    only equal the source totals when every source's weights sum to 1.
-#}
{% test weights_sum_to_one(model, group_by, weight_column='weight', tolerance=1e-9) %}

select
    {{ group_by | join(',\n    ') }},
    count(*) as targets,
    sum({{ weight_column }}) as weight_sum
from {{ model }}
group by {{ group_by | join(', ') }}
having abs(sum({{ weight_column }}) - 1) > {{ tolerance }}

{% endtest %}
