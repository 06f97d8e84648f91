# make dev  - the control plane on the embedded default (Temporal dev server + local Postgres/Redis +
#             simulated fleet), Web UI on :8233. Ctrl-C stops what it started.
# make dev-reset - forget the dev fleet's state (database, Temporal history, Redis keys).
# make test - installs what is missing and runs every test against real Temporal, Postgres, Redis.
# Every target runs on Node 24 (a pinned one in .tools/ when the machine's node is older).
SHELL := /bin/bash

.PHONY: dev dev-reset test test-unit test-workflow test-integration build lint typecheck validate-deploy bench

dev:
	@bash scripts/dev.sh

dev-reset:
	@bash scripts/dev-reset.sh

test:
	@bash scripts/test.sh

test-unit:
	@bash scripts/with-node.sh npx jest --selectProjects unit

test-workflow:
	@bash scripts/with-node.sh npx jest --selectProjects workflow

build:
	@bash scripts/with-node.sh npm run build

lint:
	@bash scripts/with-node.sh sh -c 'npx eslint . && npx prettier --check .'

typecheck:
	@bash scripts/with-node.sh npx tsc -p tsconfig.json --noEmit

validate-deploy:
	@bash scripts/validate-deploy.sh
