-- The fleet probe (HEALTH_CHECK + COLLECT_METRICS of every ACTIVE droplet's agent each period):
-- the latest result on the droplet, every result in a history partitioned by UTC day (bounded like
-- heartbeat_history: partitions created ahead, dropped whole after the retention), one row per run.

ALTER TABLE droplets
  ADD COLUMN probed_at              timestamptz,
  -- 'healthy' | 'degraded' | 'unreachable' (the agent did not answer or refused the command)
  ADD COLUMN probe_verdict          text,
  -- what was measured: n8n_down, n8n_degraded, container_not_running, executions_failing
  ADD COLUMN probe_problems         text[],
  ADD COLUMN probe_container_status text,
  ADD COLUMN probe_error            text,
  ADD COLUMN executions_total       int,
  ADD COLUMN executions_failed      int;

CREATE TABLE probe_history (
  droplet_id        bigint NOT NULL,
  workspace_id      text NOT NULL,
  probed_at         timestamptz NOT NULL,
  verdict           text NOT NULL,
  problems          text[],
  n8n_status        text,
  container_status  text,
  cpu_percent       real,
  memory_percent    real,
  executions_total  int,
  executions_failed int,
  latency_ms        real,
  error             text,
  PRIMARY KEY (droplet_id, probed_at)
) PARTITION BY RANGE (probed_at);
CREATE TABLE probe_history_default PARTITION OF probe_history DEFAULT;

CREATE TABLE fleet_probe_runs (
  id            bigserial PRIMARY KEY,
  workflow_id   text,
  started_at    timestamptz NOT NULL,
  at            timestamptz NOT NULL DEFAULT now(),
  period_s      real NOT NULL,
  probed        int NOT NULL,
  answered      int NOT NULL,
  healthy       int NOT NULL,
  degraded      int NOT NULL,
  unreachable   int NOT NULL,
  skipped_busy  int NOT NULL,
  braked        boolean NOT NULL,
  p99_latency_ms real
);
