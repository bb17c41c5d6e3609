-- The mart only renames and derives: its counts are the landed counts of the Ministry file,
-- bureau by bureau (registered = inscrits, voters = votants, ... of the loaded batch).
-- Returns the rows where any count differs, with both values side by side.

select
    results.election_id,
    results.bureau_id,
    results.registered,
    bureaux.registered as loaded_registered,
    results.voters,
    bureaux.voters as loaded_voters,
    results.abstentions,
    bureaux.abstentions as loaded_abstentions,
    results.valid_votes,
    bureaux.valid_votes as loaded_valid_votes,
    results.blank_votes,
    bureaux.blank_votes as loaded_blank_votes,
    results.null_votes,
    bureaux.null_votes as loaded_null_votes
from {{ ref('polling_station_results') }} as results
inner join {{ ref('stg_elections__bureau_results') }} as bureaux
    on results.election_id = bureaux.election_id
    and results.bureau_id = bureaux.bureau_id
where results.registered is distinct from bureaux.registered
    or results.voters is distinct from bureaux.voters
    or results.abstentions is distinct from bureaux.abstentions
    or results.valid_votes is distinct from bureaux.valid_votes
    or results.blank_votes is distinct from bureaux.blank_votes
    or results.null_votes is distinct from bureaux.null_votes
