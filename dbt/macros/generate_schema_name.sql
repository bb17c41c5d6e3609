{#-
    A model's `schema` config is the schema, verbatim (dbt's default would prefix the target
    schema: `staging_mart_audit`). Folder = schema = access policy.

    Guard: dbt builds the candidate publication into `mart_audit` only. `mart` and `mart_prev`
    belong to the publish step (one transaction swaps `mart_audit` in as `mart`); a model
    configured to write there is refused at compile time.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set schema_name = (custom_schema_name or target.schema) | trim -%}
    {%- if schema_name | lower in ['mart', 'mart_prev'] -%}
        {{ exceptions.raise_compiler_error(
            "Node " ~ node.unique_id ~ " is configured to build into schema '" ~ schema_name
            ~ "'. dbt builds marts into 'mart_audit' only; the publish step owns 'mart'."
        ) }}
    {%- endif -%}
    {{ schema_name }}
{%- endmacro %}
