{#-
    Fails for every row where `column_name` exceeds `other_column` of the same row
    (e.g. voters <= registered). Rows where either side is null pass.
-#}
{% test not_greater_than_column(model, column_name, other_column) %}

select
    {{ column_name }},
    {{ other_column }}
from {{ model }}
where {{ column_name }} > {{ other_column }}

{% endtest %}
