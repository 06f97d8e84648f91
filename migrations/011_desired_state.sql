-- Desired state per tenant (workspace) and the reconciler's record of each tenant.
--
-- What a tenant must run: the n8n image tag (component 'n8n') and its n8n workflows (component
-- 'workflow:<name>', the same component names tenant_versions records), each at a version, a
-- workflow with its artifact (the workflow JSON and credential map the change workflows take),
-- stored once by digest; and the credentials that must exist on it (type and name, with the
-- fleet's encrypted blob the injection sends: ciphertext for the agent's master key, never logged
-- and never read back by the client or the CLI).
-- Set by the client (Vercel), the CLI and rollouts. `rollout_id` + `previous` remember what a
-- rollout's wave replaced, so a halted rollout can put it back (previous NULL: the row was absent).

CREATE TABLE desired_artifacts (
  digest         text PRIMARY KEY,               -- sha256 of the canonical JSON of both below
  workflow_json  jsonb NOT NULL,
  credential_map jsonb,
  created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE desired_components (
  workspace_id    text NOT NULL REFERENCES workspaces (id),
  component       text NOT NULL CHECK (component = 'n8n' OR component LIKE 'workflow:_%'),
  version         text NOT NULL,
  artifact_digest text REFERENCES desired_artifacts (digest),
  set_by          text NOT NULL,
  rollout_id      text,
  previous        jsonb,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, component),
  CHECK ((component = 'n8n') = (artifact_digest IS NULL))
);
CREATE INDEX desired_components_rollout_idx ON desired_components (rollout_id) WHERE rollout_id IS NOT NULL;

CREATE TABLE desired_credentials (
  workspace_id    text NOT NULL REFERENCES workspaces (id),
  credential_type text NOT NULL,
  credential_name text NOT NULL,
  encrypted_data  text NOT NULL,
  set_by          text NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, credential_type, credential_name)
);

-- The reconciler's record per tenant: consecutive failed reconciliations (reset by a success, a
-- change of desired state or an operator's clear), when it gave up (marked, alerted, not retried
-- until cleared or desired state changes), the last outcome, and when its n8n workflows were last
-- read back with GET_WORKFLOW (the sample takes the oldest first).
CREATE TABLE reconcile_status (
  workspace_id     text PRIMARY KEY REFERENCES workspaces (id),
  failures         int NOT NULL DEFAULT 0,
  marked_at        timestamptz,
  last_outcome     text,
  last_error       text,
  last_workflow_id text,
  last_attempt_at  timestamptz,
  last_verified_at timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reconcile_status_marked_idx ON reconcile_status (marked_at) WHERE marked_at IS NOT NULL;
