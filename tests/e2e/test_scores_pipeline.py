"""The targeting scores end to end on the bundled sample: every ingestion DAG, then the gate.

The e2e tier's demo warehouse (tests/e2e/conftest.py), loaded exactly as `make demo` loads the
demo one: the five ingestion DAGs with `dag.test()`, then `build_audit_publish`: dbt stage 1,
the ecological fit, dbt stage 2 (tag `scores`), the expectations, the publication. The tests read
the published marts and recompute them independently with the Python reference formulas
(scrutin/scores/formulas.py), the stored fit coefficients and the plan algorithm.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.rows import dict_row

from scrutin.config import warehouse_environment
from scrutin.scores import formulas as f
from scrutin.scores.params import load_score_params
from tests.conftest import ROOT
from tests.e2e.conftest import DemoWarehouse

pytestmark = [pytest.mark.db, pytest.mark.slow]

TOLERANCE = 1e-9

# Columns that depend on tau, on ridge_lambda, and on neither (tests of a changed parameter).
TAU_COLUMNS = ("net_per_conversation", "net_mobilisation", "value_per_canvasser_hour", "why")
LAMBDA_COLUMNS = ("predicted_bloc_share", "ecological_gap")
STABLE_COLUMNS = (
    "intermittent_voters",
    "reservoir",
    "q_mobilisable",
    "q_updated",
    "rival_share_updated",
    "net_margin",
    "volatility_pedersen",
    "persuadable_share",
    "open_rate_estimate",
    "coverage",
    "persuasion",
    "registration_potential",
    "doors",
)


@pytest.fixture(scope="module")
def scored(demo_warehouse: DemoWarehouse) -> Iterator[str]:
    """The demo warehouse (every demo DAG, gate included); the CLI and summaries read it too."""
    patch = pytest.MonkeyPatch()
    for key, value in warehouse_environment(demo_warehouse.url).items():
        patch.setenv(key, value)
    try:
        yield demo_warehouse.url
    finally:
        patch.undo()


@pytest.fixture
def db(scored: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(scored, autocommit=True, row_factory=dict_row) as c:
        yield c


def _rows(db: psycopg.Connection[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    return db.execute(query).fetchall()  # type: ignore[arg-type]


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=TOLERANCE)


def test_every_published_table_of_the_issue_exists(db: psycopg.Connection[Any]) -> None:
    tables = {
        r["tablename"]
        for r in _rows(db, "select tablename from pg_tables where schemaname = 'mart'")
    }
    assert {
        "polling_station_targeting",
        "canvass_plan",
        "commune_summary",
        "bureau_demographics",
    } <= tables


def test_one_row_per_bureau_dense_ranks_and_current_params(db: psycopg.Connection[Any]) -> None:
    params = load_score_params()
    stats = _rows(
        db,
        "select count(*) as n, count(distinct targeting_rank) as ranks, min(targeting_rank) as lo,"
        " max(targeting_rank) as hi, count(value_per_canvasser_hour) as scored,"
        " count(*) filter (where do_not_mobilise) as dnm,"
        " array_agg(distinct params_version) as versions,"
        " (select count(*) from mart.polling_stations) as stations"
        " from mart.polling_station_targeting",
    )[0]
    assert stats["n"] == stats["stations"]
    # Only scored bureaux are ranked, 1..n; a bureau without both references has no rank.
    assert stats["ranks"] == stats["hi"] == stats["scored"]
    assert stats["lo"] == 1
    assert stats["versions"] == [params.params_version()]
    # Every bureau of the Ministry's 2024 files has both (real) reference elections.
    assert stats["scored"] == 201
    # The left trails its rival in part of the bureaux only (it led in most of Brest).
    assert 0 < stats["dnm"] < 201


def test_do_not_mobilise_exactly_where_the_left_does_not_lead_at_h(
    db: psycopg.Connection[Any],
) -> None:
    """Done-when of issue 11, on the real 2024 results: no bureau where the bloc led its rival
    at the reference election is excluded unless k_min canvass answers say otherwise, and with
    tau = 0 (fr profile) the plan is not bureau-id order."""
    params = load_score_params()
    assert params.tau == 0.0
    rows = _rows(db, "select * from mart.polling_station_targeting where net_margin is not null")
    for row in rows:
        led = row["bloc_share_high"] > row["rival_share_high"]
        if row["support_suppressed"]:
            assert row["do_not_mobilise"] is (not led), row["bureau_id"]
        if row["do_not_mobilise"]:
            assert "do not mobilise" in row["why"] and row["rival_bloc"] in row["why"]
    ranked = sorted((r for r in rows if r["targeting_rank"]), key=lambda r: r["targeting_rank"])
    ids = [r["bureau_id"] for r in ranked if not r["do_not_mobilise"]]
    assert ids != sorted(ids)
    values = [r["value_per_canvasser_hour_uncovered"] for r in ranked if not r["do_not_mobilise"]]
    assert max(values) > min(values) > 0  # spread by the bureaux' volatility


def _canvass_estimates(
    params: Any,
    priors: tuple[float, float, float],
    c: dict[str, Any] | None,
    reference: dict[str, int],
    reference_conv: int,
) -> tuple[Any, Any, float, Any]:
    """q and the rival's share (relative updates), the persuadable share and the open rate
    (Beta updates), each from the published step of k_min or more support answers (knocks for
    the open rate) only."""
    q, rival_share, volatility = priors
    conversations = c["conversations"] if c else 0
    answered = c["support_answers"] if c else 0

    def update(prior: float, answer: str) -> Any:
        return f.relative_rate_update(
            prior,
            params.kappa,
            c[f"support_{answer}"] if c else 0,
            answered,
            city_successes=reference[answer],
            city_trials=reference_conv,
            k_min=params.k_min,
        )

    persuadable = f.beta_update(
        volatility, params.kappa, c["support_neutral"] if c else 0, answered, params.k_min
    ).mean
    opening = f.beta_update(
        params.open_rate_prior,
        params.kappa,
        conversations,
        c["doors_knocked"] if c else 0,
        params.k_min,
    )
    return update(q, "positive"), update(rival_share, "negative"), persuadable, opening


def test_components_match_the_python_reference_formulas(db: psycopg.Connection[Any]) -> None:
    from scrutin.vocabulary import BLOCS

    params = load_score_params()
    rows = _rows(db, "select * from mart.polling_station_targeting where q_updated is not null")
    canvass = {
        r["bureau_id"]: r
        for r in _rows(db, "select * from intermediate.int_canvass__bureau_opinion")
    }
    history = {
        (r["election_id"], r["bureau_id"]): r
        for r in _rows(db, "select * from intermediate.int_bureau_history__by_election")
    }
    # The reference rates: campaign-wide, the published steps of the bureaux with at least k_min
    # support answers only.
    published = [r for r in canvass.values() if r["support_answers"] >= params.k_min]
    reference = {a: sum(r[f"support_{a}"] for r in published) for a in ("positive", "negative")}
    reference_conv = sum(r["support_answers"] for r in published)
    assert rows and canvass and reference_conv > 0
    households = {
        r["bureau_id"]: r["households"]
        for r in _rows(db, "select bureau_id, households from mart.bureau_demographics")
    }
    roll_doors = {
        r["bureau_id"]: r["doors"]
        for r in _rows(db, "select bureau_id, doors from mart.polling_stations")
    }
    moved = 0
    for row in rows:
        high = history[(params.high_salience_election, row["bureau_id"])]
        low = history[(params.low_salience_election, row["bureau_id"])]
        shares = {b: high[f"share_{b}"] for b in BLOCS}
        rival = f.strongest_other(shares, params.bloc, BLOCS)
        expected: dict[str, Any] = {"rival_bloc": rival, "rival_share_high": shares[rival]}
        expected["intermittent_voters"] = f.intermittent_voters(
            row["voters_high"], row["voters_low"]
        )
        expected["reservoir"] = f.reservoir(row["bloc_votes_high"], row["bloc_votes_low"])
        q = shares[params.bloc]
        expected["q_mobilisable"] = q
        volatility = f.pedersen_index(
            [shares[b] for b in BLOCS], [low[f"share_{b}"] for b in BLOCS]
        )
        expected["volatility_pedersen"] = volatility
        c = canvass.get(row["bureau_id"])
        knocks = c["doors_knocked"] if c else 0
        support, against, persuadable, opening = _canvass_estimates(
            params, (q, shares[rival], volatility), c, reference, reference_conv
        )
        margin = f.net_value_per_mobilised_voter(support.mean, against.mean)
        expected |= {
            "q_updated": support.mean,
            "rival_share_updated": against.mean,
            "net_margin": margin,
            "persuadable_share": persuadable,
            "support_suppressed": support.suppressed,
            "open_rate_estimate": opening.mean,
            "open_rate_suppressed": opening.suppressed,
        }
        npc = f.net_per_conversation(margin, params.tau)
        per_conv = f.persuasion_per_conversation(persuadable, params.pi)
        expected["net_per_conversation"] = npc
        expected["persuasion_per_conversation"] = per_conv
        expected["persuasion"] = f.persuasion(row["valid_votes_target"], persuadable, params.pi)
        coverage = f.coverage_share(knocks, row["doors"] or 0)
        census = households.get(row["bureau_id"])
        assert row["doors"] == (census if census is not None else roll_doors.get(row["bureau_id"]))
        expected["coverage"] = coverage
        expected["value_per_canvasser_hour"] = f.value_per_canvasser_hour(
            params.doors_per_canvasser_hour,
            opening.mean,
            npc,
            per_conv,
            coverage=coverage,
            gamma=params.coverage_gamma,
        )
        expected["do_not_mobilise"] = margin <= 0
        expected["why"] = f.why_sentence(
            bloc=params.bloc,
            rival=rival,
            high_label=params.high_salience_election,
            q=support.mean,
            q_rival=against.mean,
            margin=margin,
            persuadable=persuadable,
            persuasion_per_conv=per_conv,
            net_per_conv=npc,
            profile=params.profile,
            coverage=coverage,
            suppressed=bool(support.suppressed),
            registration=row["registration_potential"],
        )
        for column, value in expected.items():
            if isinstance(value, bool | str):
                assert row[column] == value, (row["bureau_id"], column, row[column], value)
            else:
                assert _close(row[column], value), (row["bureau_id"], column, row[column], value)
        moved += not support.suppressed and not _close(support.mean, q)
    # The canvass sample moves q somewhere (enough conversations in some Brest bureaux).
    assert moved > 0


def test_ecological_gap_comes_from_the_recorded_fit(
    db: psycopg.Connection[Any], demo_warehouse: DemoWarehouse
) -> None:
    fit = _rows(
        db,
        f"select * from ops.ecological_fits where run_id = '{demo_warehouse.run_id}'",
    )[0]
    assert fit["status"] == "fitted" and fit["reason"] is None
    assert fit["n_bureaux"] >= 5 and 0.0 <= fit["r2"] <= 1.0 and fit["rmse"] > 0
    assert fit["params_version"] == load_score_params().params_version()
    features = _rows(db, "select * from intermediate.int_targeting__features")
    published = {
        r["bureau_id"]: r for r in _rows(db, "select * from mart.polling_station_targeting")
    }
    checked = 0
    for row in features:
        values = {k.removeprefix("feature_"): v for k, v in row.items() if k.startswith("feature_")}
        if any(v is None for v in values.values()) or row["actual_share"] is None:
            assert published[row["bureau_id"]]["predicted_bloc_share"] is None
            continue
        linear = fit["intercept"] + sum(fit["coefficients"][k] * v for k, v in values.items())
        predicted = min(1.0, max(0.0, linear))
        target = published[row["bureau_id"]]
        assert _close(target["predicted_bloc_share"], predicted)
        assert _close(target["ecological_gap"], predicted - row["actual_share"])
        assert target["ecological_fit_run_id"] == demo_warehouse.run_id
        checked += 1
    assert checked == fit["n_bureaux"]


def test_cli_plan_equals_the_published_plan(scored: str, db: psycopg.Connection[Any]) -> None:
    from pipeline.commands.plan import make_plan

    params = load_score_params()
    published = _rows(db, "select * from mart.canvass_plan order by plan_rank")
    assert published, "the sample plan allocates hours"
    plan = make_plan(scored, params.plan_hours)
    assert [p.bureau_id for p in plan.rows] == [r["bureau_id"] for r in published]
    for mine, theirs in zip(plan.rows, published, strict=True):
        assert mine.rank == theirs["plan_rank"]
        assert _close(mine.hours, theirs["hours"])
        assert _close(mine.expected_net_votes, theirs["expected_net_votes"])
        assert _close(mine.coverage_after, theirs["coverage_after"])
    assert sum(r["hours"] for r in published) <= params.plan_hours + TOLERANCE
    excluded = _rows(
        db,
        "select count(*) as n from mart.canvass_plan p join mart.polling_station_targeting t "
        "using (bureau_id) where t.do_not_mobilise",
    )[0]
    assert excluded["n"] == 0


def test_plan_command_prints_a_table_and_more_hours_never_win_less(scored: str) -> None:
    from pipeline.cli import main
    from pipeline.commands.plan import make_plan

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["plan", "--hours", "10"]) == 0
    text = out.getvalue()
    assert text.splitlines()[0].split()[:3] == ["rank", "bureau", "commune"]
    assert "10 of 10 canvasser-hours allocated" in text
    small = make_plan(scored, 5).expected_net_votes
    large = make_plan(scored, 20).expected_net_votes
    assert 0 < small < large
    brest = make_plan(scored, 10, communes=["29019"])
    assert brest.rows and all(p.bureau_id.startswith("29019_") for p in brest.rows)


def _campaign_with(tmp_path: Path, **changes: Any) -> Path:
    data = yaml.safe_load((ROOT / "config" / "campaign.yml").read_text(encoding="utf-8"))
    data["scores"].update(changes)
    path = tmp_path / "campaign.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _audit_copy_of_published(url: str) -> None:
    """`mart_audit` as a faithful copy of the published `mart` (columns, constraints, comments
    and rows), as the gate had it just before it published.

    Rebuilding it with dbt stage 1 would take most of a minute and give the same tables: the
    publication renamed the audited schema to `mart`, and nothing changed the inputs since.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select tablename from pg_tables where schemaname = 'mart' order by tablename"
            )
        ]
        with conn.transaction():
            conn.execute("drop schema if exists mart_audit cascade")
            conn.execute("create schema mart_audit")
            for table in tables:
                conn.execute(f"create table mart_audit.{table} (like mart.{table} including all)")
                conn.execute(f"insert into mart_audit.{table} select * from mart.{table}")


