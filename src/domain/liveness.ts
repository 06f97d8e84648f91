/**
 * When a droplet counts as alive: one timeout for every reader. The watchdog's stale scan, a
 * wake's "already healthy" shortcut, the default verification window of power operations,
 * `fleet status`, `droplets list`, the scale probe and the fleet metrics all use
 * WATCHDOG_HEARTBEAT_TIMEOUT_S (this default in production), so shortening it (make dev: 60 s)
 * shortens all of them together. Pure; shared with workflows.
 */

/** A keep-alive older than this is stale. The deployed agent sends one every 60 s. */
export const DEFAULT_HEARTBEAT_TIMEOUT_S = 300;

/** States whose droplets are expected to send keep-alives (the rest are off or not yet there). */
export const HEARTBEAT_EXEMPT_STATES = ['HIBERNATING', 'HIBERNATED', 'PROVISIONING', 'TERMINATED'] as const;

/** States the watchdog remediates when stale: it leaves droplets under an operation alone. */
export const WATCHED_STATES = ['ACTIVE_HEALTHY', 'ACTIVE_DEGRADED'] as const;

/** Whether a keep-alive at `lastHeartbeatAt` is still fresh at `nowMs`. */
export function isFresh(
  lastHeartbeatAt: string | Date | null | undefined,
  nowMs: number,
  timeoutMs: number,
): boolean {
  if (!lastHeartbeatAt) return false;
  const at = typeof lastHeartbeatAt === 'string' ? Date.parse(lastHeartbeatAt) : lastHeartbeatAt.getTime();
  return nowMs - at < timeoutMs;
}
