{#-
    k-minimum suppression, fail-closed: fails for every row of `model` where

    - `count_column` (the conversations behind the row; null counts as 0) is below `k_min` and
      any column NOT listed in `public_columns` holds a value, or
    - `flag_column` does not say exactly whether the row is suppressed
      (true when count < k_min, false otherwise; null is a failure).

    Fail-closed on purpose: the columns that may stay visible are listed, not the ones to hide,
    so a column added to the model later counts as an opinion figure until someone declares it
    public. The row is read as JSON (`to_jsonb`), so the test needs no column list at run time.
    `k_min` defaults to the project var (default 11), the same value the models use.
-#}
{% test k_min_suppressed(model, count_column, flag_column, public_columns, k_min=none) %}

{%- set threshold = (var('k_min', 11) if k_min is none else k_min) | int -%}
{%- set visible = public_columns + [count_column, flag_column] -%}

with

checked as (

    select
        {{ count_column }} as counted,
        {{ flag_column }} as flagged,
        coalesce({{ count_column }}, 0) < {{ threshold }} as below_k_min,
        -- every value of the row except the public ones, as (key, json value) pairs
        to_jsonb(model_rows) - array[
            {%- for column in visible %}
            '{{ column }}'{{ "," if not loop.last }}
            {%- endfor %}
        ]::text [] as hidden_values,
        to_jsonb(model_rows) as row_values
    from {{ model }} as model_rows

),

offending as (

    select
        row_values,
        counted,
        flagged,
        case
            when flagged is distinct from below_k_min
                then '{{ flag_column }} must be ' || below_k_min::text
            else 'opinion figure published below k_min = {{ threshold }}'
        end as problem
    from checked
    where
        flagged is distinct from below_k_min
        or (
            below_k_min
            and exists (
                select 1
                from jsonb_each(hidden_values) as hidden(key, value)
                where hidden.value <> 'null'::jsonb
            )
        )

)

select * from offending

{% endtest %}
