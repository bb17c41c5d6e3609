{#-
    The census measures the demographics mart publishes: measure -> (theme, prefix, census
    indicators), the socio-professional groups (from the seed pcs_crosswalk, applied to
    `C POP15P_<code>`), and the measures added later (after the PCS groups, so the existing
    columns of int_census__bureau_counts keep their order). One definition for the two models
    that need it: int_census__bureau_counts pivots these measures, and
    int_census__allocated_to_bureau allocates only their indicators (about 40 of the ~300
    base-ic indicators: 2.7 M rows nationally instead of 19.6 M).

    A measure sums one or more indicators of one theme and prefix. The lists hold the names of
    every vintage INSEE used (diplomas: `DIPLMIN`, `SUP2`, `SUP34`, `SUP5` since census 2017;
    `DIPL0`, `CEP`, `BACP2`, `SUP` before): a vintage carries one set, never both.
-#}
{% macro census_measures() -%}
{%- set measures = {
    'population': ('population', 'P', ['POP']),
    'age_0_14': ('population', 'P', ['POP0014']),
    'age_15_29': ('population', 'P', ['POP1529']),
    'age_30_44': ('population', 'P', ['POP3044']),
    'age_45_59': ('population', 'P', ['POP4559']),
    'age_60_74': ('population', 'P', ['POP6074']),
    'age_75_plus': ('population', 'P', ['POP75P']),
    'foreigners': ('population', 'P', ['POP_ETR']),
    'population_15_plus': ('population', 'C', ['POP15P']),
    'non_schooled_15_plus': ('diplomes_formation', 'P', ['NSCOL15P']),
    'diploma_low': ('diplomes_formation', 'P', [
        'NSCOL15P_DIPLMIN', 'NSCOL15P_DIPL0', 'NSCOL15P_CEP', 'NSCOL15P_BEPC',
        'NSCOL15P_CAPBEP']),
    'diploma_bac': ('diplomes_formation', 'P', ['NSCOL15P_BAC']),
    'diploma_higher': ('diplomes_formation', 'P', [
        'NSCOL15P_SUP2', 'NSCOL15P_SUP34', 'NSCOL15P_SUP5', 'NSCOL15P_BACP2', 'NSCOL15P_SUP']),
    'households': ('couples_familles_menages', 'C', ['MEN']),
    'households_single_person': ('couples_familles_menages', 'C', ['MENPSEUL']),
    'households_couple_no_children': ('couples_familles_menages', 'C', ['MENCOUPSENF']),
    'households_couple_with_children': ('couples_familles_menages', 'C', ['MENCOUPAENF']),
    'households_single_parent': ('couples_familles_menages', 'C', ['MENFAMMONO']),
    'main_residences': ('logement', 'P', ['RP']),
    'main_residences_owned': ('logement', 'P', ['RP_PROP']),
    'main_residences_rented': ('logement', 'P', ['RP_LOC']),
    'main_residences_social_rented': ('logement', 'P', ['RP_LOCHLMV']),
} -%}
{#- later: the adult population (18 or more, the voting age) from the finer age bands of the
    population theme, and French nationals (all ages) -#}
{%- set late_measures = {
    'adults_18_plus': ('population', 'P', [
        'POP1824', 'POP2539', 'POP4054', 'POP5564', 'POP6579', 'POP80P']),
    'french_nationals': ('population', 'P', ['POP_FR']),
} -%}
{%- set pcs_groups = [
    'farmers', 'artisans_merchants', 'executives', 'intermediate', 'employees', 'workers',
    'retired', 'other_inactive',
] -%}
{{ return({'measures': measures, 'late_measures': late_measures, 'pcs_groups': pcs_groups}) }}
{%- endmacro %}

{#- (theme, prefix, indicator) of every listed measure (the PCS groups excepted), as SQL
    `values` rows -#}
{% macro census_measure_indicator_rows(with_measure=true) -%}
{%- set spec = census_measures() -%}
{%- set rows = [] -%}
{%- for name, m in (spec['measures'].items() | list) + (spec['late_measures'].items() | list) -%}
{%- for indicator in m[2] -%}
{%- if with_measure -%}
{%- do rows.append("('" ~ m[0] ~ "', '" ~ m[1] ~ "', '" ~ indicator ~ "', '" ~ name ~ "')") -%}
{%- else -%}
{%- do rows.append("('" ~ m[0] ~ "', '" ~ m[1] ~ "', '" ~ indicator ~ "')") -%}
{%- endif -%}
{%- endfor -%}
{%- endfor -%}
{{ rows | join(',
') }}
{%- endmacro %}

{#- The (theme, prefix, indicator) rows int_census__allocated_to_bureau allocates: the listed
    measures' indicators and `C POP15P_<code>` for every code of the seed pcs_crosswalk. A
    query, for a CTE: `measured_indicators as ({{ census_measured_indicators() }})`. -#}
{% macro census_measured_indicators() -%}
select
    listed.theme,
    listed.prefix,
    listed.indicator
from (
    values
    {{ census_measure_indicator_rows(with_measure=false) | indent(4) }}
) as listed (theme, prefix, indicator)

union

select
    'population' as theme,
    'C' as prefix,
    'POP15P_' || pcs_crosswalk.source_code as indicator
from {{ ref('pcs_crosswalk') }} as pcs_crosswalk
{%- endmacro %}
