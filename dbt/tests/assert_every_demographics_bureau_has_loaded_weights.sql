-- Every bureau of bureau_demographics receives census counts through IRIS -> bureau weights of
-- a loaded batch (stg_geography__iris_bureau_weights), the allocation's only source: a bureau
-- without them was invented by a join. Returns those bureaux.

select demographics.bureau_id
from {{ ref('bureau_demographics') }} as demographics
where not exists (
    select 1
    from {{ ref('stg_geography__iris_bureau_weights') }} as weights
    where weights.bureau_id = demographics.bureau_id
)
