-- Worker Versioning releases: every change of a worker deployment's current version made by the
-- control plane (genesis-cp release set-current/rollback, or a worker bootstrapping a deployment
-- that had none), so `release rollback` knows which version was current before.

CREATE TABLE worker_releases (
  id                bigserial PRIMARY KEY,
  deployment_name   text NOT NULL,
  build_id          text NOT NULL,
  previous_build_id text,
  action            text NOT NULL CHECK (action IN ('bootstrap', 'set-current', 'rollback')),
  set_by            text NOT NULL,
  at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX worker_releases_deployment_idx ON worker_releases (deployment_name, id DESC);
