{#-
    Fails (one row with the distinct values) when `column_name` holds more than one distinct
    value over the whole model: a figure of the whole table repeated on each row, like the
    plan's budget.
-#}
{% test single_value(model, column_name) %}

select
    count(distinct {{ column_name }}) as distinct_values,
    min({{ column_name }}) as min_value,
    max({{ column_name }}) as max_value
from {{ model }}
having count(distinct {{ column_name }}) > 1

{% endtest %}
