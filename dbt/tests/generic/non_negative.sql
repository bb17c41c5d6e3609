{#- Fails for every row whose value is negative (nulls are left to `not_null`). -#}
{% test non_negative(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} < 0

{% endtest %}
