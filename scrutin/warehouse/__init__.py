"""The warehouse layer: the versioned layout (migrations), the batch ledger and the load template.

It sits between the base (`scrutin.config`, `scrutin.db`, `scrutin.campaign`,
`scrutin.vocabulary`) and the sources: it imports nothing else of Scrutin, not even inside a
function, so every source can build on it without a cycle.
- `migrate`: `scrutin setup` applies `migrations/NNNN_name.sql` once each; everything else only
  checks the recorded version (`require_migrated`).
- `ledger`: `raw.batch_ledger`, one row per attempt to land a file.
- `batch`: the one load template (connection, sha256, lock, skip or replace, ledger, failure).
"""
