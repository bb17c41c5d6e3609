{#-
    The campaign a build publishes (dbt var `campaign_id`, passed by pipeline.dbt_runner.build
    from the campaign file). One warehouse can hold several campaigns' door knocks: the canvass
    and score marts count only the building campaign's, and carry its id as their key column
    `campaign_id`, which the publication keeps the other campaigns' published rows by and the
    BI roles' row-level security filters on (pipeline/campaign_access.py, docs/architecture.md
    "Several campaigns, one warehouse").

    A bare `dbt` run names no campaign: every campaign's knocks are then counted together under
    campaign_id '' (the publication refuses such rows).
-#}
{% macro build_campaign_id() -%}
cast('{{ var("campaign_id") | replace("'", "''") }}' as text)
{%- endmacro %}

{#- `where {{ in_build_campaign('knocks.campaign_id') }}`: the rows of the building campaign
    (every row when the build names none). -#}
{% macro in_build_campaign(campaign_column) -%}
{%- if var("campaign_id") -%}
{{ campaign_column }} = {{ build_campaign_id() }}
{%- else -%}
true
{%- endif -%}
{%- endmacro %}
