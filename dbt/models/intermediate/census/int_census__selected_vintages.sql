{#-
    Which vintage of each theme the marts use. The census vintage is the var `census_vintage`
    when set (`dbt build --vars '{census_vintage: 2021}'`), else the latest vintage of the
    `population` theme. Every theme (Filosofi included) then uses its latest vintage not after
    the census vintage: INSEE does not publish every theme every year (the registry lists
    population 2022 before logement 2022), and a share always divides two figures of one theme
    and one vintage, so a theme one year behind is consistent in itself.
-#}

{%- set pinned = var('census_vintage', none) %}

with

census_files as (

    select distinct
        vintage,
        theme
    from {{ ref('stg_census__iris') }}

),

census_vintage as (

    {%- if pinned is not none %}
    select cast({{ pinned | int }} as integer) as census_vintage
    {%- else %}
    select max(vintage) as census_vintage
    from census_files
    where theme = 'population'
    {%- endif %}

),

final as (

    select
        census_files.theme,
        max(census_files.vintage) as vintage,
        census_vintage.census_vintage
    from census_files
    inner join census_vintage
        on census_files.vintage <= census_vintage.census_vintage
    group by
        census_files.theme,
        census_vintage.census_vintage

)

select * from final
