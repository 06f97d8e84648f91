#!/usr/bin/env bash
# make dev: the control plane on the embedded default. Installs what is missing, starts the
# Temporal dev server (SQLite under .data/, Web UI on :8233, search attributes registered) unless
# one already answers on :7233, migrates the database, then runs `genesis-cp dev` (worker + API +
# simulated fleet). Ctrl-C stops what this script started, nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_node
ensure_node_modules
ensure_postgres
ensure_redis
mkdir -p .data

started=()
cleanup() {
  trap - INT TERM EXIT
  local pid
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  log "stopped"
}
trap cleanup INT TERM EXIT

TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
UI_PORT="${TEMPORAL_UI_PORT:-8233}"
API_PORT="${PORT:-8080}"

# Development secrets, made once and kept in the git-ignored .data folder.
[ -f .data/sidecar-jwt.pem ] || openssl genrsa -out .data/sidecar-jwt.pem 2048 2>/dev/null
[ -f .data/sidecar-jwt.pub ] || openssl rsa -in .data/sidecar-jwt.pem -pubout -out .data/sidecar-jwt.pub 2>/dev/null
[ -f .data/codec-key ] || head -c 32 /dev/urandom | base64 > .data/codec-key
[ -f .data/codec-token ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > .data/codec-token
[ -f .data/handshake-secret ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > .data/handshake-secret

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/genesis_dev}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export REDIS_KEY_PREFIX="${REDIS_KEY_PREFIX:-genesis-dev:}"
export TEMPORAL_ADDRESS="127.0.0.1:${TEMPORAL_PORT}"
export PORT="$API_PORT"
# A livelier fleet for development: stale after 60 s instead of 5 min.
export WATCHDOG_HEARTBEAT_TIMEOUT_S="${WATCHDOG_HEARTBEAT_TIMEOUT_S:-60}"
export DIGITALOCEAN_API_TOKEN="${DIGITALOCEAN_API_TOKEN:-dev-simulator-token}"
export SIDECAR_JWT_PRIVATE_KEY="$(cat .data/sidecar-jwt.pem)"
export SIDECAR_HANDSHAKE_SECRET="$(cat .data/handshake-secret)"
export PAYLOAD_CODEC_KEYS="dev1:$(cat .data/codec-key)"
export CODEC_SERVER_TOKEN="$(cat .data/codec-token)"
export CODEC_CORS_ORIGIN="http://localhost:${UI_PORT}"

dbname="${DATABASE_URL##*/}"
psql "${DATABASE_URL%/*}/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1 ||
  psql "${DATABASE_URL%/*}/postgres" -qc "CREATE DATABASE $dbname"

log "building"
npx tsc -p tsconfig.build.json

if port_open 127.0.0.1 "$TEMPORAL_PORT"; then
  log "a Temporal server already answers on :$TEMPORAL_PORT; using it"
else
  log "starting the Temporal dev server (UI http://localhost:${UI_PORT})"
  start_temporal "$TEMPORAL_PORT" "$UI_PORT" .data/temporal.db \
    --ui-codec-endpoint "http://localhost:${API_PORT}/codec" >.data/temporal.log 2>&1
  started+=("$TEMPORAL_PID")
fi

node dist/src/cli.js migrate
node dist/src/cli.js dev &
started+=("$!")
sleep 2
cat <<MSG

  Genesis control plane (development)
    Temporal Web UI   http://localhost:${UI_PORT}
    API               http://localhost:${API_PORT}/health
    Temporal gRPC     ${TEMPORAL_ADDRESS}
    Codec server      http://localhost:${API_PORT}/codec   (token in .data/codec-token)
  Ctrl-C stops everything started here.

MSG
wait -n "${started[@]}" || true
