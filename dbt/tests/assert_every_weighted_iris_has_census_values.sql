-- Every IRIS of the allocation weights has census values in the selected vintage of each
-- census theme loaded. An IRIS missing from the census (weights computed on another IRIS
-- geography than the census's `geo_year`, or a commune whose census was not loaded) sends
-- nothing to its bureaux, which then under-count their inhabitants. Severity warn: a campaign
-- may load weights for more communes than census data; the rows say which IRIS to look at.

{{ config(severity='warn') }}

with

iris_values as (

    select * from {{ ref('stg_census__iris_values') }}

),

selected_vintages as (

    select * from {{ ref('int_census__selected_vintages') }}

),

weights as (

    select * from {{ ref('stg_geography__iris_bureau_weights') }}

),

census_iris as (

    select distinct
        iris_values.theme,
        iris_values.code_iris
    from iris_values
    inner join selected_vintages
        on
            iris_values.theme = selected_vintages.theme
            and iris_values.vintage = selected_vintages.vintage
    where iris_values.prefix in ('P', 'C')

),

weighted_iris as (

    select
        code_iris,
        min(geo_year) as weights_geo_year,
        string_agg(bureau_id, ', ' order by bureau_id) as bureaux
    from weights
    group by code_iris

),

census_themes as (

    select theme
    from selected_vintages
    where theme <> 'filosofi'

)

select
    weighted_iris.code_iris,
    census_themes.theme,
    weighted_iris.weights_geo_year,
    weighted_iris.bureaux
from weighted_iris
cross join census_themes
left join census_iris
    on
        weighted_iris.code_iris = census_iris.code_iris
        and census_themes.theme = census_iris.theme
where census_iris.code_iris is null
