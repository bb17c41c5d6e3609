# Scrutin — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
export PYTHONDONTWRITEBYTECODE :=

.PHONY: demo test test-unit stop lint bootstrap setup bench bench-national test-tools airflow airflow-stop

## Create/refresh .venv from uv.lock (fast no-op when unchanged)
bootstrap:
	@bash scripts/bootstrap.sh

## Start the local PostgreSQL (unless SCRUTIN_DATABASE_URL), databases, roles, Airflow metadata
setup: bootstrap
	@$(VENV)/bin/scrutin setup

## Run the whole pipeline on the bundled sample: real Airflow DAG runs, dbt, GX, publication
demo: setup
	@$(VENV)/bin/scrutin demo

## Lint, then the three test tiers: unit (no database; stops the run when it fails), then
## integration (one shared warehouse) and end-to-end (gate, DAG runs) side by side, each on
## databases of its own (scripts/test_tiers.sh)
test: setup lint test-tools
	@bash scripts/test_tiers.sh $(PYTEST_ARGS)

## The unit tier alone: seconds, no PostgreSQL needed
test-unit: bootstrap test-tools
	@$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

## What the tests drive: headless Chromium, libfaketime (Debian packages; apt-get when missing)
test-tools:
	@bash scripts/ensure_test_tools.sh

## Airflow as services (api-server, scheduler, dag-processor, triggerer; LocalExecutor) on the
## project's PostgreSQL, in the background: prints the URL and how to log in. Same start script
## as the docker-compose services (pipeline/airflow_services.py). On the bundled sample the
## canvass DAG runs in demo mode unless SCRUTIN_DEMO is set (to 0 with a real secret).
airflow: setup
	@SCRUTIN_DEMO=$${SCRUTIN_DEMO-1} $(VENV)/bin/scrutin airflow start --no-setup

## Stop the Airflow services `make airflow` started
airflow-stop:
	@$(VENV)/bin/scrutin airflow stop

## Stop the Airflow services (if any), then the local PostgreSQL server
stop:
	@if [ -x $(VENV)/bin/scrutin ]; then $(VENV)/bin/scrutin airflow stop; fi
	@bash scripts/local_pg.sh stop

## Benchmarks at national scale (not tests; each prints wall time, rows/s, peak memory)
bench: setup
	@$(VENV)/bin/python benchmarks/bench_results_load.py
	@$(VENV)/bin/python benchmarks/bench_allocation.py
	@$(VENV)/bin/python benchmarks/bench_canvass.py
	@$(VENV)/bin/python benchmarks/bench_territory.py

## National scale end to end (issue 15): generate, load, scrutin build, 10,000 new knocks, BI
## queries; JSON summary in benchmarks/results/. `make bench-national SCALE=0.01` for a quick run.
SCALE ?= 0.1
SOURCES ?=
bench-national: setup
	@$(VENV)/bin/python benchmarks/bench_national.py --scale $(SCALE) $(if $(SOURCES),--sources $(SOURCES))

## Lint: Python (ruff), the import layers (import-linter), types (mypy), the dbt SQL (sqlfluff,
## dbt templater: compiles against the warehouse, hence `setup`)
lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache
	@$(VENV)/bin/mypy
	@$(VENV)/bin/python scripts/lint_sql.py dbt/models dbt/tests --processes 2 --disable-progress-bar