def _rebuild_scores(url: str, run_id: str) -> None:
    """Stages 2 and 3 of the gate into `mart_audit`, without publishing.

    The score stages read stage 1's marts in `mart_audit`, restored first as a copy of the
    published ones: stage 1 does not read tau or ridge_lambda, so its tables are what a rebuild
    would give, and whatever an earlier test left in `mart_audit` (a refused run's tables) is
    never read.
    """
    from pipeline.build_lock import owning_build
    from pipeline.gate import dbt_build_scores, fit_scores

    _audit_copy_of_published(url)
    with owning_build(url, run_id):
        fit_scores(url, run_id)
        dbt_build_scores(url, run_id)


def _by_bureau(db: psycopg.Connection[Any], schema: str) -> dict[str, dict[str, Any]]:
    return {
        r["bureau_id"]: r for r in _rows(db, f"select * from {schema}.polling_station_targeting")
    }


@pytest.mark.parametrize(
    ("change", "affected", "unaffected"),
    [
        ({"tau": 0.05}, TAU_COLUMNS, (*STABLE_COLUMNS, *LAMBDA_COLUMNS)),
        ({"ridge_lambda": 25.0}, LAMBDA_COLUMNS, (*STABLE_COLUMNS, *TAU_COLUMNS)),
    ],
)
def test_a_changed_parameter_changes_the_version_and_only_its_scores(
    *,
    scored: str,
    db: psycopg.Connection[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, float],
    affected: tuple[str, ...],
    unaffected: tuple[str, ...],
) -> None:
    from pipeline.commands.plan import PlanError, make_plan

    before = _by_bureau(db, "mart")
    monkeypatch.setenv("SCRUTIN_CAMPAIGN_CONFIG", str(_campaign_with(tmp_path, **change)))
    new_version = load_score_params().params_version()
    assert new_version != next(iter(before.values()))["params_version"]
    _rebuild_scores(scored, f"test-scores-{next(iter(change))}")
    after = _by_bureau(db, "mart_audit")
    assert after.keys() == before.keys()
    assert {r["params_version"] for r in after.values()} == {new_version}
    for column in affected:
        changed = sum(
            1
            for b in before
            if before[b][column] is not None
            and not (
                before[b][column] == after[b][column]
                if isinstance(before[b][column], str)
                else _close(before[b][column], after[b][column])
            )
        )
        assert changed > 0, f"{column} did not change with {change}"
    for column in unaffected:
        for b in before:
            x, y = before[b][column], after[b][column]
            same = x == y if isinstance(x, str) or x is None else _close(x, y)
            assert same, (b, column, x, y, change)
    # The published mart still carries the old version: a plan on it is refused as stale.
    with pytest.raises(PlanError, match="--allow-stale"):
        make_plan(scored, 10)
    assert make_plan(scored, 10, allow_stale=True).rows


