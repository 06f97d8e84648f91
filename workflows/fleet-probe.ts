/**
 * The fleet probe, run by a Temporal Schedule every period (default 5 min) with overlap SKIP:
 *   1. the period is cut into `slices` (droplet id modulo slices); slice i starts at i/slices of
 *      the period, and its activity starts its droplets' probes evenly across its share, at most
 *      `concurrency` in flight: the fleet is probed at a steady rate (15,000 / 300 s = 50/s);
 *   2. each slice probes its ACTIVE droplets (HEALTH_CHECK + COLLECT_METRICS), writes the results,
 *      moves ACTIVE_HEALTHY <-> ACTIVE_DEGRADED on what it measured, and raises or resolves the
 *      per-droplet alerts, unless the storm brake (the run's bad share so far) holds them back
 *      for one fleet alert;
 *   3. the run's end records it, releases the brake when the whole period was calm, maintains the
 *      history's partitions and the metrics.
 * History: one timer and one activity per slice (slices are capped at 360), so a run stays far
 * inside Temporal's limits without continue-as-new; the next period is the Schedule's next run.
 */
import { proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  addSlice,
  emptySliceResult,
  PROBE_WINDOW_SHARE,
  resolveFleetProbeInput,
  sliceStartMs,
  type FleetProbeInput,
  type FleetProbeSummary,
} from '../src/domain/fleet-probe';
import { fleetProbeSlicePolicy, watchdogPolicy } from './policies';

const { finishFleetProbeRun } = proxyActivities<Pick<Activities, 'finishFleetProbeRun'>>(watchdogPolicy);

export async function fleetProbe(input: FleetProbeInput = {}): Promise<FleetProbeSummary> {
  const config = resolveFleetProbeInput(input);
  // The slices cover 90 % of the period, so a run ends before the Schedule's next start (which
  // overlap SKIP would drop) even when the last slice runs a little late.
  const windowMs = config.periodS * 1000 * PROBE_WINDOW_SHARE;
  const sliceMs = Math.floor(windowMs / config.slices);
  const { probeFleetSlice } = proxyActivities<Pick<Activities, 'probeFleetSlice'>>(
    fleetProbeSlicePolicy(sliceMs, config.commandTimeoutMs),
  );
  const { workflowId } = workflowInfo();
  const startedAtMs = Date.now();
  let totals = emptySliceResult();
  for (let slice = 0; slice < config.slices; slice++) {
    // A slice that ran late (a slow fleet) starts the next one at once: never two at a time.
    const wait = startedAtMs + sliceStartMs(slice, config.slices, windowMs) - Date.now();
    if (wait > 0) await sleep(wait);
    const r = await probeFleetSlice({
      slice,
      slices: config.slices,
      sliceMs,
      config,
      prior: { answered: totals.answered, bad: totals.bad },
      workflowId,
    });
    totals = addSlice(totals, r);
  }
  const { p99LatencyMs } = await finishFleetProbeRun({ workflowId, startedAtMs, config, totals });
  return { ...totals, slices: config.slices, periodS: config.periodS, p99LatencyMs };
}
