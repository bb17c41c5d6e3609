"""Every `scrutin` command shown in the README and docs/ exists, with the flags shown.

A newcomer copies commands from the docs: one that names a removed sub-command or a renamed flag
costs them an hour. The commands are read from fenced code blocks (a line starting with
`scrutin`, `.venv/bin/scrutin` or `$ scrutin`) and from inline code spans (`` `scrutin …` ``),
then walked through the real argparse tree of `pipeline.cli.build_parser()`.
Placeholders (`FILE`, `<source>`, `[--json]`, `…`) stop the check where they stand.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
PROGRAM = re.compile(r"^(?:\$\s+)?(?:\S*/)?(?:\.venv/bin/)?scrutin(?=\s|$)")
INLINE = re.compile(r"`((?:\.venv/bin/)?scrutin [^`]+)`")
FENCE = re.compile(r"^\s*(```|~~~)")


def _commands(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, command text) of every scrutin invocation in a Markdown file."""
    in_fence = False
    pending: tuple[int, str] | None = None
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        number = line_number
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            text = line.strip()
            if pending is not None:
                start, before = pending
                text = before + " " + text
                number = start
                pending = None
            elif not PROGRAM.match(text):
                continue
            if text.endswith("\\"):
                pending = (number, text[:-1])
                continue
            for part in re.split(r"\s(?:&&|\|\||\||;)\s", text):
                if PROGRAM.match(part.strip()):
                    yield number, part.strip()
        else:
            for match in INLINE.finditer(line):
                yield number, match.group(1)


def _is_placeholder(token: str) -> bool:
    bare = token.strip("[]{}()<>,.")
    return (
        not bare
        or any(c in token for c in "<>[]{}…|")
        or "..." in token
        or (bare.isupper() and not bare.startswith("-"))
    )


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def check(command: str) -> str | None:
    """None when `command` is valid for the real parser, else what is wrong."""
    text = re.sub(r"\s+#.*$", "", command)  # a trailing shell comment
    try:
        tokens = shlex.split(text)
    except ValueError:
        tokens = text.split()
    if tokens and tokens[0] == "$":
        tokens = tokens[1:]
    tokens = tokens[1:]  # the program itself
    parser = build_parser()
    path = ["scrutin"]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if _is_placeholder(token):
            return None
        if token.startswith("-"):
            flag = token.split("=", 1)[0]
            action = parser._option_string_actions.get(flag)
            if action is None:
                return f"`{' '.join(path)}` has no option {flag}"
            takes_value = action.nargs != 0 and "=" not in token
            index += 2 if takes_value else 1
            continue
        sub = _subparsers(parser)
        if sub is None:
            index += 1  # a positional argument (a file, an id)
            continue
        if "/" in token:  # alternatives: `scrutin results load/tidy`
            missing = [t for t in token.split("/") if t not in sub.choices]
            return f"`{' '.join(path)}` has no sub-command {missing[0]!r}" if missing else None
        if token not in sub.choices:
            return f"`{' '.join(path)}` has no sub-command {token!r}"
        parser = sub.choices[token]
        path.append(token)
        index += 1
    return None


FOUND = [
    pytest.param(cmd, id=f"{path.relative_to(ROOT)}:{line}")
    for path in DOCS
    for line, cmd in _commands(path)
]


def test_the_docs_show_commands() -> None:
    # The extraction itself can break (a regex, a fence style): the docs do show many commands.
    assert len(FOUND) > 40
    assert any(str(p.values[0]).startswith("scrutin plan --hours") for p in FOUND)


@pytest.mark.parametrize("command", FOUND)
def test_documented_command_exists_with_its_flags(command: str) -> None:
    problem = check(command)
    assert problem is None, f"{command!r}: {problem}"


def test_the_checker_catches_a_wrong_command_and_a_wrong_flag() -> None:
    assert check("scrutin plan --hours 40 --format csv") is None
    assert check("scrutin ingest elections FILE --election-id 2024_legi_t1") is None
    assert "no sub-command 'plans'" in (check("scrutin plans --hours 4") or "")
    assert "no option --hour" in (check("scrutin plan --hour 4") or "")
    assert "no option --nope" in (check("scrutin --nope status") or "")
    assert check("$ .venv/bin/scrutin results load/tidy FILE") is None
    assert "'tidying'" in (check("scrutin results load/tidying") or "")


def test_the_runbook_lists_every_dag() -> None:
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    table = runbook[runbook.index("## DAGs") : runbook.index("## Exit codes")]
    dag_ids = {
        m.group(1)
        for f in (ROOT / "dags").glob("*.py")
        for m in re.finditer(r'dag_id="([^"]+)"', f.read_text(encoding="utf-8"))
    }
    assert len(dag_ids) >= 7
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE))
    assert listed == dag_ids


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    sources = [
        f
        for package in ("scrutin", "ingestion", "pipeline", "expectations", "dags")
        for f in (ROOT / package).rglob("*.py")
    ]
    names = {
        name
        for f in sources
        for name in re.findall(r"[\"'](SCRUTIN_[A-Z0-9_]+)[\"']", f.read_text(encoding="utf-8"))
    }
    assert "SCRUTIN_DATABASE_URL" in names
    missing = sorted(name for name in names if f"`{name}`" not in documented)
    assert not missing, f"not in docs/configuration.md: {missing}"
