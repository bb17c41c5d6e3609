"""Argument types shared by the `scrutin` sub-commands: paths checked before any work starts.

A command given a missing input file, or an output in a folder that does not exist, is refused
by argparse (exit code 2, usage) naming the path, before it connects to anything: with the
database down as well, the operator still learns first about the file they mistyped. Nothing
creates folders behind the operator's back.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def input_path(value: str) -> str:
    """An existing file or folder to read."""
    if not Path(value).exists():
        raise argparse.ArgumentTypeError(f"no such file or folder: {value}")
    return value


def input_file(value: str) -> str:
    """An existing regular file to read."""
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"not a file: {value}")
    return value


def output_file(value: str) -> str:
    """A file to write, in a folder that exists; `-` is standard output."""
    if value == "-":
        return value
    path = Path(value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a folder: name the file to write")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(
            f"the folder of {value} does not exist ({path.parent}): create it first"
        )
    return value


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """`--json`: the command's report as JSON on standard output, for a tool to read."""
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON (for scripts and tools)"
    )


def print_json(report: object) -> None:
    """Print a report (a dataclass, or a list of them) as JSON: dates as ISO text, paths as
    text, tuples as lists."""
    import dataclasses
    import json

    def plain(value: object) -> object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        return str(value)  # dates (ISO), paths, decimals

    print(json.dumps(plain(report), indent=2, ensure_ascii=False))
