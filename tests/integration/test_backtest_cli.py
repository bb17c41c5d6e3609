"""`scrutin backtest` against a warehouse: refusals that name the elections, the JSON metrics,
and a published run whose every metric recomputes from mart.backtest_bureaux' rows."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import psycopg
import pytest

from pipeline import exit_codes
from pipeline.cli import main
from pipeline.commands import backtest as command
from scrutin.vocabulary import BLOCS

pytestmark = pytest.mark.db

HISTORY = "mart_audit.test_backtest_history"
# (election, date, bureau, registered, voters, valid, left votes, centre votes, far right votes)
ROWS = [
    ("2099_bta_t1", date(2099, 3, 1), "29019_0001", 200, 100, 100, 40, 30, 30),
    ("2099_bta_t1", date(2099, 3, 1), "29019_0002", 200, 100, 100, 30, 30, 40),
    ("2099_bta_t1", date(2099, 3, 1), "29019_0003", 200, 100, 100, 20, 40, 40),
    ("2099_btb_t1", date(2099, 6, 1), "29019_0001", 200, 150, 100, 45, 25, 30),
    ("2099_btb_t1", date(2099, 6, 1), "29019_0002", 200, 140, 100, 35, 35, 30),
    ("2099_btb_t1", date(2099, 6, 1), "29019_0003", 200, 160, 100, 20, 40, 40),
    ("2099_btc_t1", date(2099, 9, 1), "29099_0001", 200, 100, 100, 50, 25, 25),
]


@pytest.fixture
def history(conn: psycopg.Connection, warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "HISTORY_TABLE", HISTORY)
    monkeypatch.setenv("SCRUTIN_DATABASE_URL", warehouse_url)
    conn.execute("create schema if not exists mart_audit")
    conn.execute(f"drop table if exists {HISTORY}")
    votes = ", ".join(f"votes_{b} integer" for b in BLOCS)
    conn.execute(
        f"create table {HISTORY} (election_id text, election_date date, bureau_id text, "
        f"registered integer, voters integer, valid_votes integer, {votes})"
    )
    with (
        conn.cursor() as cur,
        cur.copy(
            f"copy {HISTORY} (election_id, election_date, bureau_id, registered, voters, "
            "valid_votes, votes_left, votes_centre, votes_far_right) from stdin"
        ) as copy,
    ):
        for row in ROWS:
            copy.write_row(row)


def test_json_metrics_and_a_published_run_that_recomputes(
    history: None,
    conn: psycopg.Connection,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["backtest", "--reference", "2099_bta_t1", "--target", "2099_btb_t1", "--format", "json"]
    )
    assert code == 0
    payload: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert payload["n_bureaux"] == 3 and payload["references"] == ["2099_bta_t1"]
    keys = {"quantity", "predictor", "n", "mae", "r2", "spearman"}
    assert all(keys <= set(m) for m in payload["metrics"])
    predictors = {m["predictor"] for m in payload["metrics"]}
    assert predictors == {"model", "carry_forward", "uniform_swing", "territory_mean"}
    share = next(
        m for m in payload["metrics"] if (m["quantity"], m["predictor"]) == ("bloc_share", "model")
    )
    # predicted .40 .30 .20, actual .45 .35 .20: MAE (0.05 + 0.05 + 0) / 3
    assert share["mae"] == pytest.approx(0.1 / 3)
    run = conn.execute(
        "select params_version, reference_ids, target_id, n_bureaux from scores.backtest_runs "
        "where run_id = %s",
        (payload["run_id"],),
    ).fetchone()
    assert run is not None and run[1:] == (["2099_bta_t1"], "2099_btb_t1", 3)
    assert run[0] == payload["params_version"]
    mae = conn.execute(
        "select avg(abs(predicted - actual)) from scores.backtest_bureaux where run_id = %s "
        "and quantity = 'bloc_share' and predictor = 'model'",
        (payload["run_id"],),
    ).fetchone()
    assert mae is not None and float(mae[0]) == pytest.approx(share["mae"])
    conn.execute("delete from scores.backtest_runs where run_id = %s", (payload["run_id"],))


def test_unknown_elections_and_no_common_bureau_are_refused(
    history: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["backtest", "--reference", "2099_nope_t1", "--target", "2099_btb_t1"])
    assert code == exit_codes.BAD_INPUT
    err = capsys.readouterr().err
    assert "unknown election id(s) 2099_nope_t1" in err and "2099_bta_t1" in err
    code = main(["backtest", "--reference", "2099_bta_t1", "--target", "2099_btc_t1"])
    assert code == exit_codes.BAD_INPUT
    assert "no bureau has results at every reference" in capsys.readouterr().err
    code = main(["backtest", "--reference", "2099_bta_t1", "--target", "2099_bta_t1"])
    assert code == exit_codes.BAD_INPUT
    assert "cannot also be a reference" in capsys.readouterr().err


def test_table_output_and_sensitivity_without_publishing(
    history: None, conn: psycopg.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    before = conn.execute("select count(*) from scores.backtest_runs").fetchone()
    code = main(
        [
            "backtest",
            "--reference",
            "2099_bta_t1",
            "--target",
            "2099_btb_t1",
            "--no-publish",
            "--sensitivity",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "uniform_swing" in out and "territory_mean" in out
    assert "profile us" in out
    assert conn.execute("select count(*) from scores.backtest_runs").fetchone() == before
