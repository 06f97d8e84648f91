/**
 * Faults a simulated sidecar agent can be given (setFault / clearFault). Several can be active at
 * once, at most one of each kind.
 *
 *   crash                       no heartbeats; requests to its paths get the socket destroyed
 *                               (connection refused/reset). Cleared by clearFault, by any boot from
 *                               off (setPower on) and by powerCycle.
 *   hang                        requests are accepted and never answered; no heartbeats. Cleared
 *                               like crash.
 *   degraded                    n8n_status 'degraded'. Persists across boots; with
 *                               clearsOnRestart, a RESTART_N8N also clears it.
 *   bootFailure                 the next boots never complete: after power on / power cycle the
 *                               agent stays unreachable. Persists until cleared.
 *   brokenVersion {tag}         while that tag runs (after SWAP_CONTAINER to it), n8n is down:
 *                               health and heartbeats say n8n_status 'down', HEALTH_CHECK reports the
 *                               container unhealthy, workflow actions fail. Swapping back fixes it.
 *   recoverOnlyAfterPowerCycle  a crash that survives setPower(off/on) and only powerCycle() clears.
 *   serverError                 (extra) commands answer 500, as if the request broke on the agent.
 *   failAction {action, error}  (extra) that action answers 200 success:false with this error.
 */
export type SidecarFault =
  | { kind: 'crash' }
  | { kind: 'hang' }
  | { kind: 'degraded'; clearsOnRestart?: boolean }
  | { kind: 'bootFailure' }
  | { kind: 'brokenVersion'; tag: string }
  | { kind: 'recoverOnlyAfterPowerCycle' }
  | { kind: 'serverError' }
  | { kind: 'failAction'; action: string; error?: string };

export type SidecarFaultKind = SidecarFault['kind'];

/** Faults that a fresh boot (off -> on) clears. */
export const CLEARED_BY_BOOT: readonly SidecarFaultKind[] = ['crash', 'hang'];
/** Faults that a power cycle clears. */
export const CLEARED_BY_POWER_CYCLE: readonly SidecarFaultKind[] = [
  'crash',
  'hang',
  'recoverOnlyAfterPowerCycle',
];
