-- Changes pushed to tenants: the n8n credential ids credential injections created (never the
-- credential itself), and the lookup a re-run of an injection uses to skip what already succeeded.

CREATE TABLE n8n_credentials (
  workspace_id      text NOT NULL REFERENCES workspaces (id),
  credential_type   text NOT NULL,
  credential_name   text NOT NULL,
  droplet_id        bigint NOT NULL,
  n8n_credential_id text NOT NULL,
  workflow_id       text NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, credential_type, credential_name)
);

CREATE INDEX credential_audit_workflow_idx ON credential_audit (workflow_id, outcome);
