"""Each source's loader, called the way its CLI command calls it, for a corpus case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.hostile.corpus import HOSTILE_ELECTION, Case


def load_case(url: str, case: Case, path: Path) -> Any:
    """Load `path` with the loader of `case.source` (and the case's options); its report."""
    options = dict(case.options)
    if case.source == "results":
        from ingestion.loaders.elections import load_results_file

        return load_results_file(url, path, options.pop("election_id", HOSTILE_ELECTION), **options)
    if case.source == "reu":
        from ingestion.loaders.reu import load_reu_file

        return load_reu_file(url, path, **options)
    if case.source == "roll":
        from ingestion.loaders.roll import load_roll_file

        return load_roll_file(url, path, **options)
    if case.source == "census":
        from ingestion.census.pipeline import load_path

        options.setdefault("theme", "population")
        options.setdefault("vintage", 2021)
        return load_path(url, path, **options)
    if case.source == "geo":
        from ingestion.geo.loader import load_geo_file

        return load_geo_file(url, path, options.pop("kind", "iris"), **options)
    if case.source == "canvass":
        from ingestion.canvass.loader import load_canvass_file
        from tests.fixtures.canvass.support import CAMPAIGN, NOW, SECRET

        return load_canvass_file(url, path, campaign=CAMPAIGN, secret=SECRET, now=NOW, **options)
    raise AssertionError(f"unknown source {case.source!r}")
