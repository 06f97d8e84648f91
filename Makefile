# make dev  - the control plane on the embedded default (Temporal dev server + local Postgres/Redis +
#             simulated fleet), Web UI on :8233. Ctrl-C stops what it started.
# make dev-reset - forget the dev fleet's state (database, Temporal history, Redis keys).
# make test - installs what is missing and runs every test against real Temporal, Postgres, Redis.
SHELL := /bin/bash

.PHONY: dev dev-reset test test-unit test-integration build lint typecheck validate-deploy bench

dev:
	@bash scripts/dev.sh

dev-reset:
	@bash scripts/dev-reset.sh

test:
	@bash scripts/test.sh

test-unit:
	@npx jest --selectProjects unit

build:
	@npm run build

lint:
	@npx eslint . && npx prettier --check .

typecheck:
	@npx tsc -p tsconfig.json --noEmit

validate-deploy:
	@bash scripts/validate-deploy.sh
