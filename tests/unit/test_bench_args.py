"""The national benchmark refuses a knocks-only run without a loaded database, before any work."""

from __future__ import annotations

import pytest

from benchmarks.bench_national import main


def test_knocks_only_needs_a_loaded_database(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--scale", "0.01", "--knocks-only"])
    assert exited.value.code == 2
    assert "--knocks-only needs --loaded" in capsys.readouterr().err
