-- Scheduled power (issue 16): one schedule per workspace, set by the dashboard through the client.
-- windows: [{days: ["mon",...], start: "HH:MM", end: "HH:MM"}] in time_zone's wall clock.
CREATE TABLE power_schedules (
  workspace_id      text PRIMARY KEY REFERENCES workspaces (id),
  time_zone         text NOT NULL,
  windows           jsonb NOT NULL,
  wake_lead_minutes int NOT NULL CHECK (wake_lead_minutes BETWEEN 0 AND 720),
  -- NULL: never hibernate
  idle_minutes      int CHECK (idle_minutes BETWEEN 5 AND 10080),
  updated_by        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

