"""Every raw-data suite of every source, in one place.

`expectations/suites.py` holds the election-results suites; each other source contributes a module
`expectations/suites_<source>.py` exporting `SUITES` (name -> SuiteSpec) and `RAW_SUITES` (the
names the audit gate runs). They are discovered here, so the gate runs every suite without a list
to keep in sync. Importing this module does not import Great Expectations.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType

import expectations
from expectations.suites import SuiteSpec


def _modules() -> list[ModuleType]:
    contributed = sorted(
        f"expectations.{m.name}"
        for m in pkgutil.iter_modules(expectations.__path__)
        if m.name.startswith("suites_")
    )
    names = ["expectations.suites", *contributed]
    return [importlib.import_module(name) for name in names]


@cache
def all_suites() -> dict[str, SuiteSpec]:
    suites: dict[str, SuiteSpec] = {}
    for module in _modules():
        for name, spec in getattr(module, "SUITES", {}).items():
            if name in suites:
                raise ValueError(f"suite {name!r} is defined twice (second in {module.__name__})")
            suites[name] = spec
    return suites


def raw_suite_names() -> tuple[str, ...]:
    """Suites on `raw` tables: run by each ingestion DAG, and by the audit gate when
    their tables moved since their last passed validation (expectations/validations.py)."""
    names: list[str] = []
    for module in _modules():
        names.extend(getattr(module, "RAW_SUITES", ()))
    unknown = [n for n in names if n not in all_suites()]
    if unknown:
        raise ValueError(f"RAW_SUITES names unknown suites: {unknown}")
    return tuple(names)
