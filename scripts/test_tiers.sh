#!/usr/bin/env bash
# The three test tiers of `make test`: unit first (seconds, no database; it stops the run when it
# fails), then integration and end-to-end side by side, each on databases of its own:
#   - integration: the session warehouse `scrutin_test` and its `scrutin_test_*` siblings;
#   - end-to-end:  `scrutin_e2e` (SCRUTIN_TEST_DB) and its `scrutin_e2e_*` siblings, and Airflow's
#     metadata database (only the e2e tier runs DAGs).
# Each tier writes its own dbt logs and Data Docs, and its own log file under var/test-logs/;
# both logs are printed once both tiers have finished. On 2 cores the two tiers overlap well:
# each waits on PostgreSQL and dbt's threads for much of its time.
#
#   bash scripts/test_tiers.sh [pytest arguments...]
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=.venv/bin/pytest
LOGS=var/test-logs
mkdir -p "$LOGS"

$PYTEST tests/unit --durations=10 "$@" || exit $?

run_tier() {  # name, test database, pytest arguments...
  local name=$1 db=$2
  shift 2
  SCRUTIN_TEST_DB=$db \
    DBT_LOG_PATH="$PWD/$LOGS/dbt-$name" \
    SCRUTIN_DATA_DOCS_DIR="$PWD/$LOGS/data-docs-$name" \
    "$PYTEST" "tests/$name" "$@" >"$LOGS/$name.log" 2>&1
}

started=$(date +%s)
echo "[tests] integration and e2e tiers running side by side (logs: $LOGS/integration.log, $LOGS/e2e.log)"
run_tier integration scrutin_test --durations=15 "$@" &
integration=$!
run_tier e2e scrutin_e2e --durations=10 "$@" &
e2e=$!
wait "$integration"
integration_rc=$?
echo "[tests] integration tier finished (exit $integration_rc) after $(( $(date +%s) - started )) s"
wait "$e2e"
e2e_rc=$?
echo "[tests] e2e tier finished (exit $e2e_rc) after $(( $(date +%s) - started )) s"

echo "===================== integration tier ====================="
cat "$LOGS/integration.log"
echo "===================== end-to-end tier ======================"
cat "$LOGS/e2e.log"
if [ "$integration_rc" -ne 0 ] || [ "$e2e_rc" -ne 0 ]; then
  echo "[tests] FAILED: integration exit $integration_rc, e2e exit $e2e_rc" >&2
  exit 1
fi
