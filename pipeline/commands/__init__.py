"""Sub-commands contributed by each source: every module here has

    def register(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None

which adds its parsers (`scrutin ingest <source>` under `ingest`, other verbs under `top`) and sets
`func` on them (`func(args) -> int`). Modules are discovered automatically; keep their imports
light (heavy libraries inside the command functions).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def register_all(top: argparse._SubParsersAction, ingest: argparse._SubParsersAction) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(top, ingest)
