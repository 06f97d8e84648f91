/** The watchdog's inputs, defaults and storm-brake rule. Pure. */
import { DEFAULT_HEARTBEAT_TIMEOUT_S } from './liveness';
import { timingsForHeartbeatTimeout, type PowerTimings, type WakeDropletInput } from './power';

export interface WatchdogInput {
  /** A heartbeat older than this is stale. Production default 300 s. */
  heartbeatTimeoutS?: number;
  /** Brake when more than this fraction of the eligible fleet is stale at once... */
  stormFraction?: number;
  /** ...or more than this many droplets (whichever trips first). */
  stormMaxStale?: number;
  /** ...but never for fewer stale droplets than this (one dead droplet in a fleet of five is not a storm). */
  stormMinStale?: number;
  /** Wakes started per tick; the rest wait for the next tick. Sized to the DigitalOcean budget. */
  maxStartsPerTick?: number;
  thresholds?: { cpu?: number; memory?: number; disk?: number };
  /** Heartbeat stream entries above which the pipeline alerts (the drain is behind or down). */
  heartbeatBacklogAlert?: number;
  /**
   * A droplet in a transitional state (HIBERNATING, WAKING, REBOOTING, UPDATING) for longer than
   * this, with no workflow running on it, is re-driven. Production default 900 s.
   */
  transitionalDeadlineS?: number;
  /** Passed to each remediation wake (and its escalation). */
  wake?: { timings?: Partial<PowerTimings>; reboot?: { maxAttempts?: number; backoffInitialMs?: number } };
}

export const WATCHDOG_DEFAULTS = {
  heartbeatTimeoutS: DEFAULT_HEARTBEAT_TIMEOUT_S,
  stormFraction: 0.1,
  stormMaxStale: 1_500,
  stormMinStale: 5,
  // A wake costs ~2 calls plus action polls (~6-10 calls): 20 per minute stays well inside 250/min.
  maxStartsPerTick: 20,
  transitionalDeadlineS: 900,
  thresholds: { cpu: 90, memory: 85, disk: 90 },
  heartbeatBacklogAlert: 1_000,
};

/**
 * What each remediation wake gets: the watchdog's own heartbeat timeout (so a droplet it found
 * stale is never "already healthy" to the wake, and verification waits as long), then any
 * explicit wake settings of the input.
 */
export function remediationWakeInput(
  heartbeatTimeoutS: number,
  wake: WatchdogInput['wake'] = {},
): Pick<WakeDropletInput, 'timings' | 'reboot'> {
  return { ...wake, timings: { ...timingsForHeartbeatTimeout(heartbeatTimeoutS), ...wake.timings } };
}

export interface WatchdogSummary {
  eligible: number;
  stale: number;
  breached: number;
  remediationsStarted: number;
  remediationsJoined: number;
  /** droplets stuck in a transitional state past the deadline that this run re-drove */
  stuckRedriven: number;
  braked: boolean;
  queryMs: number;
  heartbeatBacklog: number;
}

export function stormBrake(
  staleCount: number,
  eligible: number,
  opts: { stormFraction: number; stormMaxStale: number; stormMinStale: number },
): boolean {
  if (staleCount < opts.stormMinStale || eligible === 0) return false;
  return staleCount / eligible > opts.stormFraction || staleCount > opts.stormMaxStale;
}

export const STORM_ALERT_KEY = 'watchdog:storm';
export const HEARTBEAT_BACKLOG_ALERT_KEY = 'heartbeats:backlog';
