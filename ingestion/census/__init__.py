"""INSEE census at IRIS level (`base-ic-*` themes) and Filosofi IRIS income.

Modules, one job each:
- `registry`: what a census file is (theme, vintage, geography year, source) — the YAML registry
  that lets a new vintage load without code;
- `columns`: which header columns are keys, IRIS attributes or indicators, by name pattern;
- `reader`: open a zip / CSV / CSV.gz member as a stream of text lines;
- `parser`: validate and parse rows into IRIS attributes and long indicator values;
- `loader`: COPY one file into `raw.census_iris` / `raw.census_iris_values` (ledger, idempotent);
- `pynsee_catalogue` and `acquire`: fetch a registry entry (pynsee's catalogue first, else the
  registry URL through `ingestion.download`).
"""
