"""Open a census source as a text stream: a zip member, a plain CSV or a gzipped CSV.

INSEE ships each base-ic / Filosofi file as a zip holding the data CSV (upper-case `.CSV` member
name for base-ic) and a `meta_*.CSV` dictionary beside it. The data member is found by the
registry's `member` regex, or as the one CSV that is not a `meta_` file; anything else (no
member, two candidates) is refused with the zip's listing, because guessing would load the
dictionary as data or the wrong theme.

Nothing is extracted to disk: the member is decompressed as it is read.
"""

from __future__ import annotations

import gzip
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingestion.errors import SourceFormatError
from ingestion.textlines import BROKEN_STREAM, LineSource, broken_stream, guarded_lines


@dataclass(frozen=True)
class OpenedSource:
    """The decoded lines of the data and how to name it in errors (`file.zip!MEMBER.CSV`)."""

    stream: Iterator[str]
    display_path: Path
    member: str | None = None
    meta_member: str | None = None


def _python_encoding(encoding: str) -> str:
    # INSEE writes UTF-8, sometimes with a BOM: utf-8-sig reads both.
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def decoded_lines(raw: LineSource, encoding: str, display_path: Path) -> Iterator[str]:
    """Decode line by line, so a byte the encoding refuses is reported on its own line.

    (A TextIOWrapper decodes 8 KiB blocks ahead and would blame an earlier line.) Lines come
    through `guarded_lines`: a NUL byte, a line without end or a cut archive is refused there.
    """
    codec = _python_encoding(encoding)
    for number, line in guarded_lines(raw, display_path):
        try:
            yield line.decode(codec)
        except UnicodeDecodeError as exc:
            raise SourceFormatError(
                display_path,
                number,
                None,
                f"not valid {encoding} text ({exc.reason} at byte {exc.start} of the line)",
            ) from exc


def _is_data_member(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    return base.lower().endswith(".csv") and not base.lower().startswith("meta_")


def choose_member(path: Path, names: list[str], pattern: str | None) -> tuple[str, str | None]:
    """The data member of a zip (and its `meta_` dictionary, if any)."""
    files = [n for n in names if not n.endswith("/")]
    if not files:
        raise SourceFormatError(
            path, None, None, "the zip holds no file: expected the INSEE data CSV inside it"
        )
    if pattern:
        regex = re.compile(pattern, re.IGNORECASE)
        candidates = [n for n in files if regex.fullmatch(n.rsplit("/", 1)[-1])]
        expected = f"a member matching {pattern!r}"
    else:
        candidates = [n for n in files if _is_data_member(n)]
        expected = "one data CSV besides the meta_*.CSV dictionary"
    if len(candidates) != 1:
        found = "none" if not candidates else f"{len(candidates)}: {', '.join(candidates)}"
        raise SourceFormatError(
            path,
            None,
            None,
            f"zip has no usable data member: expected {expected}, found {found} "
            f"(members: {', '.join(files) or 'none'})",
        )
    member = candidates[0]
    metas = [n for n in files if n.rsplit("/", 1)[-1].lower().startswith("meta_")]
    return member, (metas[0] if metas else None)


@contextmanager
def open_census_source(
    path: str | Path, *, member: str | None = None, encoding: str = "utf-8"
) -> Iterator[OpenedSource]:
    """Yield the decoded lines of `path` (zip member, .gz or plain CSV)."""
    path = Path(path)
    if not path.exists():
        raise SourceFormatError(path, None, None, "file not found")
    if zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise SourceFormatError(path, None, None, f"unreadable zip: {exc}") from exc
        with archive:
            name, meta = choose_member(path, archive.namelist(), member)
            display = Path(f"{path.name}!{name.rsplit('/', 1)[-1]}")
            try:
                member_stream = archive.open(name)
            except BROKEN_STREAM as exc:
                raise broken_stream(display, None, exc) from None
            with member_stream:
                yield OpenedSource(
                    decoded_lines(member_stream, encoding, display), display, name, meta
                )
        return
    if path.suffix.lower() == ".zip":
        # is_zipfile found no zip directory: an empty file, or one cut before its end.
        raise SourceFormatError(
            path, None, None, "not a readable zip (empty, or truncated before its directory)"
        )
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as raw:
        yield OpenedSource(decoded_lines(raw, encoding, path), path)
