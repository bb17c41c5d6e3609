{#- Fails for every group (e.g. a campaign) where more than `max_share` of the rows carry `flag`
    in the array column. Meant as a warning (severity: warn): a high rate of a data-quality flag
    deserves a look, it does not make the figures wrong. -#}
{% test flag_share_at_most(model, column_name, flag, max_share, group_by) %}

select
    {{ group_by }},
    count(*) filter (where '{{ flag }}' = any({{ column_name }})) as flagged,
    count(*) as total
from {{ model }}
group by {{ group_by }}
having count(*) filter (where '{{ flag }}' = any({{ column_name }})) > {{ max_share }} * count(*)

{% endtest %}
