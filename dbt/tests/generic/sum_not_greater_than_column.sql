{#-
    Fails (one row with the sum) when the sum of `column_name` over the model exceeds the
    smallest `limit_column` of its rows (plus `tolerance`): hours handed out beyond the budget.
    An empty model passes.
-#}
{% test sum_not_greater_than_column(model, column_name, limit_column, tolerance=1e-9) %}

select
    sum({{ column_name }}) as total,
    min({{ limit_column }}) as limit_value,
    count(*) as row_count
from {{ model }}
having sum({{ column_name }}) > min({{ limit_column }}) + {{ tolerance }}

{% endtest %}
