"""Loaders, one module per source: they stream parsed records into `raw` with COPY.

A loader owns the transaction and the batch ledger row; the parsing rules live in
`ingestion.sources`, so a layout change never touches load semantics and vice versa.
"""
