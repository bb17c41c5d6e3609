{#-
    Contracted tables written by `create table ... as`, in parallel.

    dbt-postgres writes a model with an enforced contract as `create table (columns and
    constraints)` then `insert into ... select`, and PostgreSQL 15 never plans an `insert` in
    parallel: the select of such a mart runs on one core (canvass_progress nationally: 17-19 s
    where its select alone takes 3.5 s on both; docs/performance.md). `create table ... as` may
    use parallel workers. So a contracted table whose constraints are all column constraints of
    type `not_null` or `check` (every contracted mart of this project) is written as:

      1. the contract's check, unchanged (dbt's assert_columns_equivalent: the SQL's column
         names and types against the YAML's; a mismatch fails the model before any write);
      2. `create table ... as select cast(column as declared type) ...` in the YAML's column
         order: the declared types, as the insert into the declared table gives them;
      3. one `alter table`: `set not null` for every not_null column and `add constraint
         <name> check (<expression>)` for every check, in the YAML's order. PostgreSQL checks
         them all in one pass over the rows, and a null or a row failing a check fails the
         model (naming the column, or the constraint), as the insert would have.

    A column check holds the row-level rules of a mart that used to be data tests (`x >= 0`,
    `x <= other`, a share in [0, 1]): a data test scans the table once per rule after it is
    written (89 scans for the canvass marts, 0.1-0.6 s each nationally), the constraint is
    checked in the one pass above, and no later UPDATE can break it. As a data test, a null
    passes a check (SQL's rule for `check`).

    Any other constraint (unique, primary or foreign key, a check without an expression,
    model-level), a temporary relation or a model without contract take dbt-postgres' own path
    (dbt namespace, macro postgres__create_table_as), unchanged.
    tests/integration/test_contracted_tables.py builds contracted models with this file:
    declared types, not-null columns and checks, a null, a failing check or an undeclared type
    failing the model, a primary key taking dbt-postgres' path.
-#}

{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if (not temporary) and contract_config.enforced and scrutin_only_column_checks() -%}
        {{ scrutin_contracted_table_as(relation, sql) }}
    {%- else -%}
        {{ dbt.postgres__create_table_as(temporary, relation, sql) }}
    {%- endif -%}
{%- endmacro %}


{% macro scrutin_only_column_checks() -%}
    {#- True when the model's only constraints are column not_null ones and column checks
        with an expression. -#}
    {%- if model.get('constraints') -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for name, column in model['columns'].items() -%}
        {%- for constraint in column.get('constraints', []) -%}
            {%- if constraint['type'] == 'check' and constraint.get('expression') -%}
            {%- elif constraint['type'] != 'not_null' -%}
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
    {%- set alterations = [] -%}
    {%- for name, column in model['columns'].items() -%}
        {%- set quoted = adapter.quote(column['name']) if column.get('quote') else column['name'] -%}
        {%- do columns.append('cast(' ~ quoted ~ ' as ' ~ column['data_type'] ~ ') as ' ~ quoted) -%}
        {#- every constraint here is not_null or a check (scrutin_only_column_checks) -#}
        {%- set constraints = column.get('constraints', []) -%}
        {%- if constraints | selectattr('type', 'equalto', 'not_null') | list -%}
            {%- do alterations.append('alter column ' ~ quoted ~ ' set not null') -%}
        {%- endif -%}
        {%- for check in constraints | selectattr('type', 'equalto', 'check') -%}
            {%- do alterations.append(
                'add' ~ (' constraint ' ~ check['name'] if check.get('name') else '')
                ~ ' check (' ~ check['expression'] ~ ')'
            ) -%}
        {%- endfor -%}
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
    {%- if alterations %}

    alter table {{ relation }}
        {% for alteration in alterations -%}
            {{ alteration }}{{ "," if not loop.last }}
        {% endfor -%}
    ;
    {%- endif %}
{%- endmacro %}
