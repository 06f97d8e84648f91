-- The fleet: workspaces, their droplets and everything the control plane records about them.

CREATE TYPE droplet_state AS ENUM (
  'PROVISIONING', 'ACTIVE_HEALTHY', 'ACTIVE_DEGRADED', 'HIBERNATING', 'HIBERNATED', 'WAKING',
  'REBOOTING', 'UPDATING', 'ZOMBIE', 'FAILED', 'TERMINATED'
);

CREATE TABLE workspaces (
  id          text PRIMARY KEY,
  name        text,
  plan        text NOT NULL DEFAULT 'starter',
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE droplets (
  id                bigint PRIMARY KEY,               -- the DigitalOcean droplet id
  workspace_id      text NOT NULL REFERENCES workspaces (id),
  region            text,
  ip_address        inet,
  sidecar_url       text,
  sidecar_version   text,
  n8n_version       text,
  state             droplet_state NOT NULL DEFAULT 'PROVISIONING',
  state_changed_at  timestamptz NOT NULL DEFAULT now(),
  last_heartbeat_at timestamptz,
  cpu_percent       real,
  memory_percent    real,
  disk_percent      real,
  n8n_status        text,
  uptime_seconds    bigint,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX droplets_workspace_idx ON droplets (workspace_id);
CREATE INDEX droplets_state_idx ON droplets (state);
-- The watchdog's stale query: only droplets that are expected to heartbeat are in this index.
CREATE INDEX droplets_heartbeat_watch_idx ON droplets (last_heartbeat_at NULLS FIRST)
  WHERE state IN ('ACTIVE_HEALTHY', 'ACTIVE_DEGRADED');

-- Every state change, with who caused it (a workflow id, the drain, an operator).
CREATE TABLE droplet_lifecycle_log (
  id          bigserial PRIMARY KEY,
  droplet_id  bigint NOT NULL REFERENCES droplets (id),
  from_state  droplet_state,
  to_state    droplet_state NOT NULL,
  cause       text NOT NULL,
  workflow_id text,
  detail      jsonb,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX droplet_lifecycle_log_droplet_idx ON droplet_lifecycle_log (droplet_id, at DESC);

-- Heartbeat history, one partition per UTC day; rows land in the default partition only when the
-- day's partition was not created yet. Retention drops whole partitions (see heartbeat-retention).
CREATE TABLE heartbeat_history (
  droplet_id      bigint NOT NULL,
  workspace_id    text NOT NULL,
  observed_at     timestamptz NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  cpu_percent     real,
  memory_percent  real,
  disk_percent    real,
  n8n_status      text,
  sidecar_version text,
  n8n_version     text,
  uptime_seconds  bigint,
  PRIMARY KEY (droplet_id, observed_at)
) PARTITION BY RANGE (observed_at);
CREATE TABLE heartbeat_history_default PARTITION OF heartbeat_history DEFAULT;

-- Per-droplet heartbeat tokens, stored as SHA-256 of a 32-byte random token (never the token).
CREATE TABLE heartbeat_tokens (
  droplet_id  bigint PRIMARY KEY REFERENCES droplets (id) ON DELETE CASCADE,
  token_hash  bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- What runs on each tenant: component 'sidecar' or 'workflow:<name>'.
CREATE TABLE tenant_versions (
  workspace_id     text NOT NULL REFERENCES workspaces (id),
  component        text NOT NULL,
  version          text NOT NULL,
  previous_version text,
  artifact         jsonb,
  previous_artifact jsonb,
  workflow_id      text,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, component)
);

CREATE TABLE rollouts (
  id             text PRIMARY KEY,
  kind           text NOT NULL CHECK (kind IN ('sidecar', 'workflow')),
  target_version text NOT NULL,
  spec           jsonb NOT NULL,
  status         text NOT NULL,
  workflow_id    text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz
);
CREATE TABLE rollout_waves (
  rollout_id   text NOT NULL REFERENCES rollouts (id),
  wave         int NOT NULL,
  size         int NOT NULL,
  succeeded    int NOT NULL DEFAULT 0,
  failed       int NOT NULL DEFAULT 0,
  rolled_back  int NOT NULL DEFAULT 0,
  status       text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,
  PRIMARY KEY (rollout_id, wave)
);

CREATE TABLE alerts (
  id                bigserial PRIMARY KEY,
  key               text NOT NULL,            -- dedup key, e.g. 'watchdog:storm' or 'droplet:42:cpu'
  kind              text NOT NULL,
  severity          text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  status            text NOT NULL CHECK (status IN ('open', 'resolved')),
  workspace_id      text,
  droplet_id        bigint,
  workflow_id       text,
  message           text NOT NULL,
  value             double precision,
  threshold         double precision,
  notified_severity text,
  last_notified_at  timestamptz,
  opened_at         timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  resolved_at       timestamptz
);
CREATE UNIQUE INDEX alerts_one_open_per_key ON alerts (key) WHERE status = 'open';

-- Credential injections and rotations: who, what, when; never the credential itself.
CREATE TABLE credential_audit (
  id                bigserial PRIMARY KEY,
  workspace_id      text NOT NULL,
  droplet_id        bigint NOT NULL,
  credential_type   text NOT NULL,
  credential_name   text NOT NULL,
  n8n_credential_id text,
  action            text NOT NULL CHECK (action IN ('inject', 'rotate')),
  outcome           text NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
  error             text,
  workflow_id       text NOT NULL,
  at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credential_audit_workspace_idx ON credential_audit (workspace_id, at DESC);
