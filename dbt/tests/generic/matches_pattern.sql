{#-
    Fails for every row whose `column_name` does not match the POSIX regular expression
    `pattern` (nulls pass: not_null says otherwise).
-#}
{% test matches_pattern(model, column_name, pattern) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} !~ '{{ pattern }}'

{% endtest %}
