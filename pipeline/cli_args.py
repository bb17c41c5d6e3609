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
