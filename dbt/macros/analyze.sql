{#-
    Post-hook of every model (dbt_project.yml): `analyze` the table the model just wrote, so that
    the next model or test reading it is planned on its real row counts. Without it, a table made
    a moment ago has no statistics until autovacuum gets to it, the planner guesses a few rows and
    may nest loops over hundreds of thousands (int_canvass__bureau_day ran for over 6 minutes at
    10 % of national size in one build, 3 s in another, on the same data). Views have nothing to
    analyze: the hook is a no-op for them.
-#}
{% macro analyze_table_model() -%}
    {%- if model.config.materialized in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
