{#-
    Build-scoped tables (tag `build_scoped`): int_canvass__knocks and int_canvass__answers are
    read by several models and a score of data tests in every canvass build. As views, each
    reader recomputed every knock (versions, bureau matches, flags; the answers' numbering): at
    a million knocks that was some 70 s of the build's node time (docs/performance.md). They are
    knock-level, though, and a table of them would outlive the retention purge of
    raw.canvass_knocks until the next build (docs/privacy.md, "Where the door is stays in raw").

    So dbt writes them as tables for the build's readers, and the build's `on-run-end` hook
    (dbt_project.yml) puts them back as views of the very same compiled SQL: between builds
    they are views, as before, and the engineers who vet the field data query the same names.
    A build killed before its end leaves them as tables until the next build, and the retention
    purge deletes their purged rows (ingestion/canvass/purge.py, `BUILD_SCOPED_TABLES`).

    A model is put back once it was built in this invocation (status success), in the order dbt
    built them, so that int_canvass__answers' view reads int_canvass__knocks' view.
-#}
{% macro restore_build_scoped_views(results) -%}
    {%- if execute -%}
        {%- set built = [] -%}
        {%- for result in results
            if result.node.resource_type == 'model'
            and 'build_scoped' in result.node.tags
            and result.status == 'success' -%}
            {%- do built.append(result.node) -%}
        {%- endfor -%}
        {%- set built_ids = built | map(attribute='unique_id') | list -%}
        {#- Parents first: a view cannot be made over a table that is about to be dropped. -#}
        {%- for level in range(built | length) -%}
            {%- for node in built
                if node.depends_on.nodes | select('in', built_ids) | list | length == level -%}
                {%- set relation = api.Relation.create(
                    database=node.database,
                    schema=node.schema,
                    identifier=node.alias,
                    type='view',
                ) -%}
                {%- call statement('restore_' ~ node.name) -%}
                    drop table if exists {{ relation }};
                    create view {{ relation }} as (
                        {{ node.compiled_code }}
                    )
                {%- endcall -%}
                {{ log('build-scoped table ' ~ relation ~ ' put back as a view', info=false) }}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#-
    Views that two replacements would drop at once. dbt replaces a view or a table by renaming
    it `__dbt_backup` and then running `drop ... cascade` on the backup, which also drops every
    view that reads it (dbt rebuilds those after). A view with two such parents is dropped by
    two cascades that run in parallel threads, and PostgreSQL may find them deadlocked: a build
    was refused for this (int_canvass__knocks, put back as a view by the previous build, read
    stg_canvass__knocks and stg_canvass__suppression; docs/operations.md).

    So before any node runs (`on-run-start`, dbt_project.yml), every existing view of a selected
    model that has two or more selected parents to be replaced (views, tables, incremental
    models on a full refresh) is dropped, with cascade as dbt would, through the adapter so
    that dbt's relation cache knows. Nothing is lost: those parents' cascades would drop it in
    this same invocation, and its own node writes it again after them. If the build fails
    before, the view stays absent until the next build; the gate refuses to publish that build
    anyway.
-#}
{% macro drop_contended_views() -%}
    {%- if execute -%}
        {%- set replaced = ['view', 'table'] + (['incremental'] if flags.FULL_REFRESH else []) -%}
        {%- set models = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
            | selectattr('unique_id', 'in', selected_resources) | list -%}
        {%- for node in models -%}
            {%- set parents = [] -%}
            {%- for parent_id in node.depends_on.nodes
                if parent_id in selected_resources
                and parent_id in graph.nodes
                and graph.nodes[parent_id].config.materialized in replaced -%}
                {%- do parents.append(parent_id) -%}
            {%- endfor -%}
            {%- if parents | length >= 2 -%}
                {%- set relation = adapter.get_relation(
                    database=node.database, schema=node.schema, identifier=node.alias
                ) -%}
                {%- if relation is not none and relation.is_view -%}
                    {%- do adapter.drop_relation(relation) -%}
                    {{ log('view ' ~ relation ~ ' dropped before ' ~ (parents | length)
                        ~ ' of its parents are replaced in parallel', info=false) }}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
