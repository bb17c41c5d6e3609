{#-
    Fails for every bureau of a loaded results file (stg_elections__bureau_results: the rows of
    `loaded` batches of raw.election_results_bureau) that has no row in the model, matched on
    `keys` (bureau_id, with election_id when the model has one row per election): a bureau
    dropped by a join between landing and the mart would never be canvassed. Bureaux outside
    the campaign's territory (int_territory__bureaux) are meant to be absent.
-#}
{% test has_every_loaded_results_bureau(model, keys) %}

select distinct
    {%- for key in keys %}
    bureaux.{{ key }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ ref('stg_elections__bureau_results') }} as bureaux
where not {{ outside_campaign_territory('bureaux.bureau_id') }}
and not exists (
    select 1
    from {{ model }} as model_rows
    where
        {%- for key in keys %}
        model_rows.{{ key }} = bureaux.{{ key }}{{ ' and' if not loop.last }}
        {%- endfor %}
)

{% endtest %}
