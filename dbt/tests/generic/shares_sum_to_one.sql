{#-
    Fails for every row where `condition` holds and the `columns` (shares of one partition:
    age bands, socio-professional groups...) are not all present or do not sum to 1 within
    `tolerance`. A missing share where the condition says the profile is known is a failure too.
-#}
{% test shares_sum_to_one(model, columns, condition='true', tolerance=1e-9) %}

select *
from {{ model }}
where
    ({{ condition }})
    and (
        {% for column in columns -%}
        {{ column }} is null or
        {% endfor -%}
        abs(
            {{ columns | join(' + ') }} - 1
        ) > {{ tolerance }}
    )

{% endtest %}
