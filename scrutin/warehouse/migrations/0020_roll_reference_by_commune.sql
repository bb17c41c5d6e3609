-- Migration 0020: the roll loader reads the bureau reference of each extract's commune by its
-- commune code (ingestion/loaders/roll.py, ReferenceLookup), never by a bureau cell of the roll:
-- a roll's bureau column may hold anything a clerk typed, and a query parameter can reach the
-- server's log. These indexes make the per-commune read an index scan (~35,000 extracts
-- nationally). The bureau_id indexes of 0019 stay: joins and lookups by bureau use them.

create index if not exists reu_bureaux_code_commune_results
    on raw.reu_bureaux (code_commune_results);
create index if not exists election_results_bureau_code_commune
    on raw.election_results_bureau (code_commune);
