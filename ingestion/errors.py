"""Errors raised when a source file cannot be trusted.

A campaign data engineer who gets a refused file must be able to open it at the right line and
see what is wrong without reading our code, so every error names the file, the physical line
(header = line 1), the column and what was expected instead of what was found.
"""

from __future__ import annotations

from pathlib import Path


class SourceFormatError(ValueError):
    """A source file does not follow the layout its parser expects.

    It subclasses ValueError so callers that only know "bad input" still catch it, while Airflow
    tasks can tell it apart from infrastructure errors (bad data fails the task without retries).

    Attributes:
        path: the file, or None when the error is about data not yet tied to a file.
        line: 1-based physical line number in the file (the header is line 1), or None.
        column: the column name the error is about, or None for whole-line errors.
        reason: what was expected and what was found, without the location prefix.
    """

    def __init__(
        self,
        path: str | Path | None,
        line: int | None,
        column: str | None,
        reason: str,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.column = column
        self.reason = reason
        super().__init__(self._render())

    def _render(self) -> str:
        where: list[str] = []
        if self.path is not None:
            where.append(self.path.name)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason

    def __reduce__(self) -> tuple[type[SourceFormatError], tuple[object, ...]]:
        # Exceptions cross process boundaries (Airflow task runners, multiprocessing): keep the
        # structured attributes instead of collapsing to the rendered message.
        return (type(self), (self.path, self.line, self.column, self.reason))


def ledger_error(exc: BaseException) -> str:
    """The error text a failed load records in the ledger.

    Our own data errors carry a complete message (file, line, column, what was expected); any
    other exception is also named by its type, which its message alone often does not say.
    """
    return str(exc) if isinstance(exc, SourceFormatError) else f"{type(exc).__name__}: {exc}"
