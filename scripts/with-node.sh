#!/usr/bin/env bash
# Runs a command with Node 24 first on PATH (the machine's when new enough, else the pinned one in
# .tools/, installed on first use) and node_modules installed for it: `bash scripts/with-node.sh npx jest`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_node_modules
exec "$@"
