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
    public. The hidden columns are every column of the built relation but the visible ones,
    read from the warehouse when the test is compiled (no list to maintain), and a row is
    checked with num_nonnulls over them: reading every row as JSON took 17 s on the 868,000
    rows of canvass_bureau_daily nationally. Should the relation have a column the compiled
    list does not know (added after compilation, or the test compiled before the model
    existed), every row is read as JSON again, so the test stays fail-closed. The offending
    row is shown as JSON.

    The threshold is the stricter of `k_min` (default: the project var, which the gate sets to
    the campaign's k_min, the value the models use) and the k_min every loaded campaign's knocks
    were collected under (ops.canvass_campaigns): knocks collected under a promise of k = 16
    are never published at a threshold lowered afterwards, the gate refuses instead.
-#}
{% test k_min_suppressed(model, count_column, flag_column, public_columns, k_min=none, stepped=false) %}

{%- set build_k_min = (var('k_min') if k_min is none else k_min) | int -%}
{%- set visible = public_columns + [count_column, flag_column] -%}
{%- set hidden = [] -%}
{%- set known = [] -%}
{%- if execute -%}
    {#- No column found (the test compiled before its model was built): `known` stays empty, so
        at run time every column of the relation is unknown and every row takes the JSON check.
    -#}
    {%- set columns = adapter.get_columns_in_relation(model) -%}
    {%- for column in columns -%}
        {%- do known.append("'" ~ column.name ~ "'") -%}
        {%- if column.name not in visible -%}
            {%- do hidden.append('model_rows.' ~ adapter.quote(column.name)) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif -%}

with

threshold as (

    select greatest({{ build_k_min }}, coalesce(max(campaigns.k_min), 0)) as k_min
    from {{ source('ops', 'canvass_campaigns') }} as campaigns

),

columns_known as (

    -- false when the relation has a column the compiled list lacks
    select not exists (
        select 1
        from pg_attribute as attributes
        where
            attributes.attrelid
            = to_regclass('{{ adapter.quote(model.schema) }}.{{ adapter.quote(model.identifier) }}')
            and attributes.attnum > 0
            and not attributes.attisdropped
            and attributes.attname <> all(cast(array[{{ known | join(', ') }}] as text []))
    ) as all_known

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
        -- a value in any column that is not public
        case
            when columns_known.all_known
                then {% if hidden %}num_nonnulls({{ hidden | join(', ') }}) > 0{% else %}false{% endif %}
            else exists (
                select 1
                from jsonb_each(
                    to_jsonb(model_rows) - array[
                        {%- for column in visible %}
                        '{{ column }}'{{ "," if not loop.last }}
                        {%- endfor %}
                    ]::text []
                ) as hidden(key, value)
                where hidden.value <> 'null'::jsonb
            )
        end as has_hidden_values,
        model_rows as model_row
    from {{ model }} as model_rows
    cross join threshold
    cross join columns_known

),

offending as (

    select
        to_jsonb(model_row) as row_values,
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
            and has_hidden_values
        )

)

select * from offending

{% endtest %}
