{#-
    The allocation neither creates nor loses inhabitants: for every commune whose bureaux all
    publish `column_name`, their sum equals the census total of the commune (indicator
    `prefix`/`indicator` of the `population` theme, stg_census__iris_values: loaded batches,
    the mart's census vintage) within `tolerance` (relative above 1, absolute below). The
    allocation's own test (assert_census_allocation_preserves_commune_totals) guards the
    intermediate relation; this one the published column, so a pivot or a join of the mart
    that drops, duplicates or mislabels a figure shows up too. Paris, Lyon and Marseille IRIS
    carry arrondissement codes; they count under the whole city, as the results (and so the
    mart) do. An allocated commune the census does not know fails too. A commune the campaign's
    territory splits (a constituency boundary through Brest) publishes part of its bureaux only:
    it is not compared.
-#}
{% test allocated_total_matches_census(model, column_name, prefix, indicator, tolerance=1e-6) %}

with

mart_communes as (

    select
        code_commune,
        max(census_vintage) as census_vintage,
        sum({{ column_name }}) as allocated_total
    from {{ model }}
    where code_commune not in (
        select split_bureaux.code_commune
        from {{ ref('int_territory__bureaux') }} as split_bureaux
        where not split_bureaux.in_territory
    )
    group by code_commune
    having count(*) = count({{ column_name }})

),

census_communes as (

    select
        coalesce(plm.code_commune_results, census_values.code_commune) as code_commune,
        census_values.vintage,
        sum(census_values.value) as census_total
    from {{ ref('stg_census__iris_values') }} as census_values
    left join {{ ref('stg_geography__plm_arrondissements') }} as plm
        on census_values.code_commune = plm.code_commune
    where census_values.theme = 'population'
        and census_values.prefix = '{{ prefix }}'
        and census_values.indicator = '{{ indicator }}'
    group by 1, 2

)

select
    mart_communes.code_commune,
    mart_communes.census_vintage,
    mart_communes.allocated_total,
    census_communes.census_total
from mart_communes
left join census_communes
    on mart_communes.code_commune = census_communes.code_commune
    and mart_communes.census_vintage = census_communes.vintage
where census_communes.census_total is null
    or abs(mart_communes.allocated_total - census_communes.census_total)
    > {{ tolerance }} * greatest(1, abs(census_communes.census_total))

{% endtest %}
