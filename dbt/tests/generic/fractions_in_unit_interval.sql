{#-
    Fail-closed: every column whose name starts with one of `prefixes` (share_, turnout_...)
    holds a fraction, null or in [0, 1]. The row is read as JSON, so a column added to the model
    later is checked without anyone listing it. Fails with the row's `key`, the column and its
    value.
-#}
{% test fractions_in_unit_interval(model, prefixes, key) %}

select
    model_rows.{{ key }} as row_key,
    fields.key as column_name,
    fields.value
from {{ model }} as model_rows
cross join lateral jsonb_each(to_jsonb(model_rows)) as fields
where (
    {%- for prefix in prefixes %}
    starts_with(fields.key, '{{ prefix }}'){{ ' or' if not loop.last }}
    {%- endfor %}
)
    and case
        when jsonb_typeof(fields.value) = 'number'
            then cast(fields.value as numeric) not between 0 and 1
        else jsonb_typeof(fields.value) <> 'null'
    end

{% endtest %}
