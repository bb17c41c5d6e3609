-- Every row of polling_station_results is a bureau of a loaded results file
-- (stg_elections__bureau_results: `loaded` batches only): the mart invents no bureau and keeps
-- none of a superseded or failed file. Returns the rows that are not.

select
    results.election_id,
    results.bureau_id
from {{ ref('polling_station_results') }} as results
where not exists (
    select 1
    from {{ ref('stg_elections__bureau_results') }} as bureaux
    where bureaux.election_id = results.election_id
        and bureaux.bureau_id = results.bureau_id
)
