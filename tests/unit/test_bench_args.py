"""The national benchmark's arguments: a knocks-only run needs a loaded database, the loaders'
floor, and where a delivery's knocks fall."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from benchmarks.bench_national import DAY_BUREAUX, main, plan_delivery, slowest_vs_copy_written


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


def test_a_day_delivery_is_one_day_after_the_latest_in_a_few_bureaux() -> None:
    from ingestion.canvass import sample

    bureaux = [f"29019_{i:04d}" for i in range(1, 1001)]
    latest = dt.date(2026, 11, 20)
    where = plan_delivery("day", bureaux, latest, random.Random(7))
    assert len(set(where.bureaux)) == DAY_BUREAUX
    assert set(where.bureaux) <= set(bureaux)
    knocks = sample.make_knocks(
        random.Random(7),
        2_000,
        prefix="T-",
        bureaux=where.bureaux,
        canvassers=["c1", "c2"],
        start=where.start,
        days=where.days,
    )
    # every knock on the next day in Paris (the campaign's latest day moves by one), none before
    assert {k.at.astimezone(sample.PARIS).date() for k in knocks} == {dt.date(2026, 11, 21)}
    assert {k.bureau for k in knocks} <= set(where.bureaux)
    # a warehouse without knocks: the day after the sample campaign's last day
    empty = plan_delivery("day", bureaux, None, random.Random(7))
    assert empty.start.date() == sample.DEFAULT_ANCHOR + dt.timedelta(days=1)


def test_a_spread_delivery_covers_every_bureau_and_day_of_the_campaign() -> None:
    from ingestion.canvass import sample

    bureaux = ["29019_0001", "29019_0002"]
    where = plan_delivery("spread", bureaux, dt.date(2030, 1, 1), random.Random(1))
    assert where.bureaux == bureaux
    assert where.days == sample.CAMPAIGN_DAYS
    assert where.start.date() == sample.DEFAULT_ANCHOR - dt.timedelta(days=sample.CAMPAIGN_DAYS - 1)
    with pytest.raises(ValueError, match="unknown delivery shape 'week'"):
        plan_delivery("week", bureaux, None, random.Random(1))
