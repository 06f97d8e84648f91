#!/usr/bin/env bash
# make dev-reset: forget the development fleet's state so the next `make dev` starts fresh: drops
# the genesis_dev database, deletes the Temporal dev server's SQLite file and the Redis keys under
# the dev prefix. Keeps the development secrets in .data/ (keys, tokens) and .data/dev.env.
# Refuses while make dev is running.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
API_PORT="${PORT:-8080}"
if port_open 127.0.0.1 "$API_PORT" || port_open 127.0.0.1 "$TEMPORAL_PORT"; then
  log "make dev still runs (:$API_PORT or :$TEMPORAL_PORT answers): stop it with Ctrl-C first"
  exit 1
fi
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/genesis_dev}"
prefix="${REDIS_KEY_PREFIX:-genesis-dev:}"
dbname="${DATABASE_URL##*/}"
psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS $dbname" && log "dropped database $dbname"
rm -f .data/temporal.db .data/temporal.db-shm .data/temporal.db-wal && log "removed the Temporal dev server's history (.data/temporal.db)"
n=0
while read -r key; do
  [ -n "$key" ] || continue
  redis-cli -h 127.0.0.1 -p 6379 del "$key" >/dev/null
  n=$((n + 1))
done < <(redis-cli -h 127.0.0.1 -p 6379 --scan --pattern "${prefix}*")
log "deleted $n Redis keys under ${prefix}"
