"""Where the census DAG looks: a registry of URLs (production) or a landing folder (demo, tests).

- `SCRUTIN_CENSUS_REGISTRY`: a registry YAML (e.g. `config/census_registry.yml`) — URL entries
  are fetched, path entries read in place;
- otherwise `SCRUTIN_CENSUS_DIR/manifest.yml` (default `data/sample/census/`): the landing
  folder's manifest, same schema, usually path entries (the bundled synthetic sample).
"""

from __future__ import annotations

import os
from pathlib import Path

from scrutin.config import landing_dir


def census_dir() -> Path:
    return landing_dir("census")


def census_registry_path() -> Path:
    explicit = os.environ.get("SCRUTIN_CENSUS_REGISTRY")
    return Path(explicit) if explicit else census_dir() / "manifest.yml"
