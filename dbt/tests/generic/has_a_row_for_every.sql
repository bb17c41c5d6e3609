{#-
    The reverse of `relationships`: fails for every `field` value of `to` that no row of the
    model holds in `column_name` (a bureau dropped by a join would never be canvassed).
-#}
{% test has_a_row_for_every(model, column_name, to, field) %}

select parent.{{ field }} as missing_value
from {{ to }} as parent
where parent.{{ field }} is not null
    and not exists (
        select 1
        from {{ model }} as child
        where child.{{ column_name }} = parent.{{ field }}
    )

{% endtest %}
