#!/usr/bin/env bash
# make test: install what is missing (node modules, the Temporal CLI, Debian's chromium for the Web
# UI test), make sure Postgres and Redis answer, then type-check, lint and run every test. Jest's
# global setup starts one Temporal dev server for the run (TEMPORAL_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_local_stack
ensure_chromium
TEMPORAL_BIN="$(ensure_temporal_cli)"
export TEMPORAL_BIN

log "type-check"
npx tsc -p tsconfig.json --noEmit
npx tsc -p examples/nextjs/tsconfig.json
log "lint"
npx eslint --max-warnings 0 .
npx prettier --check . >/dev/null || { npx prettier --check . ; exit 1; }
if [ -f scripts/validate-deploy.sh ]; then log "validate deploy manifests"; bash scripts/validate-deploy.sh; fi

log "build (tests run the built CLI as a child process)"
npm run build --silent >/dev/null

log "jest"
# Two test files at a time (JEST_MAX_WORKERS): the integration tests mostly wait on Temporal timers,
# keep-alives and child processes, so a second file uses the time the first spends waiting; every
# test waits on conditions, never on fixed windows, so a busier machine only makes them slower.
jest_args=(--ci "--maxWorkers=${JEST_MAX_WORKERS:-2}")
[ -n "${JEST_RESULTS_FILE:-}" ] && jest_args+=(--json --outputFile="$JEST_RESULTS_FILE")
npx jest "${jest_args[@]}" "$@"
