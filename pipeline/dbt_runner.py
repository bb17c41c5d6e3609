"""Run dbt in-process against one warehouse, and record what it decided in `ops.dbt_results`.

Why in-process (`dbtRunner`) rather than a `dbt` subprocess: the caller (CLI, Airflow task, test)
gets every node's result as Python objects, and a failing test is data, not an exit code to parse.

The split of responsibilities with the audit gate: `build()` never raises because a test failed
(it returns `success=False` and the failing node ids); it raises only when dbt itself could not
run (bad project, unreachable warehouse, ...), which is an infrastructure error worth a retry.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from scrutin.config import DBT_PROJECT_DIR, dbt_env, dsn_parts, redact

log = logging.getLogger(__name__)

# Node statuses that mean "this node did not do its job": a model/seed/snapshot error, a test or
# unit test that failed or could not run. `warn` (a test with severity warn) and `skipped` (a node
# downstream of a failure) are recorded but are not failures themselves.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})

# Telemetry off, whatever the operator's shell says (dbt reads these at invocation).
_DBT_QUIET_ENV = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
}

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_INSERT_RESULT = """
    insert into ops.dbt_results
        (run_id, unique_id, resource_type, status, execution_time, failures, message)
    values (%s, %s, %s, %s, %s, %s, %s)
"""


class NodeResult(NamedTuple):
    """One dbt node's result: what `ops.dbt_results` stores."""

    unique_id: str
    resource_type: str
    status: str
    execution_time: float | None
    failures: int | None
    message: str | None


@dataclass
class DbtOutcome:
    """What a dbt invocation decided. `failed` lists the unique_ids of failing nodes."""

    success: bool
    results: list[NodeResult] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Why dbt parsed the whole project instead of reusing its saved state (None: it reused it).
    full_parse: str | None = None


class DbtInvocationError(RuntimeError):
    """dbt itself could not run (not: a test failed)."""


def run_dbt(
    args: Sequence[str],
    url: str,
    *,
    target_path: Path | None = None,
    log_path: Path | None = None,
) -> DbtOutcome:
    """Invoke dbt in-process with `args` (e.g. `["build", "--select", "marts"]`) on warehouse `url`.

    The project and profiles directories are the project's `dbt/` unless `args` say otherwise.
    Raises `DbtInvocationError` when dbt could not run at all; a failing test or model is
    reported in the returned outcome instead.
    """
    from dbt.cli.main import dbtRunner

    cli_args = list(args)
    if not cli_args:
        raise ValueError("run_dbt needs a dbt command, e.g. ['build']")
    _add_option(cli_args, "--project-dir", str(DBT_PROJECT_DIR))
    _add_option(cli_args, "--profiles-dir", str(DBT_PROJECT_DIR))
    if target_path is not None:
        _add_option(cli_args, "--target-path", str(target_path))
    if log_path is not None:
        _add_option(cli_args, "--log-path", str(log_path))

    # dbt resolves env_var() in profiles.yml while parsing, inside invoke(): set them first.
    full_parse = _FullParse()
    with _environ({**_DBT_QUIET_ENV, **dbt_env(url)}):
        try:
            res = dbtRunner(callbacks=[full_parse]).invoke(cli_args)
        except Exception as exc:  # dbtRunner normally catches; belt and braces
            raise DbtInvocationError(
                f"dbt {cli_args[0]} could not run on {redact(url)}: {exc}"
            ) from exc

    node_results = _node_results(res.result)
    if res.exception is not None and not node_results:
        raise DbtInvocationError(
            f"dbt {cli_args[0]} could not run on {redact(url)}: {_clean(str(res.exception))}"
        ) from res.exception

    failed = [r.unique_id for r in node_results if r.status in FAILED_STATUSES]
    for r in node_results:
        if r.status in FAILED_STATUSES:
            log.error("dbt %s %s: %s", r.status, r.unique_id, r.message)
        elif r.status == "warn":
            log.warning("dbt warn %s: %s", r.unique_id, r.message)
    return DbtOutcome(
        success=bool(res.success) and not failed,
        results=node_results,
        failed=failed,
        full_parse=full_parse.reason,
    )


