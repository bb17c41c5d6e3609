{#-
    The campaign's territory, applied: `where {{ in_campaign_territory('final.bureau_id') }}`
    keeps the rows of bureaux that int_territory__bureaux marks in_territory (every bureau when
    the campaign file declares no territory). Every mart that carries a bureau applies it once,
    to its final rows, and the marts built on another mart inherit it; the bureau universe and
    the membership rule live in int_territory__bureaux only.
-#}
{% macro in_campaign_territory(bureau_id) -%}
{{ bureau_id }} in (
    select territory_bureaux.bureau_id
    from {{ ref('int_territory__bureaux') }} as territory_bureaux
    where territory_bureaux.in_territory
)
{%- endmacro %}

{#-
    The bureaux int_territory__bureaux knows and puts outside the territory. The completeness
    tests skip these, `not {{ outside_campaign_territory('x.bureau_id') }}`, rather than keep the
    bureaux marked in: a bureau the territory model does not know (yet) is still required.
-#}
{% macro outside_campaign_territory(bureau_id) -%}
{{ bureau_id }} in (
    select territory_bureaux.bureau_id
    from {{ ref('int_territory__bureaux') }} as territory_bureaux
    where not territory_bureaux.in_territory
)
{%- endmacro %}

{#-
    INSEE département of a 5-character commune code: the first three characters overseas
    (971..978, 986..988), the first two elsewhere (01..95, 2A, 2B, ZZ for French people abroad).
-#}
{% macro departement_of_commune(code_commune) -%}
case
    when left({{ code_commune }}, 2) in ('97', '98') then left({{ code_commune }}, 3)
    else left({{ code_commune }}, 2)
end
{%- endmacro %}

{#-
    The campaign's territory codes (ops.campaign_territory rows of var('campaign_id')): kind and
    code. One definition for the territory model and the test that every code matches a bureau.
-#}
{% macro campaign_territory_codes() -%}
select
    kind,
    code
from {{ source('ops', 'campaign_territory') }}
where campaign_id = '{{ var("campaign_id") }}'
{%- endmacro %}

{#-
    Whether the territory code row `territory` covers the located bureau `bureau` (columns
    code_commune, code_departement, constituency): the one matching rule of a territory.
-#}
{% macro territory_code_covers(territory, bureau) -%}
(
    ({{ territory }}.kind = 'commune' and {{ territory }}.code = {{ bureau }}.code_commune)
    or (
        {{ territory }}.kind = 'departement'
        and {{ territory }}.code = {{ bureau }}.code_departement
    )
    or (
        {{ territory }}.kind = 'constituency'
        and {{ territory }}.code = {{ bureau }}.constituency
    )
)
{%- endmacro %}
