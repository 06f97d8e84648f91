#!/usr/bin/env bash
# make dev: the control plane on the embedded default. Installs what is missing, starts the
# Temporal dev server (SQLite under .data/, Web UI on :8233, search attributes registered) unless
# one already answers on :7233, migrates the database, then runs `genesis-cp dev` (worker + API +
# simulated fleet). Ctrl-C stops what this script started, nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_local_stack
mkdir -p .data

# Job control: every process started below gets its own process group, so a Ctrl-C in the
# terminal reaches only this script, which stops each child once (SIGTERM) and waits for it. Without
# it the terminal's SIGINT and the cleanup's SIGTERM both reached the control plane, whose second
# signal means "exit now", skipping its graceful stop.
set -m
started=()
cleanup() {
  trap - INT TERM EXIT
  local i
  # newest first: the control plane stops (and drains its worker) while Temporal still answers
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    kill "${started[i]}" 2>/dev/null || true
    wait "${started[i]}" 2>/dev/null || true
  done
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

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/genesis_dev}"
export DATABASE_URL

# One environment for every process: written once here, read by `genesis-cp` through ./.env (or
# --dotenv .data/dev.env) in this and any other terminal; a variable set in the environment
# wins over the file. Values set in the shell that runs `make dev` are written as they are.
one_line_pem() { awk '{printf "%s\\n", $0}' "$1"; }
umask 077
cat >.data/dev.env <<ENV
# Written by make dev ($(date -u +%FT%TZ)); read by genesis-cp through ./.env or --dotenv.
# Regenerated on every make dev from the secrets kept in .data/. Never use these in production.
NODE_ENV='development'
DATABASE_URL='${DATABASE_URL}'
REDIS_URL='${REDIS_URL:-redis://127.0.0.1:6379}'
REDIS_KEY_PREFIX='${REDIS_KEY_PREFIX:-genesis-dev:}'
TEMPORAL_ADDRESS='127.0.0.1:${TEMPORAL_PORT}'
TEMPORAL_NAMESPACE='${TEMPORAL_NAMESPACE:-default}'
TEMPORAL_TASK_QUEUE='${TEMPORAL_TASK_QUEUE:-genesis-control-plane}'
PORT='${API_PORT}'
API_HOST='127.0.0.1'
DIGITALOCEAN_API_URL='http://127.0.0.1:${DEV_DIGITALOCEAN_PORT:-8091}'
DIGITALOCEAN_API_TOKEN='${DIGITALOCEAN_API_TOKEN:-dev-simulator-token}'
# A livelier fleet: stale after 60 s instead of 5 min. The same timeout drives the watchdog, a
# wake's "already healthy" check, the verification window, fleet status and droplets list.
WATCHDOG_HEARTBEAT_TIMEOUT_S='${WATCHDOG_HEARTBEAT_TIMEOUT_S:-60}'
# The fleet probe every minute instead of 5 (the simulated agents answer HEALTH_CHECK at once).
PROBE_PERIOD_S='${PROBE_PERIOD_S:-60}'
SIDECAR_JWT_PRIVATE_KEY="$(one_line_pem .data/sidecar-jwt.pem)"
SIDECAR_HANDSHAKE_SECRET='$(cat .data/handshake-secret)'
PAYLOAD_CODEC_KEYS='dev1:$(cat .data/codec-key)'
# The Web UI on this machine decodes without a token (the API listens on loopback only); the
# temporal CLI and scripts use the token: --codec-auth "Bearer \$CODEC_SERVER_TOKEN".
CODEC_TRUST_LOOPBACK_UI='true'
CODEC_CORS_ORIGIN='http://localhost:${UI_PORT},http://127.0.0.1:${UI_PORT}'
CODEC_SERVER_TOKEN='$(cat .data/codec-token)'
ENV
umask 022
if [ ! -e .env ] && [ ! -L .env ]; then
  ln -s .data/dev.env .env
elif [ "$(readlink .env 2>/dev/null)" != ".data/dev.env" ]; then
  log "keeping your own ./.env: run genesis-cp in other terminals with --dotenv .data/dev.env"
fi
ENV_FILE=.data/dev.env

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
    --ui-codec-endpoint "http://127.0.0.1:${API_PORT}/codec" >.data/temporal.log 2>&1
  started+=("$TEMPORAL_PID")
fi

node dist/src/cli.js --dotenv "$ENV_FILE" migrate
node dist/src/cli.js --dotenv "$ENV_FILE" dev &
started+=("$!")
sleep 2
cat <<MSG

  Genesis control plane (development)
    Temporal Web UI   http://localhost:${UI_PORT}
    API               http://localhost:${API_PORT}/health
    Temporal gRPC     127.0.0.1:${TEMPORAL_PORT}
    Codec server      http://127.0.0.1:${API_PORT}/codec   (the local Web UI needs no token)
    Settings          .data/dev.env (read by genesis-cp through ./.env), e.g. in another terminal:
                        node dist/src/cli.js droplets list --stale
                        node dist/src/cli.js wake 1000001 --wait
  Ctrl-C stops everything started here.

MSG
wait -n "${started[@]}" || true
