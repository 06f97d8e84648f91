-- Fleet rollouts: the tenants a rollout resolved from its selector, the wave each belongs to and
-- what happened to it, plus the counters the dashboard shows per rollout and per wave. The
-- workflow keeps only the current wave in its history; this is the full record.

ALTER TABLE rollouts
  ADD COLUMN total_tenants int NOT NULL DEFAULT 0,
  ADD COLUMN succeeded     int NOT NULL DEFAULT 0,
  ADD COLUMN failed        int NOT NULL DEFAULT 0,
  ADD COLUMN rolled_back   int NOT NULL DEFAULT 0,
  ADD COLUMN skipped       int NOT NULL DEFAULT 0,
  ADD COLUMN current_wave  int,
  ADD COLUMN halt_reason   text,
  ADD CONSTRAINT rollouts_status_check
    CHECK (status IN ('running', 'paused', 'halted', 'aborted', 'completed'));

CREATE INDEX rollouts_status_idx ON rollouts (status, created_at DESC);

ALTER TABLE rollout_waves
  ADD COLUMN canary   boolean NOT NULL DEFAULT false,
  ADD COLUMN skipped  int NOT NULL DEFAULT 0,
  -- [{workspaceId, dropletId, reason}] of this wave's failed tenants (reasons, never payloads)
  ADD COLUMN failures jsonb NOT NULL DEFAULT '[]',
  ADD CONSTRAINT rollout_waves_status_check
    CHECK (status IN ('running', 'succeeded', 'halted', 'aborted'));

-- wave -1 holds the tenants the plan skipped (already on the version, or not in a state to update)

CREATE TABLE rollout_targets (
  rollout_id   text NOT NULL REFERENCES rollouts (id),
  workspace_id text NOT NULL REFERENCES workspaces (id),
  droplet_id   bigint NOT NULL,
  wave         int NOT NULL,
  -- the version the tenant ran when the rollout was planned (what a rollback returns it to)
  from_version text,
  status       text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'succeeded', 'failed', 'rolled_back', 'skipped')),
  reason       text,
  workflow_id  text,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rollout_id, droplet_id)
);
CREATE INDEX rollout_targets_wave_idx ON rollout_targets (rollout_id, wave, status);