class _FullParse:
    """A dbtRunner callback: the reason dbt gives when it cannot reuse its saved parse.

    A full parse of this project costs 5-9 s on 2 cores, whatever the data's size; dbt does one
    whenever the vars differ from the last invocation's on the same target directory, so every
    dbt invocation of a build passes the same vars (pipeline/gate.py, `build_vars`).
    """

    def __init__(self) -> None:
        self.reason: str | None = None

    def __call__(self, event: Any) -> None:
        if event.info.name == "UnableToPartialParse":
            self.reason = str(getattr(event.data, "reason", "") or "unknown")
            log.info("dbt parses the whole project: %s", self.reason)


def campaign_vars() -> dict[str, Any]:
    """dbt vars that come from the campaign configuration (config/campaign.yml), not from code.

    The campaign's `k_min` overrides the default of dbt_project.yml, so a campaign that raises its
    suppression threshold gets it in every model without editing the dbt project. The score
    parameters (`scores:` section) and their `params_version` go the same way: the targeting
    marts stamp every row with the version of the parameters that produced it. `campaign_id`
    selects the campaign's rows of `ops.campaign_territory` (its `territory:`, written by
    `build` before dbt runs): the bureaux every mart keeps.
    """
    from scrutin.campaign import load_campaign
    from scrutin.scores.params import load_score_params

    campaign = load_campaign()
    params = load_score_params()
    return {
        "campaign_id": campaign.campaign_id,
        "k_min": campaign.k_min,
        "scores": params.as_dict(),
        "params_version": params.params_version(),
    }


def build(
    url: str,
    run_id: str,
    select: str | None = None,
    exclude: str | None = None,
    *,
    indirect_selection: str | None = None,
    extra_vars: dict[str, Any] | None = None,
    skip_unit_tests: bool = False,
) -> DbtOutcome:
    """`dbt build` (models, unit tests, data tests) on warehouse `url`, recorded under `run_id`.

    Builds are serialised per warehouse (a PostgreSQL advisory lock), because two concurrent
    builds would race on the same `mart_audit` tables; each warehouse has its own dbt target
    directory, so builds against different warehouses never share dbt's artifacts.
    Every node result is written to `ops.dbt_results`. The campaign's territory is copied into
    `ops.campaign_territory` first, under the same lock, so what dbt restricts to is the
    territory of the campaign file whose vars it receives. `extra_vars` are this build's own
    (the gate's overrides, e.g. `accepted_bureau_losses`), on top of the campaign's.
    `skip_unit_tests` leaves the dbt unit tests out (`--exclude-resource-type unit_test`): the
    gate's incremental builds do, their code being that of a published build which ran them.
    """
    from scrutin.campaign import campaign_config_path, load_campaign
    from scrutin.db import connect
    from scrutin.warehouse.territory import write_campaign_territory

    args = [
        "build",
        "--log-level",
        "warn",  # failures and warnings only on the console; dbt.log keeps the detail
        "--log-level-file",
        "info",
        "--no-use-colors",
        "--no-send-anonymous-usage-stats",
    ]
    if select:
        args += ["--select", *select.split()]
    if exclude:
        args += ["--exclude", *exclude.split()]
    if skip_unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if indirect_selection:
        # `cautious`: a test runs only when every model it reads is in the selection, so a
        # selected build never tests a relation it did not build.
        args += ["--indirect-selection", indirect_selection]
    dbt_vars = {**campaign_vars(), **(extra_vars or {})}
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]

    try:
        lock_conn = connect(url, autocommit=True)
    except Exception as exc:
        raise DbtInvocationError(
            f"dbt build cannot reach the warehouse {redact(url)}: {exc}"
        ) from exc
    with lock_conn:
        lock_conn.execute("select pg_advisory_lock(hashtext('scrutin.dbt_build'))")
        target_path = build_target_path(url)
        try:
            write_campaign_territory(lock_conn, load_campaign(), campaign_config_path())
            log.info("dbt build %s on %s (target %s)", run_id, redact(url), target_path)
            outcome = run_dbt(args, url, target_path=target_path)
        finally:
            lock_conn.execute("select pg_advisory_unlock(hashtext('scrutin.dbt_build'))")

    if not outcome.results:
        # An empty selection would otherwise read as "all green" to the audit gate.
        raise DbtInvocationError(
            f"dbt build {run_id} ran no node (select={select!r}, exclude={exclude!r})"
        )
    record_results(url, run_id, outcome.results)
    log.info(
        "dbt build %s: %s, %d nodes, %d failed",
        run_id,
        "success" if outcome.success else "FAILED",
        len(outcome.results),
        len(outcome.failed),
    )
    return outcome


