{#-
    Contracted tables written by `create table ... as`, in parallel.

    dbt-postgres writes a model with an enforced contract as `create table (columns and
    constraints)` then `insert into ... select`, and PostgreSQL 15 never plans an `insert` in
    parallel: the select of such a mart runs on one core (canvass_progress nationally: 17-19 s
    where its select alone takes 3.5 s on both; docs/performance.md). `create table ... as` may
    use parallel workers. So a contracted table whose only constraints are column `not_null`
    (every contracted mart of this project) is written as:

      1. the contract's check, unchanged (dbt's assert_columns_equivalent: the SQL's column
         names and types against the YAML's; a mismatch fails the model before any write);
      2. `create table ... as select cast(column as declared type) ...` in the YAML's column
         order: the declared types, as the insert into the declared table gives them;
      3. one `alter table ... alter column ... set not null, ...`: PostgreSQL checks every
         row once, and a null fails the model as the insert would have.

    Any other constraint (check, unique, primary or foreign key, model-level), a temporary
    relation or a model without contract take dbt-postgres' own path (dbt namespace, macro
    postgres__create_table_as), unchanged. tests/integration/test_contracted_tables.py builds
    contracted models with this file: declared types and not-null columns, a null or an
    undeclared type failing the model, a check constraint taking dbt-postgres' path.
-#}

{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if (not temporary) and contract_config.enforced and scrutin_only_not_null_constraints() -%}
        {{ scrutin_contracted_table_as(relation, sql) }}
    {%- else -%}
        {{ dbt.postgres__create_table_as(temporary, relation, sql) }}
    {%- endif -%}
{%- endmacro %}


{% macro scrutin_only_not_null_constraints() -%}
    {#- True when the model's only constraints are column not_null ones. -#}
    {%- if model.get('constraints') -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for name, column in model['columns'].items() -%}
        {%- for constraint in column.get('constraints', []) -%}
            {%- if constraint['type'] != 'not_null' -%}
                {{ return(false) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}


{% macro scrutin_contracted_table_as(relation, sql) -%}
    {%- set unlogged = config.get('unlogged', default=false) -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {%- set columns = [] -%}
    {%- set not_null = [] -%}
    {%- for name, column in model['columns'].items() -%}
        {%- set quoted = adapter.quote(column['name']) if column.get('quote') else column['name'] -%}
        {%- do columns.append('cast(' ~ quoted ~ ' as ' ~ column['data_type'] ~ ') as ' ~ quoted) -%}
        {#- every constraint left is not_null (scrutin_only_not_null_constraints) -#}
        {%- if column.get('constraints') -%}
            {%- do not_null.append(quoted) -%}
        {%- endif -%}
    {%- endfor -%}

    {{ sql_header if sql_header is not none }}
    {{ get_assert_columns_equivalent(sql) }}

    create {% if unlogged %}unlogged {% endif %}table {{ relation }} as (
        select
            {{ columns | join(',\n            ') }}
        from (
            {{ sql }}
        ) as model_subq
    );
    {%- if not_null %}

    alter table {{ relation }}
        {% for quoted in not_null -%}
            alter column {{ quoted }} set not null{{ "," if not loop.last }}
        {% endfor -%}
    ;
    {%- endif %}
{%- endmacro %}
