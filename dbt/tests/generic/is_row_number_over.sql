{#-
    Fails for every row whose `column_name` is not its row_number() over (order by `order_by`):
    the published rank must be the order of the published value it claims to rank (ties broken
    as `order_by` says). `key` identifies a row; `rows_where` restricts the rows ranked (the others
    are not checked).
-#}
{% test is_row_number_over(model, column_name, order_by, key, rows_where=none) %}

with

expected as (

    select
        {{ key }} as row_key,
        {{ column_name }} as published_rank,
        row_number() over (order by {{ order_by | join(', ') }}) as expected_rank
    from {{ model }}
    {%- if rows_where %}
    where {{ rows_where }}
    {%- endif %}

)

select *
from expected
where published_rank is distinct from expected_rank

{% endtest %}
