"""pipeline.gate.import_in_background: stage 4's imports, done while stages 1-3 run."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from pipeline.gate import STAGE_4_MODULES, import_in_background


def test_the_modules_are_imported_when_the_thread_is_joined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scrutin_warm_a.py").write_text("VALUE = 1\n", encoding="utf-8")
    (tmp_path / "scrutin_warm_b.py").write_text("import scrutin_warm_a\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("scrutin_warm_a", "scrutin_warm_b"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    thread = import_in_background(["scrutin_warm_b", "scrutin_warm_a"])
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert sys.modules["scrutin_warm_a"].VALUE == 1
    assert "scrutin_warm_b" in sys.modules


def test_a_module_that_fails_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "scrutin_warm_broken.py").write_text("raise RuntimeError('no')\n", "utf-8")
    (tmp_path / "scrutin_warm_after.py").write_text("VALUE = 2\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("scrutin_warm_broken", "scrutin_warm_after"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    with caplog.at_level(logging.ERROR, logger="pipeline.gate"):
        thread = import_in_background(["scrutin_warm_broken", "scrutin_warm_after"])
        thread.join(timeout=30)

    assert "background import of scrutin_warm_broken failed" in caplog.text
    # the stage that needs a module imports it itself: nothing after a failure is imported
    assert "scrutin_warm_after" not in sys.modules


def test_stage_4_modules_exist() -> None:
    import importlib.util

    assert all(importlib.util.find_spec(name) for name in STAGE_4_MODULES)
