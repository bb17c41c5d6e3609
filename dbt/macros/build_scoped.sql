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
