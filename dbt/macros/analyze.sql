{#-
    Post-hook of every model (dbt_project.yml): `analyze` the table the model just wrote, so that
    the next model or test reading it is planned on its real row counts. Without it, a table made
    a moment ago has no statistics until autovacuum gets to it, the planner guesses a few rows and
    may nest loops over hundreds of thousands (int_canvass__bureau_day ran for over 6 minutes at
    10 % of national size in one build, 3 s in another, on the same data). Views have nothing to
    analyze: the hook is a no-op for them.

    A table model (not an incremental one) is also set `autovacuum_enabled = false`, for it and
    its TOAST table, before it is analyzed. It is written whole by `create table ... as` at every
    build that rebuilds it, and never updated or deleted from afterwards (publication moves it;
    the campaign carry-over only inserts): it has no dead rows to vacuum, this hook gives it its
    statistics, and a new table is frozen by PostgreSQL's anti-wraparound vacuum, which this
    setting does not stop. Left on, autovacuum's insert threshold sent it after every table of
    millions of rows the build had just written, on the same 2 cores as the build: with it off,
    the national full refresh took 247 s instead of 276-277 s and a delivery of 10,000 knocks
    96-100 s instead of 105-115 s (docs/performance.md, section 19:10-20:20). The incremental
    canvass models keep autovacuum: they delete and insert in place.
-#}
{% macro analyze_table_model() -%}
    {%- if model.config.materialized == 'table' -%}
        alter table {{ this }} set (autovacuum_enabled = false, toast.autovacuum_enabled = false);
        analyze {{ this }}
    {%- elif model.config.materialized == 'incremental' -%}
        analyze {{ this }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
