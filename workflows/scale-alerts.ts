/**
 * Scale alerts, run by a Temporal Schedule every 15 min with overlap SKIP: every probe runs in
 * parallel (one activity each), then each applicable probe is held against its thresholds: its
 * alert `scale:<probe>` is raised (once per key; the store re-notifies a still-open critical one)
 * or resolved. A probe that fails after its retries is reported in `errors` and leaves its alert
 * as it was; the other probes still run.
 */
import { ApplicationFailure, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  resolveScaleInput,
  type ProbeResult,
  type ScaleAlertConfig,
  type ScaleAlertInput,
  type ScaleAlertsSummary,
  type ScaleProbeName,
} from '../src/domain/scale';
import { failureMessage } from './failures';
import { scaleProbePolicy } from './policies';

const acts =
  proxyActivities<
    Pick<
      Activities,
      | 'scaleProbeLeadsPartitions'
      | 'scaleProbeEmailEventsRows'
      | 'scaleProbeConnections'
      | 'scaleProbeDatabaseSize'
      | 'scaleProbeHeartbeatBacklog'
      | 'scaleProbeTemporalBacklog'
      | 'scaleProbeTemporalFailures'
      | 'scaleProbeFleetStale'
      | 'scaleProbeRedisMemory'
      | 'evaluateScaleProbe'
    >
  >(scaleProbePolicy);

const PROBES: [ScaleProbeName, (cfg: ScaleAlertConfig) => Promise<ProbeResult>][] = [
  ['leads_partitions', (c) => acts.scaleProbeLeadsPartitions(c)],
  ['email_events_rows', (c) => acts.scaleProbeEmailEventsRows(c)],
  ['db_connections', () => acts.scaleProbeConnections()],
  ['db_size', () => acts.scaleProbeDatabaseSize()],
  ['heartbeat_backlog', () => acts.scaleProbeHeartbeatBacklog()],
  ['temporal_task_queue_backlog', (c) => acts.scaleProbeTemporalBacklog(c)],
  ['temporal_failed_ratio', (c) => acts.scaleProbeTemporalFailures(c)],
  ['fleet_stale_fraction', (c) => acts.scaleProbeFleetStale(c)],
  ['redis_memory', () => acts.scaleProbeRedisMemory()],
];

export async function scaleAlerts(input: ScaleAlertInput = {}): Promise<ScaleAlertsSummary> {
  let cfg: ScaleAlertConfig;
  try {
    cfg = resolveScaleInput(input);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidInput');
  }
  const { workflowId } = workflowInfo();

  const settled = await Promise.allSettled(PROBES.map(([, run]) => run(cfg)));
  const summary: ScaleAlertsSummary = { probes: [], errors: [], opened: 0, resolved: 0 };
  const results: ProbeResult[] = [];
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') results.push(s.value);
    else {
      const name = PROBES[i]![0];
      const error = failureMessage(s.reason);
      log.warn('scale probe failed', { probe: name, error });
      summary.errors.push({ name, error });
    }
  });

  const evaluations = await Promise.all(
    results.map((probe) => acts.evaluateScaleProbe({ probe, cfg, workflowId })),
  );
  results.forEach((probe, i) => {
    const e = evaluations[i]!;
    summary.probes.push({ ...probe, severity: e.severity });
    if (e.opened) summary.opened++;
    if (e.resolved) summary.resolved++;
  });
  return summary;
}
