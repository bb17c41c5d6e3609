{#-
    Paris, Lyon and Marseille: INSEE publishes IRIS (and census figures) under municipal
    arrondissement codes, the Ministry publishes results under the whole-city code. The
    arrondissements are fixed by law (the same ranges as ingestion/sources/reu.py), so the
    mapping is generated here rather than loaded: 20 + 9 + 16 rows.
-#}

with

ranges as (

    select
        prefix,
        first_number,
        last_number,
        code_commune_results
    from (
        values
        ('75', 101, 120, '75056'),
        ('69', 381, 389, '69123'),
        ('13', 201, 216, '13055')
    ) as t (prefix, first_number, last_number, code_commune_results)

),

final as (

    select
        cast(ranges.prefix || lpad(cast(n as text), 3, '0') as text) as code_commune,
        cast(ranges.code_commune_results as text) as code_commune_results
    from ranges
    cross join lateral generate_series(ranges.first_number, ranges.last_number) as n

)

select * from final
