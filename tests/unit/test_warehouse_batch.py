"""The batch-load template, the pure part: progress counting, names, error texts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from scrutin.warehouse.batch import BatchLoad, Run, default_error_text


def _run(**load: Any) -> Run:
    spec = BatchLoad(
        source="toy", path=Path("/landing/a.csv"), dataset_key="d1", label="a.csv", **load
    )
    return Run(spec, "0" * 64, spec.dataset_key, spec.scope, spec.label)


def test_progress_is_logged_each_time_a_multiple_is_passed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    run = _run(progress_every=10, unit="bureaux", logger=logging.getLogger("toy"))
    with caplog.at_level(logging.INFO, logger="toy"):
        for _ in range(9):
            run.count()
        run.count()  # 10
        run.count(25)  # 35: passes 20 and 30, one line
        run.count(3)  # 38: none
    assert run.rows_read == 38
    assert [r.getMessage() for r in caplog.records] == [
        "a.csv: 10 bureaux read",
        "a.csv: 35 bureaux read",
    ]


def test_on_a_terminal_the_live_line_replaces_the_log_lines(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    run = _run(progress_every=10, unit="bureaux", logger=logging.getLogger("toy"))
    run.started -= 10  # a load running for 10 s: past the live line's delay
    with caplog.at_level(logging.INFO, logger="toy"):
        run.count(35)
    assert caplog.records == []
    assert "a.csv: 35 bureaux" in tty.getvalue()
    run.end_progress()
    assert tty.getvalue().endswith("\r")


def test_the_ledger_names_the_file_not_its_folder() -> None:
    assert _run().ledger_name == "a.csv"
    assert _run(ledger_name="g.csv+c.csv").ledger_name == "g.csv+c.csv"


def test_the_default_error_text_names_the_exception_type() -> None:
    assert default_error_text(KeyError("code_bv")) == "KeyError: 'code_bv'"
