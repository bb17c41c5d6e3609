"""The audit gate: dbt build into `mart_audit`, expectations, then publication — or nothing.

Stages, in order:
1. `dbt_build_audit` — decides full, incremental or unchanged (pipeline/build_plan.py, in
   `ops.build_decisions`), the map shapes (`ingestion.geo.shapes`, when their inputs changed),
   then `dbt build` of every node except the score marts (`--exclude tag:scores`): models, unit
   tests and the data tests that guard the marts (cross-table and business invariants included).
   An incremental build first copies the published tables it does not rebuild into
   `mart_audit`, then builds only `source:canvass+` and the tests touching it, leaving out the
   dbt unit tests and the `by_construction` data tests (they test the code, which is the
   published build's);
2. `fit_scores` — the ecological regression (`scrutin.scores.fit_step`) on what stage 1 built
   (reused by an incremental build: it reads no canvass data);
3. `dbt_build_scores` — `dbt build --select tag:scores`: the targeting marts, reading the fit,
   and their data tests; then the dbt docs site (`dbt docs generate --static`, not blocking).
   An incremental build whose fit is the published one (stage 2 will reuse it) builds the score
   marts in stage 1 already, beside the canvass marts (one dbt invocation less, and the score
   marts no longer wait for the longest canvass nodes); stage 3 then writes the docs only;
4. `validate_audit` — the Great Expectations Checkpoints of the raw suites whose tables moved since
   their last passed validation (`expectations.validations`), then the score audit
   (`expectations.score_audit`: the published scores recomputed with the Python formulas);
5. `publish_audited` — the swap of `mart_audit` in as `mart`.

When nothing moved since the last publication (mode `unchanged`), stage 1 records so and every
stage returns at once: nothing is rebuilt, nothing published, and the gate run ends `unchanged`.

The DAG `build_audit_publish` runs them as tasks; `scrutin build` runs them in a row. Both call
the functions below, so there is one implementation of the gate.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from pipeline.build_lock import BuildBusy, build_stage, release
from scrutin.db import connect
from scrutin.warehouse.migrate import require_migrated

if TYPE_CHECKING:
    from pipeline.build_plan import BuildPlan
    from pipeline.dbt_runner import DbtOutcome

log = logging.getLogger("pipeline.gate")


class GateRefused(RuntimeError):
    """A dbt test, a model or an expectation failed: nothing was published."""

    def __init__(self, stage: str, failed_checks: list[str]) -> None:
        self.stage = stage
        self.failed_checks = failed_checks
        listing = "\n  - ".join(failed_checks) or "(no detail)"
        super().__init__(
            f"publication refused at stage '{stage}': {len(failed_checks)} failed check(s)\n"
            f"  - {listing}\n`mart` is unchanged."
        )


@dataclass
class GateReport:
    run_id: str
    dbt_nodes: int = 0
    expectations: int = 0
    published_counts: dict[str, int] = field(default_factory=dict)
    data_docs: str | None = None
    mode: str = "full"
    reason: str = ""


def new_run_id(prefix: str = "manual") -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}__{now}__{uuid.uuid4().hex[:6]}"


def _record_gate(url: str, run_id: str, status: str, failed: list[str] | None = None) -> None:
    with connect(url) as conn, conn.transaction():
        conn.execute(
            "insert into ops.gate_runs (run_id, status, failed_checks) values (%s, %s, %s::jsonb) "
            "on conflict (run_id) do update set status = excluded.status, "
            "failed_checks = excluded.failed_checks, "
            "finished_at = case when excluded.status = 'running' then null else now() end",
            (run_id, status, json.dumps(failed or [])),
        )


P = ParamSpec("P")
R = TypeVar("R")


def _records_errors(stage: Callable[P, R]) -> Callable[P, R]:
    """A stage that crashes (database down, broken campaign file...) marks its gate run
    `error` with the exception, instead of leaving it `running` forever, and keeps the build so
    that Airflow can retry the stage (an idle owner loses it after SCRUTIN_BUILD_IDLE_MINUTES);
    a refusal (GateRefused) is recorded by the stage itself and frees the build; a build that
    could not start (BuildBusy) has no run."""

    @functools.wraps(stage)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        url = args[0] if args else kwargs.get("url")
        run_id = args[1] if len(args) > 1 else kwargs.get("run_id")
        try:
            return stage(*args, **kwargs)
        except BuildBusy:
            raise
        except GateRefused:
            release(str(url), str(run_id))  # a refused run is over: the build is free
            raise
        except Exception as exc:
            try:
                _record_gate(str(url), str(run_id), "error", [f"{stage.__name__}: {exc}"])
            except Exception:  # the database itself may be what failed
                log.exception("could not record the error of gate run %s", run_id)
            raise

    return wrapper


# dbt tag of the models built after the ecological fit (dbt/models/marts/targeting/).
SCORES_TAG = "tag:scores"
# Data tests that hold for any data given the SQL (a model's yml says why, a unit test checks
# the SQL): an incremental build, whose code is the published build's, leaves them out.
BY_CONSTRUCTION_TAG = "tag:by_construction"
# dbt var of the incremental builds: int_canvass__bureau_matches and int_canvass__knock_versions
# then compute the rows landed since only (every other build recomputes them whole).
CANVASS_DELTA_VAR = "canvass_delta"


def build_vars(plan: BuildPlan | None) -> dict[str, Any]:
    """The dbt vars of every dbt invocation of a build (the audit stage, the scores stage, the
    docs site), on top of the campaign's: the same in all three, and from one incremental build
    to the next, so that dbt reuses its saved parse of the project (vars that differ from the
    last invocation's make it parse the whole project again: 5-9 s each, at any scale)."""
    return {CANVASS_DELTA_VAR: plan is not None and plan.incremental}


def _dbt_stage(
    url: str,
    run_id: str,
    stage: str,
    extra_vars: dict[str, Any] | None = None,
    skip_unit_tests: bool = False,
    **selection: str,
) -> DbtOutcome:
    from pipeline.dbt_runner import build

    outcome = build(
        url, run_id, extra_vars=extra_vars, skip_unit_tests=skip_unit_tests, **selection
    )
    if not outcome.success:
        failed = [f"dbt: {u}" for u in outcome.failed]
        if f"test.scrutin.{TERRITORY_TEST}" in outcome.failed:
            failed += _unmatched_territory(url)
        if f"test.scrutin.{VOLUME_TEST}" in outcome.failed:
            failed += _lost_bureaux(url)
        _record_gate(url, run_id, "refused", failed)
        raise GateRefused(stage, failed)
    log.info("%s passed: %d nodes", stage, len(outcome.results))
    return outcome


# The dbt test that refuses a territory matching no bureau; its rows (kind, code, reason) are
# stored in ops.<name> (store_failures), read back so the refusal names the codes.
TERRITORY_TEST = "assert_every_territory_code_matches_a_bureau"


def _unmatched_territory(url: str) -> list[str]:
    """`territory: constituency 29-09 matches no bureau (...)`, one line per unmatched code of
    the campaign file, so the refusal says what to fix rather than only which test failed."""
    from scrutin.campaign import campaign_config_path

    try:
        with connect(url) as conn:
            rows = conn.execute(f"select kind, code, reason from ops.{TERRITORY_TEST}").fetchall()
    except Exception:  # the test's table is dbt's: never let reading it hide the refusal
        log.exception("could not read ops.%s", TERRITORY_TEST)
        return []
    path = campaign_config_path()
    return [
        f"territory ({path}): {kind} {code} matches no bureau: {why}" for kind, code, why in rows
    ]


# The dbt test that refuses an election losing published bureaux (volume against the previous
# publication, docs/quality.md); its rows (one per election) are stored in ops.<name>.
VOLUME_TEST = "assert_published_elections_keep_their_bureaux"


def _lost_bureaux(url: str) -> list[str]:
    """`volume: election 2024_legi_t1 lost 101 of its 201 published bureaux (...)`, one line per
    election, with the override that lets a legitimate correction through."""
    try:
        with connect(url) as conn:
            rows = conn.execute(
                "select election_id, published_bureaux, lost_bureaux, first_lost_bureaux "
                f"from ops.{VOLUME_TEST} order by election_id"
            ).fetchall()
    except Exception:  # the test's table is dbt's: never let reading it hide the refusal
        log.exception("could not read ops.%s", VOLUME_TEST)
        return []
    return [
        f"volume: election {election} lost {lost} of its {published} published bureaux "
        f"(first: {first}); a truncated or wrong results file? If the loss is a legitimate "
        f"correction: scrutin build --accept-bureau-loss {election}"
        for election, published, lost, first in rows
    ]


@_records_errors
def dbt_build_audit(
    url: str,
    run_id: str,
    wait_seconds: float = 0.0,
    accept_bureau_loss: Sequence[str] = (),
    full: bool = False,
    *,
    on_planned: Callable[[BuildPlan], None] | None = None,
) -> dict[str, Any]:
    """Stage 1: dbt build (models, unit tests, data tests, contracts) into `mart_audit`, all but
    the score marts, which need the ecological fit of stage 2 (an incremental build whose
    stored fit is the published one, which stage 2 will reuse, builds them here too).

    Full or incremental: decided here against the last publication's inputs (`full` forces a
    full refresh; so does `accept_bureau_loss`), logged and recorded in `ops.build_decisions`.

    The run takes the build lock here (pipeline/build_lock.py): while another live build owns
    it, this waits up to `wait_seconds`, then raises BuildBusy and starts nothing.
    `accept_bureau_loss` names the elections allowed to lose published bureaux in this run only
    (a legitimate correction; the publication log keeps the list). `on_planned` is called with
    the plan once it is decided and something is to be built (not when `unchanged`)."""
    with connect(url) as conn:
        require_migrated(conn)
    with build_stage(
        url,
        run_id,
        "dbt_build_audit",
        first=True,
        wait_seconds=wait_seconds,
        release_on_error=False,
    ):
        _record_gate(url, run_id, "running")
        return _dbt_build_audit(url, run_id, tuple(accept_bureau_loss), full, on_planned)


def _plan_build(url: str, run_id: str, full_reason: str | None) -> tuple[Any, list[str]]:
    """Decide full or incremental, log and record it; for an incremental build, also the mart
    relations it rebuilds (from dbt's manifest of the last build: none means a full build)."""
    from pipeline import build_plan
    from pipeline.dbt_runner import build_target_path

    with connect(url) as conn:
        plan = build_plan.decide(conn, full_reason=full_reason)
        rebuilt: list[str] = []
        if plan.incremental:
            why_not = None
            try:
                marts = build_plan.rebuilt_marts(build_target_path(url) / "manifest.json")
            except (OSError, ValueError, KeyError) as exc:
                why_not = f"no usable dbt manifest of the last build ({exc})"
            else:
                rebuilt = [*marts.tables, *marts.views]
                plan.selection = marts.selection
                unknown = _mart_views(conn) - set(marts.views)
                if unknown:
                    why_not = f"`mart` holds views dbt does not build: {', '.join(sorted(unknown))}"
            if why_not:
                plan = build_plan.BuildPlan(build_plan.FULL, why_not, plan.inputs, plan.changed)
        build_plan.record(conn, run_id, plan)
    log.info("%s build: %s", plan.mode, plan.reason)
    return plan, rebuilt


def _mart_views(conn: Any) -> set[str]:
    rows = conn.execute("select viewname from pg_views where schemaname = 'mart'").fetchall()
    return {r[0] for r in rows}


def _dbt_build_audit(
    url: str,
    run_id: str,
    accept_bureau_loss: tuple[str, ...],
    full: bool,
    on_planned: Callable[[BuildPlan], None] | None = None,
) -> dict[str, Any]:
    from pipeline.build_plan import as_summary, carry_published_tables
    from scrutin.campaign import load_campaign

    campaign = load_campaign()
    full_reason = "a full refresh was asked (--full)" if full else None
    if accept_bureau_loss:
        full_reason = "elections are allowed to lose bureaux (--accept-bureau-loss)"
    # The shapes first: they are an input of the marts, so the plan must see them as they are.
    _refresh_map_shapes(url)
    plan, rebuilt = _plan_build(url, run_id, full_reason)
    # Which campaign and territory this run publishes: kept in ops.publication_log.check_summary.
    territory = campaign.territory.describe() if campaign.territory else "every loaded bureau"
    log.info("campaign %s, territory: %s", campaign.campaign_id, territory)
    overrides: dict[str, Any] = {}
    if accept_bureau_loss:
        log.warning("elections allowed to lose published bureaux: %s", list(accept_bureau_loss))
        overrides["accepted_bureau_losses"] = list(accept_bureau_loss)
    selection: dict[str, str] = {"exclude": SCORES_TAG}
    # (the canvass models that are incremental compute the rows landed since only)
    dbt_vars: dict[str, Any] = {**overrides, **build_vars(plan)}
    plan_summary = as_summary(plan)
    if plan.unchanged:
        return {"dbt_nodes": 0, **plan_summary, "campaign_id": campaign.campaign_id, **overrides}
    if on_planned is not None:
        on_planned(plan)
    if plan.incremental:
        started = time.monotonic()
        with connect(url) as conn:
            carried = carry_published_tables(conn, rebuilt, campaign.campaign_id)
            scores_now = _predictions_are_published(conn)
        log.info(
            "incremental: %d published tables carried into mart_audit in %.1f s; rebuilding %s",
            len(carried),
            time.monotonic() - started,
            ", ".join(rebuilt),
        )
        selection["select"] = str(plan.selection)
        # tests that hold for any data given the code (dbt tag), run by the full builds
        selection["exclude"] = f"{SCORES_TAG} {BY_CONSTRUCTION_TAG}"
        if scores_now:  # stage 2 reuses the published fit: the score marts can be built now
            selection["select"] = f"{plan.selection} {SCORES_TAG}"
            selection["exclude"] = BY_CONSTRUCTION_TAG
        plan_summary |= {
            "rebuilt_tables": rebuilt,
            "carried_tables": carried,
            "scores_built_in_audit_stage": scores_now,
        }
    # An incremental build leaves the dbt unit tests out: they read fixtures, not data, and the
    # code they test is that of the published build that ran them (any change of the dbt
    # project, the Python packages or the dbt version forces a full build).
    built = _dbt_stage(
        url, run_id, "dbt build", extra_vars=dbt_vars, skip_unit_tests=plan.incremental, **selection
    )
    return {
        "dbt_nodes": len(built.results),
        "dbt_full_parse": built.full_parse,
        **plan_summary,
        "campaign_id": campaign.campaign_id,
        "territory": territory,
        **overrides,
    }


def _unchanged(url: str, run_id: str) -> bool:
    """Stage 1 found nothing moved since the last publication: the later stages do nothing."""
    from pipeline.build_plan import recorded

    with connect(url) as conn:
        plan = recorded(conn, run_id)
    return plan is not None and plan.unchanged


def _refresh_map_shapes(url: str) -> None:
    """The map shapes `mart.bureau_map` reads (ingestion/geo/shapes.py), recomputed here rather
    than by a DAG of their own so that any new contour or REU file reaches the map with the next
    publication; one query when nothing new was loaded."""
    from ingestion.geo.shapes import compute_shapes

    compute_shapes(url)


@_records_errors
def fit_scores(url: str, run_id: str) -> dict[str, Any]:
    """Stage 2: fit the ecological regression, store predictions and `ops.ecological_fits`.

    A fit the data cannot support is recorded as skipped (GAP stays null) and does not stop the
    gate; broken score parameters do (CampaignConfigError, before anything is written).
    """
    from pipeline.build_plan import recorded
    from scrutin.scores.fit_step import fit_ecological
    from scrutin.scores.params import load_score_params

    with build_stage(url, run_id, "fit_scores", release_on_error=False):
        with connect(url) as conn:
            plan = recorded(conn, run_id)
            if plan is not None and plan.unchanged:
                return {}
            if (
                plan is not None
                and plan.incremental
                and (_scores_built(conn, run_id) or _predictions_are_published(conn))
            ):
                # Its inputs (results, census, score parameters) are the published build's; and
                # when stage 1 built the score marts on that fit, no other fit may follow.
                return _reused_fit(conn)
        report = fit_ecological(url, run_id, load_score_params())
    return {
        "ecological_fit": report.status,
        "ecological_r2": report.r2,
        "ecological_bureaux": report.n_bureaux,
    }


def _predictions_are_published(conn: Any) -> bool:
    """Whether the stored predictions (`scores.ecological_predictions`, overwritten by every
    fit) are the ones the published scores were made with. A build refused after its fit leaves
    its own predictions behind: an incremental build then fits again (same inputs, so the same
    figures) rather than publish scores naming a refused run's fit."""
    from scrutin.campaign import load_campaign

    stored = conn.execute(
        "select distinct fit_run_id from scores.ecological_predictions"
    ).fetchall()
    published = conn.execute(
        "select distinct ecological_fit_run_id from mart.polling_station_targeting "
        "where campaign_id = %s and ecological_fit_run_id is not null",
        (load_campaign().campaign_id,),
    ).fetchall()
    return {r[0] for r in stored} == {r[0] for r in published}


def _scores_built(conn: Any, run_id: str) -> bool:
    """Whether this run's stage 1 already built the score marts (an incremental build on the
    published fit): `ops.dbt_results` has their models for the run."""
    row = conn.execute(
        "select count(*) from ops.dbt_results where run_id = %s and unique_id = %s "
        "and status = 'success'",
        (run_id, SCORES_SENTINEL),
    ).fetchone()
    return bool(row and row[0])


# The score model whose result tells that stage 1 built the score marts of a run.
SCORES_SENTINEL = "model.scrutin.polling_station_targeting"


def _reused_fit(conn: Any) -> dict[str, Any]:
    """The summary of the fit whose predictions an incremental build keeps (the latest)."""
    row = conn.execute(
        "select run_id, status, r2, n_bureaux from ops.ecological_fits "
        "order by fitted_at desc limit 1"
    ).fetchone()
    run, status, r2, n = row if row else (None, None, None, None)
    log.info("incremental: the ecological fit of run %s is reused (%s)", run, status)
    return {
        "ecological_fit": status,
        "ecological_r2": r2,
        "ecological_bureaux": n,
        "ecological_fit_reused_from": run,
    }


@_records_errors
def dbt_build_scores(url: str, run_id: str) -> dict[str, Any]:
    """Stage 3: dbt build of the score marts (targeting, plan, commune summary) and their tests,
    then the dbt docs site of what is about to be published."""
    from pipeline.build_plan import recorded

    with build_stage(url, run_id, "dbt_build_scores", release_on_error=False):
        with connect(url) as conn:
            plan = recorded(conn, run_id)
        if plan is not None and plan.unchanged:
            return {"dbt_score_nodes": 0, "dbt_docs": None}
        incremental = plan is not None and plan.incremental
        if incremental:
            with connect(url) as conn:
                already = _scores_built(conn, run_id)
            if already:
                log.info("dbt build (scores): the score marts were built in stage 1")
                return {
                    "dbt_score_nodes": 0,
                    "dbt_score_full_parse": None,
                    "dbt_docs": _dbt_docs(url, build_vars(plan)),
                }
        built = _dbt_stage(
            url,
            run_id,
            "dbt build (scores)",
            extra_vars=build_vars(plan),
            skip_unit_tests=incremental,
            select=SCORES_TAG,
        )
        docs = _dbt_docs(url, build_vars(plan))
    return {
        "dbt_score_nodes": len(built.results),
        "dbt_score_full_parse": built.full_parse,
        "dbt_docs": docs,
    }


def _dbt_docs(url: str, dbt_vars: dict[str, Any]) -> str | None:
    """The dbt docs site (SCRUTIN_DBT_DOCS_DIR), rebuilt by every gate run; a site that cannot
    be written is logged and never refuses a publication (it documents, it does not check)."""
    import time

    from pipeline.dbt_runner import generate_docs
    from scrutin.config import dbt_docs_dir

    started = time.monotonic()
    try:
        page = generate_docs(url, dbt_docs_dir(), extra_vars=dbt_vars)
    except Exception:
        log.exception("dbt docs site not written (the publication goes on)")
        return None
    log.info("dbt docs site: %s (%.1f s)", page, time.monotonic() - started)
    return str(page)


@_records_errors
def validate_audit(url: str, run_id: str) -> dict[str, Any]:
    """Stage 4: the raw suites' Checkpoints, then the score audit; both record
    `ops.quality_results`, and any failed `fail` check of either refuses the publication."""
    from expectations.registry import raw_suite_names
    from expectations.score_audit import run_score_audit
    from expectations.validations import run_suites_once

    with build_stage(url, run_id, "validate_audit", release_on_error=False):
        if _unchanged(url, run_id):
            return {"expectations": 0, "warnings": [], "data_docs": None}
        validated = run_suites_once(url, raw_suite_names(), run_id)
        raw = validated.outcome
        scores = run_score_audit(url, run_id)
        failed = [*raw.failed_checks, *scores.failed_checks]
        if failed:
            _record_gate(url, run_id, "refused", failed)
            raise GateRefused("expectations", failed)
    evaluated = raw.evaluated + scores.evaluated
    log.info("expectations passed: %d evaluated; Data Docs: %s", evaluated, raw.data_docs)
    return {
        "expectations": evaluated,
        "warnings": [*raw.warnings, *scores.warnings],
        "data_docs": raw.data_docs,
        "raw_suites": validated.summary(),
    }


@_records_errors
def publish_audited(url: str, run_id: str, summary: dict[str, Any]) -> dict[str, int]:
    """Stage 5: swap `mart_audit` in as `mart`, log the publication."""
    from pipeline import build_plan
    from pipeline.publish import publish

    # The gate run is marked `passed` in the publication's own transaction: a build killed right
    # after the swap can no longer leave a published run `running`.
    with build_stage(url, run_id, "publish_audited", last=True), connect(url) as conn:
        plan = build_plan.recorded(conn, run_id)
        if plan is not None and plan.unchanged:
            _record_gate(url, run_id, "unchanged")
            log.info("nothing published by run %s: %s", run_id, plan.reason)
            return {}
        if plan is not None:  # what the first stage decided, whatever the summary carried
            summary = {**summary, "build_mode": plan.mode}
        report = publish(conn, run_id, summary, before_swap=inputs_unmoved(run_id))
    log.info("published run %s: %s", run_id, report.row_counts)
    return report.row_counts


def inputs_unmoved(run_id: str) -> Callable[[Any], None]:
    """The publication's last check of an incremental build: no input other than the canvass
    moved since it decided (loaders do not wait for the build lock; a REU or results file loaded
    meanwhile would be published beside tables carried from before it)."""
    from pipeline import build_plan
    from pipeline.publish import PublicationError

    def check(conn: Any) -> None:
        moved = build_plan.moved_since_decision(conn, run_id)
        if moved:
            raise PublicationError(
                f"inputs other than the canvass changed while incremental build {run_id} ran "
                f"({', '.join(moved)}): nothing published; the next build is a full refresh"
            )

    return check


# What stage 4 imports (Great Expectations alone takes 3-5 s to import): `build_audit_publish`
# imports them in a thread from the moment stage 1 knows it has something to build.
STAGE_4_MODULES = ("great_expectations", "expectations.checkpoint", "expectations.score_audit")
IMPORT_WAIT_S = 15.0  # how long a refused or stopped build waits for that import to finish


def import_in_background(modules: Sequence[str]) -> threading.Thread:
    """Import `modules` in a thread; the caller joins it before using them. A module that fails
    to import is only logged here: the stage that needs it imports it again and fails there,
    with its own error."""

    def work() -> None:
        started = time.monotonic()
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:
                log.exception("background import of %s failed", name)
                return
        log.debug("imported %s in the background in %.1f s", modules, time.monotonic() - started)

    thread = threading.Thread(target=work, name="stage-4-imports", daemon=True)
    thread.start()
    return thread


def build_audit_publish(
    url: str,
    run_id: str | None = None,
    *,
    wait_seconds: float = 0.0,
    accept_bureau_loss: Sequence[str] = (),
    full: bool = False,
) -> GateReport:
    """All five stages; raises GateRefused (and publishes nothing) when a check fails, and
    BuildBusy (starting nothing) when another build still owns the build after `wait_seconds`."""
    run_id = run_id or new_run_id()
    # Stage 4's imports, done while stages 1-3 run (they wait on PostgreSQL most of the time)
    warming: list[threading.Thread] = []
    try:
        dbt_summary = dbt_build_audit(
            url,
            run_id,
            wait_seconds,
            accept_bureau_loss,
            full,
            on_planned=lambda _: warming.append(import_in_background(STAGE_4_MODULES)),
        )
        fit_summary = fit_scores(url, run_id)
        score_summary = dbt_build_scores(url, run_id)
        for thread in warming:
            thread.join()
        gx_summary = validate_audit(url, run_id)
        counts = publish_audited(
            url, run_id, {**dbt_summary, **fit_summary, **score_summary, **gx_summary}
        )
    except BaseException:
        # One process, no retry: a stopped build frees the build at once (a no-op when it never
        # got it: BuildBusy).
        release(url, run_id)
        for thread in warming:  # an interpreter exiting mid-import may abort: let it finish
            thread.join(timeout=IMPORT_WAIT_S)
        raise
    return GateReport(
        run_id=run_id,
        dbt_nodes=int(dbt_summary["dbt_nodes"]) + int(score_summary["dbt_score_nodes"]),
        expectations=int(gx_summary["expectations"]),
        published_counts=counts,
        data_docs=gx_summary.get("data_docs"),
        mode=str(dbt_summary.get("build_mode", "full")),
        reason=str(dbt_summary.get("build_reason", "")),
    )
