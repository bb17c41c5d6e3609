{#-
    Fails (one row saying how many it has) when the model holds fewer than `min_value` rows:
    an empty publication of a table that must have data (results, polling stations) is a
    build that silently lost its input.
-#}
{% test has_rows(model, min_value=1) %}

select count(*) as row_count
from {{ model }}
having count(*) < {{ min_value }}

{% endtest %}
