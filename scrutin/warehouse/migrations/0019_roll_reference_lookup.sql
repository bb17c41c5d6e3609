-- Migration 0019: the roll loader checks each extract's bureaux against the bureau reference one
-- key at a time (issue 15, docs/performance.md). Before, every roll extract read the whole
-- reference (every REU bureau and every results bureau: ~350,000 rows nationally) to check the
-- two or three bureaux of its commune, ~35,000 times for a national roll. These indexes make
-- each lookup an index probe.

create index if not exists reu_bureaux_bureau_id on raw.reu_bureaux (bureau_id);
create index if not exists election_results_bureau_bureau_id
    on raw.election_results_bureau (bureau_id);
