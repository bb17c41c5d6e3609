"""The national benchmark refuses a knocks-only run without a loaded database, before any work."""

from __future__ import annotations

import pytest

from benchmarks.bench_national import main, slowest_vs_copy_written


def test_knocks_only_needs_a_loaded_database(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--scale", "0.01", "--knocks-only"])
    assert exited.value.code == 2
    assert "--knocks-only needs --loaded" in capsys.readouterr().err


def test_the_slowest_against_written_rows_leaves_out_loaders_that_aggregate() -> None:
    loads = [
        # results: 69,000 lines, a row per candidate
        {
            "stage": "results",
            "rows": 69_000,
            "rows_written": {"c": 657_593},
            "vs_copy_written": 0.2,
        },
        # roll: 54 M lines counted into 0.7 M rows: compared to its file only
        {
            "stage": "roll",
            "rows": 53_795_866,
            "rows_written": {"r": 713_508},
            "vs_copy_written": 0.0,
        },
        {
            "stage": "census",
            "rows": 46_855,
            "rows_written": {"v": 1_780_490},
            "vs_copy_written": 0.12,
        },
    ]
    assert slowest_vs_copy_written(loads)["stage"] == "census"
    assert slowest_vs_copy_written(loads[1:2]) == {}
