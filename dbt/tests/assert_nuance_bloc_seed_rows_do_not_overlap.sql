-- Two rows of seeds/nuance_blocs.csv with the same nuance, election type and version must not
-- both apply to one year: the model could then pick either bloc. Returns each overlapping pair.

with

nuance_blocs as (

    select * from {{ ref('nuance_blocs') }}

),

overlapping_rows as (

    select
        earlier.nuance,
        earlier.election_type,
        earlier.version,
        earlier.valid_from_year as earlier_from,
        earlier.valid_to_year as earlier_to,
        later.valid_from_year as later_from,
        later.valid_to_year as later_to
    from nuance_blocs as earlier
    inner join nuance_blocs as later
        on
            earlier.nuance = later.nuance
            and earlier.election_type = later.election_type
            and earlier.version = later.version
            and earlier.valid_from_year < later.valid_from_year
    where earlier.valid_to_year is null or earlier.valid_to_year >= later.valid_from_year

)

select * from overlapping_rows
