-- A bureau that receives part of an IRIS with census population (indicator P POP of the
-- mart's census vintage, loaded batches) has its row in bureau_demographics: a join that
-- dropped it would remove it from every campaign plan without a sound. Returns the missing
-- (bureau, IRIS) pairs. Nothing is required while the mart is empty (no census vintage yet).

with

vintage as (

    select max(census_vintage) as census_vintage
    from {{ ref('bureau_demographics') }}

)

select distinct
    weights.bureau_id,
    weights.code_iris
from {{ ref('stg_geography__iris_bureau_weights') }} as weights
inner join {{ ref('stg_census__iris_values') }} as census_values
    on weights.code_iris = census_values.code_iris
inner join vintage
    on census_values.vintage = vintage.census_vintage
where census_values.theme = 'population'
    and census_values.prefix = 'P'
    and census_values.indicator = 'POP'
    and not {{ outside_campaign_territory('weights.bureau_id') }}
    and not exists (
        select 1
        from {{ ref('bureau_demographics') }} as demographics
        where demographics.bureau_id = weights.bureau_id
    )