def record_results(url: str, run_id: str, results: Sequence[NodeResult]) -> None:
    """Append the node results to `ops.dbt_results` (one executemany: a build has ~100 nodes)."""
    from scrutin.db import connect

    if not results:
        return
    with connect(url) as conn, conn.cursor() as cur:
        cur.executemany(_INSERT_RESULT, [(run_id, *r) for r in results])


def _node_results(result: Any) -> list[NodeResult]:
    """Node results of a run-like command (build, run, test, seed); [] for parse, ls, debug..."""
    rows: list[NodeResult] = []
    for r in getattr(result, "results", None) or []:
        node = getattr(r, "node", None)
        if node is None:
            continue
        failures = getattr(r, "failures", None)
        execution_time = getattr(r, "execution_time", None)
        message = getattr(r, "message", None)
        rows.append(
            NodeResult(
                unique_id=node.unique_id,
                resource_type=str(node.resource_type),
                status=str(r.status),
                execution_time=float(execution_time) if execution_time is not None else None,
                failures=int(failures) if failures is not None else None,
                message=_clean(str(message)) if message is not None else None,
            )
        )
    return rows


def _clean(text: str) -> str:
    return _ANSI_ESCAPE.sub("", text).strip()


def _add_option(args: list[str], option: str, value: str) -> None:
    if not any(a == option or a.startswith(option + "=") for a in args):
        args += [option, value]


def generate_docs(url: str, out_dir: Path, extra_vars: dict[str, Any] | None = None) -> Path:
    """The dbt docs site of the last build on `url`, as one static page `out_dir/index.html`.

    `dbt docs generate --static --no-compile` reuses the manifest the build just wrote (no
    second parse or compile) and only queries the catalog (column types, row counts) of the
    audited schema: what is about to be published. Raises DbtInvocationError when it fails.
    """
    import shutil

    from scrutin.db import connect

    args = [
        "docs",
        "generate",
        "--static",
        "--no-compile",
        "--log-level",
        "warn",
        "--no-send-anonymous-usage-stats",
    ]
    # The build's vars: other vars than the build's would make dbt parse the project again.
    dbt_vars = {**campaign_vars(), **(extra_vars or {})}
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    with connect(url, autocommit=True) as lock_conn:
        lock_conn.execute("select pg_advisory_lock(hashtext('scrutin.dbt_build'))")
        target_path = build_target_path(url)
        try:
            from dbt.cli.main import dbtRunner

            cli_args = [
                *args,
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
                "--target-path",
                str(target_path),
            ]
            with _environ({**_DBT_QUIET_ENV, **dbt_env(url)}):
                res = dbtRunner(callbacks=[_FullParse()]).invoke(cli_args)
        finally:
            lock_conn.execute("select pg_advisory_unlock(hashtext('scrutin.dbt_build'))")
    page = target_path / "static_index.html"
    if not res.success or not page.exists():
        raise DbtInvocationError(f"dbt docs generate failed on {redact(url)}: {res.exception}")
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(page, out_dir / "index.html")
    return out_dir / "index.html"


def build_target_path(url: str) -> Path:
    """dbt's target directory for builds on the warehouse at `url`.

    One directory per warehouse: builds on one warehouse are serialised by the advisory lock, so
    they can share it (and dbt's partial parsing, ~2 s saved per build), while builds on two
    warehouses (tests and the demo, say) never overwrite each other's manifest or run results.
    The last build's artifacts stay there for inspection (compiled SQL of a failing test).
    SCRUTIN_DBT_TARGET_ROOT moves them off a read-only checkout.
    """
    p = dsn_parts(url)
    root = Path(os.environ.get("SCRUTIN_DBT_TARGET_ROOT") or DBT_PROJECT_DIR / "target")
    return root / re.sub(r"[^A-Za-z0-9_.-]+", "_", f"build-{p.host}-{p.port}-{p.dbname}")


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
