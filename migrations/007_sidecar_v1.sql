-- Sidecar protocol v1 (specs/sidecar-v1/PROTOCOL.md): what the deployed agent really is and says.
--
-- agent_droplet_id: the `droplet_id` claim the agent checks byte for byte (its provisioned
-- DROPLET_ID: on this fleet the droplet's public IPv4, on hand-provisioned droplets sometimes the
-- numeric id). Learned from the host of the sidecar_url the agent registers with, unless an
-- operator or the dashboard set it (agent_droplet_id_source), which a handshake never overrides.
ALTER TABLE droplets
  ADD COLUMN agent_droplet_id        text,
  ADD COLUMN agent_droplet_id_source text
    CHECK (agent_droplet_id_source IN ('handshake', 'operator', 'client', 'migration')),
  ADD COLUMN agent_capabilities      text[],
  ADD COLUMN agent_registered_at     timestamptz;

-- Existing rows: the fleet's convention (the host of the registered sidecar_url) where there is one.
UPDATE droplets
   SET agent_droplet_id = substring(sidecar_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://\[?([^/:\]]+)'),
       agent_droplet_id_source = 'migration'
 WHERE sidecar_url IS NOT NULL
   AND substring(sidecar_url FROM '^[A-Za-z][A-Za-z0-9+.-]*://\[?([^/:\]]+)') IS NOT NULL;

-- A v1 handshake's `version` is "unknown" or the n8n status; it was stored as the sidecar's version.
-- Nothing stored as a version may be one of those words. (heartbeat_history is left as received:
-- rewriting every partition here would hold the migration for hours; retention ages it out.)
UPDATE droplets SET sidecar_version = NULL
 WHERE sidecar_version IN ('unknown', 'healthy', 'degraded', 'down');

-- Idempotent workflow deploys: the n8n workflow id a DEPLOY_WORKFLOW created, recorded the moment
-- the agent answers, keyed by the change workflow's id, so a retried attempt never creates a second
-- n8n workflow. `sent_at` without `n8n_workflow_id` means an attempt sent DEPLOY_WORKFLOW and died
-- before its answer was recorded: its outcome is unknown and is not repeated blindly.
CREATE TABLE workflow_deploys (
  workflow_id     text NOT NULL,            -- the Temporal workflow that deploys
  workspace_id    text NOT NULL REFERENCES workspaces (id),
  droplet_id      bigint NOT NULL,
  workflow_name   text NOT NULL,
  sent_at         timestamptz NOT NULL DEFAULT now(),
  n8n_workflow_id text,
  recorded_at     timestamptz,
  PRIMARY KEY (workflow_id, droplet_id)
);

-- Rollouts of the n8n container's tag; 'sidecar' stays readable for rollouts recorded before v1
-- (new ones are refused: protocol v1 agents cannot update themselves).
ALTER TABLE rollouts DROP CONSTRAINT rollouts_kind_check;
ALTER TABLE rollouts ADD CONSTRAINT rollouts_kind_check CHECK (kind IN ('n8n', 'workflow', 'sidecar'));
