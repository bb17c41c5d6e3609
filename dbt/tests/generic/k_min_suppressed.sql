{#-
    k-minimum suppression, fail-closed: fails for every row of `model` where

    - `count_column` (the conversations behind the row; null counts as 0) is below the
      threshold and any column NOT listed in `public_columns` holds a value, or
    - `flag_column` does not say exactly whether the row is below the threshold
      (true when count < threshold, false otherwise; null is a failure), or
    - with `stepped=true`, `count_column` is not a whole number of threshold steps (0, k_min,
      2 x k_min, ...): the figures of a stepped row are computed on the published step of its
      answers, and a denominator between two steps means a new answer moved a published
      figure on its own, which two successive publications could difference
      (docs/privacy.md, "Disclosure control").

    Fail-closed on purpose: the columns that may stay visible are listed, not the ones to hide,
    so a column added to the model later counts as an opinion figure until someone declares it
    public. The row is read as JSON (`to_jsonb`), so the test needs no column list at run time.

    The threshold is the stricter of `k_min` (default: the project var, which the gate sets to
    the campaign's k_min, the value the models use) and the k_min every loaded campaign's knocks
    were collected under (ops.canvass_campaigns): knocks collected under a promise of k = 16
    are never published at a threshold lowered afterwards, the gate refuses instead.
-#}
{% test k_min_suppressed(model, count_column, flag_column, public_columns, k_min=none, stepped=false) %}

{%- set build_k_min = (var('k_min') if k_min is none else k_min) | int -%}
{%- set visible = public_columns + [count_column, flag_column] -%}

with

threshold as (

    select greatest({{ build_k_min }}, coalesce(max(campaigns.k_min), 0)) as k_min
    from {{ source('ops', 'canvass_campaigns') }} as campaigns

),

checked as (

    select
        threshold.k_min,
        model_rows.{{ count_column }} as counted,
        model_rows.{{ flag_column }} as flagged,
        coalesce(model_rows.{{ count_column }}, 0) < threshold.k_min as below_k_min,
        {%- if stepped %}
        coalesce(model_rows.{{ count_column }}, 0) % threshold.k_min <> 0 as between_steps,
        {%- else %}
        false as between_steps,
        {%- endif %}
        -- every value of the row except the public ones, as (key, json value) pairs
        to_jsonb(model_rows) - array[
            {%- for column in visible %}
            '{{ column }}'{{ "," if not loop.last }}
            {%- endfor %}
        ]::text [] as hidden_values,
        to_jsonb(model_rows) as row_values
    from {{ model }} as model_rows
    cross join threshold

),

offending as (

    select
        row_values,
        counted,
        flagged,
        k_min,
        case
            when flagged is distinct from below_k_min
                then '{{ flag_column }} must be ' || below_k_min::text
            when between_steps
                then '{{ count_column }} is not a multiple of k_min = ' || k_min::text
            else 'opinion figure published below k_min = ' || k_min::text
        end as problem
    from checked
    where
        flagged is distinct from below_k_min
        or between_steps
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
