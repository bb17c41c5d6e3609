-- The socio-professional shares of bureau_demographics add up the census columns
-- `C POP15P_<code>` through the seed pcs_crosswalk. For that to describe the 15+ population
-- once, every such column of a loaded vintage must map to a group, and no group may receive
-- two columns of one vintage (PCS 2003 CS1..CS8 up to 2021, PCS 2020 STAT_GSEC.. from 2022: a
-- seed edit that mapped, say, STAT_GSEC13 and STAT_GSEC13_23 together would count the employed
-- executives twice). Fails with one row per offending (vintage, indicator or group).

with

iris_values as (

    select * from {{ ref('stg_census__iris_values') }}

),

crosswalk_rows as (

    select * from {{ ref('pcs_crosswalk') }}

),

crosswalk as (

    select distinct on (source_code)
        source_code,
        pcs_group
    from crosswalk_rows
    order by
        source_code,
        version desc

),

pcs_columns as (

    select distinct
        vintage,
        indicator
    from iris_values
    where
        theme = 'population'
        and prefix = 'C'
        and indicator like 'POP15P\_%'

),

mapped as (

    select
        pcs_columns.vintage,
        pcs_columns.indicator,
        crosswalk.pcs_group
    from pcs_columns
    left join crosswalk
        on pcs_columns.indicator = 'POP15P_' || crosswalk.source_code

),

unmapped as (

    select
        vintage,
        indicator,
        cast(null as text) as pcs_group,
        'no pcs_crosswalk row for this census column' as problem
    from mapped
    where pcs_group is null

),

doubled as (

    select
        vintage,
        string_agg(indicator, ', ' order by indicator) as indicator,
        pcs_group,
        'several census columns of one vintage map to this group' as problem
    from mapped
    where pcs_group is not null
    group by
        vintage,
        pcs_group
    having count(*) > 1

)

select * from unmapped
union all
select * from doubled
