#!/usr/bin/env bash
# Shared helpers for make dev, make test and .ci/run: put Node 24 on PATH, find or build the Temporal
# CLI, make sure the local Postgres and Redis answer, wait for ports. Sourced, never executed.

TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
# Search attributes the workflows set and the Web UI filters on.
TEMPORAL_SEARCH_ATTRIBUTES=(WorkspaceId=Keyword DropletId=Keyword Operation=Keyword Reason=Keyword RolloutId=Keyword WorkerGroup=Keyword)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Prints the path of a temporal CLI: $TEMPORAL_BIN, one on PATH, the go-installed one, or builds it.
ensure_temporal_cli() {
  if [ -n "${TEMPORAL_BIN:-}" ] && [ -x "$TEMPORAL_BIN" ]; then echo "$TEMPORAL_BIN"; return; fi
  if command -v temporal >/dev/null 2>&1; then command -v temporal; return; fi
  local gobin
  gobin="$(go env GOBIN 2>/dev/null)"; [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
  if [ -x "$gobin/temporal" ]; then echo "$gobin/temporal"; return; fi
  local v
  for v in "$TEMPORAL_CLI_VERSION" v1.5.0 v1.4.1; do
    log "building the Temporal CLI $v with go install (a few minutes, once)"
    if go install "github.com/temporalio/cli/cmd/temporal@$v" >&2; then echo "$gobin/temporal"; return; fi
    log "go install of temporal $v failed"
  done
  return 1
}

# --- Node ------------------------------------------------------------------------------------------
# Everything runs on Node 24 LTS. When the machine's node is older, a pinned Node 24 is installed from
# the npm registry (the package node-linux-<arch> carries the official binary as bin/node) into the
# git-ignored .tools/ folder, checked against the integrity pinned here, and put first on PATH, so
# npm, npx, jest, tsc, the built CLI and every child process the tests spawn run on it. npm itself is
# the machine's (its bin is a `#!/usr/bin/env node` script, so it runs on the Node found first).
GENESIS_NODE_VERSION=24.22.3
genesis_node_integrity() { # arch -> the registry's sha512 of node-linux-<arch>@GENESIS_NODE_VERSION
  case "$1" in
    x64) echo 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' ;;
    arm64) echo 'sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==' ;;
  esac
}

ensure_node() {
  local have
  have="$(node -p 'process.versions.node' 2>/dev/null || true)"
  if [ -n "$have" ] && [ "${have%%.*}" -ge 24 ]; then return 0; fi
  local arch
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/amd64) arch=x64 ;;
    Linux/aarch64 | Linux/arm64) arch=arm64 ;;
    *) log "Node 24 or newer is needed (found ${have:-none}); install Node 24 LTS"; return 1 ;;
  esac
  local root="$PWD/.tools/node-v$GENESIS_NODE_VERSION-linux-$arch"
  if [ "$("$root/bin/node" --version 2>/dev/null)" != "v$GENESIS_NODE_VERSION" ]; then
    command -v npm >/dev/null || { log "npm is needed to fetch Node $GENESIS_NODE_VERSION (found node ${have:-none})"; return 1; }
    log "installing Node $GENESIS_NODE_VERSION (npm package node-linux-$arch) into .tools/ (machine has ${have:-none})"
    local tmp tgz got
    tmp="$(mktemp -d)"
    tgz="$tmp/node-linux-$arch-$GENESIS_NODE_VERSION.tgz"
    if ! (cd "$tmp" && npm pack --silent "node-linux-$arch@$GENESIS_NODE_VERSION" >/dev/null) || [ ! -s "$tgz" ]; then
      rm -rf "$tmp"; log "npm pack node-linux-$arch@$GENESIS_NODE_VERSION failed"; return 1
    fi
    got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 | tr -d '\n')"
    if [ "$got" != "$(genesis_node_integrity "$arch")" ]; then
      rm -rf "$tmp"; log "node-linux-$arch@$GENESIS_NODE_VERSION: integrity $got is not the pinned one"; return 1
    fi
    mkdir -p "$tmp/root/bin" .tools
    tar -xzf "$tgz" -C "$tmp" package/bin/node package/LICENSE &&
      mv "$tmp/package/bin/node" "$tmp/root/bin/node" && mv "$tmp/package/LICENSE" "$tmp/root/LICENSE" &&
      rm -rf "$root" && mv "$tmp/root" "$root"
    rm -rf "$tmp"
  fi
  export PATH="$root/bin:$PATH"
  hash -r
  if [ "$(node --version 2>/dev/null)" != "v$GENESIS_NODE_VERSION" ]; then
    log "Node $GENESIS_NODE_VERSION in $root does not run"; return 1
  fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_port() { # host port seconds what
  local i
  for ((i = 0; i < $3 * 10; i++)); do port_open "$1" "$2" && return 0; sleep 0.1; done
  log "$4 did not open $1:$2 within $3 s"; return 1
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  log "Postgres is not answering on 127.0.0.1:5432; starting it"
  local ver
  ver="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$ver" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  else
    log "no Postgres cluster found: install PostgreSQL 15 (apt-get install postgresql) or set DATABASE_URL"; return 1
  fi
  local i; for ((i = 0; i < 100; i++)); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 0.2; done
  log "Postgres did not come up"; return 1
}

ensure_redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  log "Redis is not answering on 127.0.0.1:6379; starting it"
  command -v redis-server >/dev/null || { log "redis-server is not installed (apt-get install redis-server)"; return 1; }
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 127.0.0.1 6379 20 redis
}

# node_modules is (re)installed when missing, older than the lockfile, or installed by another Node
# major (native modules such as @temporalio/core-bridge and @swc/core are built per platform).
ensure_node_modules() {
  ensure_node || return 1
  local major
  major="node-$(node -p 'process.versions.node.split(".")[0]')"
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] ||
    [ "$(cat node_modules/.genesis-node 2>/dev/null)" != "$major" ]; then
    log "npm ci ($major)"
    npm ci --no-audit --no-fund >&2
    echo "$major" >node_modules/.genesis-node
  fi
}

# What make dev and make test both need first: Node 24 and the node modules, Postgres and Redis up.
# Called as a plain command under `set -e`, so a failing step stops the caller as it did inline.
ensure_local_stack() {
  ensure_node
  ensure_node_modules
  ensure_postgres
  ensure_redis
}

# Starts a Temporal dev server in the background. Args: port ui_port db_file(or "") [extra args...]
# Sets TEMPORAL_PID.
start_temporal() {
  local bin port=$1 ui=$2 db=$3; shift 3
  bin="$(ensure_temporal_cli)" || return 1
  local args=(server start-dev --ip 127.0.0.1 --port "$port" --log-level warn)
  if [ "$ui" = "none" ]; then args+=(--headless); else args+=(--ui-port "$ui"); fi
  [ -n "$db" ] && args+=(--db-filename "$db")
  local sa; for sa in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
  "$bin" "${args[@]}" "$@" &
  TEMPORAL_PID=$!
  wait_port 127.0.0.1 "$port" 60 "temporal dev server"
}

# The browser of the Web UI test (test/integration/web-ui-decoding.test.ts): Debian's chromium,
# driven by playwright-core (which downloads no browser of its own). Installed with apt as root.
ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  if [ "$(id -u)" != 0 ]; then log "chromium is missing: apt-get install chromium (as root)"; return 1; fi
  log "installing Debian's chromium (apt-get, once)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2 || {
      log "apt-get install chromium failed"; return 1; }
}
