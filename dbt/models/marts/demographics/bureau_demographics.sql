{#-
    Demographics per polling station, from census counts allocated IRIS -> bureau.

    A share n / d is NULL unless both counts are known in full (no masked IRIS value) and
    d > 0. A ratio above 1 by less than 1e-9 is a rounding of a part equal to its whole and is
    published as 1; anything larger stays as it is and fails the [0, 1] tests.
    Age and socio-professional shares divide by the sum of their own categories (equal to the
    published totals up to INSEE's rounding), so each profile sums to 1; the other shares
    divide by the published total (households, main residences, non-schooled 15+, population).
    adult_french_population_approx = adults 18+ x French nationals / population: the potential
    electorate of national elections, approximately (see its column description).
-#}

{%- set age_bands = [
    'age_0_14', 'age_15_29', 'age_30_44', 'age_45_59', 'age_60_74', 'age_75_plus',
] -%}
{%- set pcs_groups = [
    'pcs_farmers', 'pcs_artisans_merchants', 'pcs_executives', 'pcs_intermediate',
    'pcs_employees', 'pcs_workers', 'pcs_retired', 'pcs_other_inactive',
] -%}
{#- (published column, numerator, denominator) in column order -#}
{%- set shares = [] -%}
{%- for band in age_bands -%}
    {%- do shares.append(('share_' ~ band, band, 'age_total')) -%}
{%- endfor -%}
{%- for group in pcs_groups -%}
    {%- do shares.append(('share_' ~ group, group, 'pcs_total')) -%}
{%- endfor -%}
{%- do shares.extend([
    ('share_diploma_low', 'diploma_low', 'non_schooled_15_plus'),
    ('share_diploma_bac', 'diploma_bac', 'non_schooled_15_plus'),
    ('share_diploma_higher', 'diploma_higher', 'non_schooled_15_plus'),
    ('share_households_single_person', 'households_single_person', 'households'),
    ('share_households_couple_no_children', 'households_couple_no_children', 'households'),
    ('share_households_couple_with_children', 'households_couple_with_children', 'households'),
    ('share_households_single_parent', 'households_single_parent', 'households'),
    ('share_owners', 'main_residences_owned', 'main_residences'),
    ('share_renters', 'main_residences_rented', 'main_residences'),
    ('share_social_renters', 'main_residences_social_rented', 'main_residences'),
    ('share_foreigners', 'foreigners', 'population'),
]) -%}

with

counts as (

    select * from {{ ref('int_census__bureau_counts') }}

),

incomes as (

    select * from {{ ref('int_census__median_income_by_bureau') }}

),

weights as (

    select * from {{ ref('stg_geography__iris_bureau_weights') }}

),

selected_vintages as (

    select * from {{ ref('int_census__selected_vintages') }}

),

vintages as (

    -- one row (none when no census is loaded, and then the mart is empty)
    select
        max(census_vintage) as census_vintage,
        max(vintage) filter (where theme = 'filosofi') as income_vintage
    from selected_vintages
    having count(*) > 0

),

quality_ranks as (

    -- From best to worst: a bureau is only as reliable as its least reliable weight.
    select
        quality,
        quality_rank
    from (
        values
        ('good', 1),
        ('few_addresses', 2),
        ('partial_coverage', 3),
        ('no_overlap', 4),
        ('no_bureau_geometry', 5)
    ) as ranks (quality, quality_rank)

),

allocations as (

    select
        weights.bureau_id,
        case
            when count(distinct weights.method) = 1 then min(weights.method)
            else 'mixed'
        end as allocation_method,
        max(quality_ranks.quality_rank) as worst_quality_rank,
        cast(count(*) as integer) as iris_count
    from weights
    left join quality_ranks
        on weights.quality = quality_ranks.quality
    group by weights.bureau_id

),

profiles as (

    select
        counts.*,
        {{ age_bands | join('\n        + ') }}
            as age_total,
        {{ age_bands | join('_known\n        and ') }}_known  -- noqa: LT05
            as age_total_known,
        {{ pcs_groups | join('\n        + ') }}
            as pcs_total,
        {{ pcs_groups | join('_known\n        and ') }}_known  -- noqa: LT05
            as pcs_total_known
    from counts

),

final as (

    select
        profiles.bureau_id,
        split_part(profiles.bureau_id, '_', 1) as code_commune,
        vintages.census_vintage,
        vintages.income_vintage,
        profiles.pcs_version,
        allocations.allocation_method,
        quality_ranks.quality as allocation_quality,
        allocations.iris_count,

        -- counts (allocated, NULL unless known in full)
        case when profiles.population_known then profiles.population end as population,
        case when profiles.population_15_plus_known then profiles.population_15_plus end
            as population_15_plus,
        case when profiles.households_known then profiles.households end as households,
        case when profiles.main_residences_known then profiles.main_residences end
            as main_residences,

        -- shares: age bands and socio-professional groups (of the 15+) divide by the sum of
        -- their categories; diplomas (of the non-schooled 15+), household types, occupancy of
        -- main residences and nationality by the published total
        {%- for column, numerator, denominator in shares %}
        case
            when
                profiles.{{ numerator }}_known
                and profiles.{{ denominator }}_known
                and profiles.{{ denominator }} > 0
                then
                    case
                        when profiles.{{ numerator }} / profiles.{{ denominator }}
                            between 1 and 1 + 1e-9 then cast(1 as double precision)
                        else profiles.{{ numerator }} / profiles.{{ denominator }}
                    end
        end as {{ column }},
        {%- endfor %}

        -- income (not allocated: an approximation, see the column's description)
        incomes.median_income_approx,

        -- masking
        profiles.has_masked_values,
        profiles.masked_share,

        -- voting-age population (appended: existing columns keep their order)
        case when profiles.adults_18_plus_known then profiles.adults_18_plus end
            as adults_18_plus,
        -- APPROXIMATION: the French share of all ages applied to the adults (INSEE publishes
        -- no nationality x age cross per IRIS); a share above 1 by less than 1e-9 is a
        -- rounding of POP_FR equal to POP, as for the shares above
        case
            when
                profiles.adults_18_plus_known
                and profiles.french_nationals_known
                and profiles.population_known
                and profiles.population > 0
                then
                    profiles.adults_18_plus
                    * case
                        when profiles.french_nationals / profiles.population
                            between 1 and 1 + 1e-9 then cast(1 as double precision)
                        else profiles.french_nationals / profiles.population
                    end
        end as adult_french_population_approx

    from profiles
    cross join vintages
    inner join allocations
        on profiles.bureau_id = allocations.bureau_id
    left join quality_ranks
        on allocations.worst_quality_rank = quality_ranks.quality_rank
    left join incomes
        on profiles.bureau_id = incomes.bureau_id

)

{{ select_in_campaign_territory('final') }}