def test_a_broken_score_blocks_publication(scored: str, db: psycopg.Connection[Any]) -> None:
    from pipeline.build_lock import owning_build
    from pipeline.gate import GateRefused, validate_audit

    fingerprint = (
        "select md5(string_agg(t::text, '|' order by bureau_id)) as h "
        "from mart.polling_station_targeting t"
    )
    # The audit schema as the gate had it before publishing the demo (current parameters).
    _audit_copy_of_published(scored)
    published = _rows(db, fingerprint)[0]["h"]
    db.execute(
        "update mart_audit.polling_station_targeting "
        "set value_per_canvasser_hour = value_per_canvasser_hour + 0.01 where targeting_rank = 1"
    )
    with owning_build(scored, "test-scores-broken"), pytest.raises(GateRefused) as refused:
        validate_audit(scored, "test-scores-broken")
    assert any(
        "polling_station_targeting" in c or "scores" in c for c in refused.value.failed_checks
    )
    assert _rows(db, fingerprint)[0]["h"] == published


def test_readme_plan_sample_is_what_the_command_prints(scored: str) -> None:
    from pipeline.commands.plan import make_plan, render_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = "$ .venv/bin/scrutin plan --hours 40\n"
    assert marker in readme
    shown = readme.split(marker, 1)[1].split("```", 1)[0].rstrip("\n")
    assert shown == render_table(make_plan(scored, 40))


