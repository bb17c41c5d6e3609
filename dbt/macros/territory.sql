{#-
    The campaign's territory, applied. Every mart that carries a bureau ends with
    `{{ select_in_campaign_territory('final') }}`: the rows of its CTE `final` whose bureau
    int_territory__bureaux marks in_territory (every bureau when the campaign file declares no
    territory). The marts built on another mart inherit it; the bureau universe and the
    membership rule live in int_territory__bureaux only.

    An inner join on the territory's unique bureau_id, not `bureau_id in (select ...)`: with a
    semi-join PostgreSQL may pair the territory with a one-row CTE first, estimate one row,
    and nest loops over the whole mart (bureau_demographics ran for more than 11 minutes
    nationally; 1 s with the join).
    `where {{ in_campaign_territory('x.bureau_id') }}` is the same rule as a predicate, for
    the queries (tests) that cannot end with it.
-#}
{% macro select_in_campaign_territory(relation) -%}
select {{ relation }}.*
from {{ relation }}
inner join {{ ref('int_territory__bureaux') }} as territory_bureaux
    on {{ relation }}.bureau_id = territory_bureaux.bureau_id
where territory_bureaux.in_territory
{%- endmacro %}

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
