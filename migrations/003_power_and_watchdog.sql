-- Power actions issued by workflows, keyed by (workflow run, attempt), so a retried activity never
-- issues a second DigitalOcean action for the same attempt, even after a worker died mid-call.
CREATE TABLE power_actions (
  key         text PRIMARY KEY,
  droplet_id  bigint NOT NULL,
  type        text NOT NULL,
  action_id   bigint,
  started_at  timestamptz NOT NULL DEFAULT now(),
  recorded_at timestamptz
);
CREATE INDEX power_actions_droplet_idx ON power_actions (droplet_id, started_at DESC);

-- One row per watchdog run: what it saw and what it did.
CREATE TABLE watchdog_runs (
  id                     bigserial PRIMARY KEY,
  workflow_id            text,
  at                     timestamptz NOT NULL DEFAULT now(),
  eligible               int NOT NULL,
  stale                  int NOT NULL,
  breached               int NOT NULL,
  remediations_started   int NOT NULL,
  remediations_joined    int NOT NULL,
  braked                 boolean NOT NULL,
  query_ms               real NOT NULL
);