def test_commune_summary_adds_up_to_the_bureaux(db: psycopg.Connection[Any]) -> None:
    communes = _rows(
        db,
        "select count(*) as n, sum(bureaux) as bureaux, sum(registered) as registered,"
        " sum(reservoir) as reservoir, sum(plan_hours) as hours,"
        " sum(canvass_conversations) as conversations from mart.commune_summary",
    )[0]
    bureaux = _rows(
        db,
        "select count(distinct code_commune) as n, count(*) as bureaux,"
        " sum(registered) as registered, sum(reservoir) as reservoir,"
        " sum(canvass_conversations) as conversations,"
        " (select sum(hours) from mart.canvass_plan) as hours"
        " from mart.polling_station_targeting",
    )[0]
    assert communes["n"] == bureaux["n"]
    for key in ("bureaux", "registered", "conversations"):
        assert communes[key] == bureaux[key], key
    assert _close(communes["reservoir"], bureaux["reservoir"])
    assert _close(communes["hours"], bureaux["hours"])
    brest = _rows(db, "select * from mart.commune_summary where code_commune = '29019'")[0]
    # Brest's registered voters at the target election (2024_legi_t1): the real file's figure.
    assert brest["registered"] == 85102 and brest["bureaux"] >= 104


def test_every_score_column_carries_a_comment(db: psycopg.Connection[Any]) -> None:
    # Metabase shows PostgreSQL comments as descriptions: none may be missing or empty.
    missing = _rows(
        db,
        "select c.relname as table_name, a.attname as column_name from pg_attribute a"
        " join pg_class c on c.oid = a.attrelid"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'mart' and a.attnum > 0 and not a.attisdropped"
        " and c.relname in ('polling_station_targeting', 'canvass_plan', 'commune_summary')"
        " and coalesce(col_description(c.oid, a.attnum), '') = ''",
    )
    assert missing == []
    described = _rows(
        db,
        "select count(*) as n from pg_attribute a join pg_class c on c.oid = a.attrelid"
        " join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'mart' and c.relname = 'polling_station_targeting' and a.attnum > 0",
    )[0]
    assert described["n"] >= 50


def test_demo_summary_reports_the_scores(db: psycopg.Connection[Any]) -> None:
    from pipeline.demo import summary_lines

    line = next(line for line in summary_lines() if line.strip().startswith("targeting:"))
    stats = _rows(
        db,
        "select count(*) filter (where do_not_mobilise) as dnm,"
        " (select count(*) from mart.canvass_plan) as planned"
        " from mart.polling_station_targeting",
    )[0]
    assert "201 of 232 bureaux scored" in line
    assert f"{stats['dnm']} marked do_not_mobilise" in line
    assert f"to {stats['planned']} bureaux" in line
