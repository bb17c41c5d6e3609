{#-
    Fails for every row where `column_name` is smaller than on the previous row of its
    partition (`partition_by`, ordered by `order_by`): a running total (doors knocked so far,
    buildings visited so far) can only grow. A null after a value counts as a decrease; the
    first row of each partition passes.
-#}
{% test non_decreasing(model, column_name, partition_by, order_by) %}

with

ordered as (

    select
        {{ partition_by | join(',\n        ') }},
        {{ order_by }} as ordered_by,
        {{ column_name }} as current_value,
        lag({{ column_name }}) over (
            partition by {{ partition_by | join(', ') }}
            order by {{ order_by }}
        ) as previous_value,
        row_number() over (
            partition by {{ partition_by | join(', ') }}
            order by {{ order_by }}
        ) as position
    from {{ model }}

)

select *
from ordered
where
    position > 1
    and (
        current_value < previous_value
        or (current_value is null and previous_value is not null)
    )

{% endtest %}
