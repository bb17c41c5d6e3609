{#-
    Fails for every row where the votes of the blocs (one `votes_<bloc>` column per entry of
    the var `blocs`) plus `unmapped_votes` differ from `candidate_votes`: every candidate's
    votes are counted in exactly one bloc, or as unmapped.
-#}
{% test bloc_votes_add_up(model) %}

select *
from {{ model }}
where
    {% for bloc in var('blocs') -%}
    votes_{{ bloc }} +
    {% endfor -%}
    unmapped_votes <> candidate_votes

{% endtest %}
