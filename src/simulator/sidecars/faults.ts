/**
 * Faults a simulated sidecar agent can be given (setFault / clearFault). Several can be active at
 * once, at most one of each kind (failAction: one per action).
 *
 * The agent process:
 *   crash                       no keep-alives; requests to its paths get the socket destroyed
 *                               (connection refused/reset). Cleared by clearFault, by any boot from
 *                               off (setPower on) and by powerCycle.
 *   hang                        requests are accepted and never answered; no keep-alives. Cleared
 *                               like crash.
 *   bootFailure                 the next boots never complete: after power on / power cycle the
 *                               agent stays unreachable. Persists until cleared.
 *   recoverOnlyAfterPowerCycle  a crash that survives setPower(off/on) and only powerCycle() clears.
 *   serverError                 (extra) commands answer 500, as if the request broke on the agent.
 *   failAction {action, error}  (extra) that action's handler throws: 200 success:false with this
 *                               error (default "<ACTION> failed (simulated)").
 *
 * n8n and docker on the droplet:
 *   degraded                    n8n has more than 50 running executions (HEALTH_CHECK and keep-alive
 *                               version say 'degraded'). Persists across boots; with
 *                               clearsOnRestart, a RESTART_N8N also clears it (the restart ends the
 *                               running executions).
 *   runningExecutions {count}   n8n reports this many running executions (> 50 reads as degraded,
 *                               as the agent computes it). Cleared by RESTART_N8N and by a boot.
 *   failingExecutions {share}   this share (0..1) of the executions n8n runs from now on fails
 *                               (COLLECT_METRICS executions_failed). Clearing it stops new failures;
 *                               the failed ones stay in the last-1,000 window until pushed out.
 *   n8nStopped                  the n8n container is not running (nothing listens on N8N_URL, the
 *                               recorded "n8n_down" condition): n8n_status 'down', n8n actions fail
 *                               with "connect ECONNREFUSED <host:port>", container_status 'exited'.
 *                               Cleared by RESTART_N8N (docker restart starts it) and by a boot.
 *   dockerUnavailable           every docker command fails: HEALTH_CHECK has container_status
 *                               'unknown' and no container fields, RESTART_N8N / PULL_IMAGE /
 *                               SWAP_CONTAINER answer result {success:false}, GET_LOGS {logs: []}.
 *                               n8n itself keeps serving (the recorded condition).
 *   brokenTag {tag}             a container of n8nio/n8n:<tag> never passes its docker health wait:
 *                               SWAP_CONTAINER to it waits swapHealthWaitMs, removes the new
 *                               container, keeps the old one serving and answers {success:false}.
 *   unhealthyTag {tag, status?} a container of that tag passes docker health (the swap succeeds),
 *                               but n8n then is `status` ('down' by default, or 'degraded') in
 *                               HEALTH_CHECK and keep-alives, and (down) its API answers 503, until
 *                               another tag is swapped in.
 *   flakyTag {tag, share}       like brokenTag for a deterministic share of the fleet: an agent
 *                               fails the health wait for that tag when a hash of its droplet id
 *                               and the tag falls below `share` (0.2 -> about 20 % of agents, the
 *                               same ones every time).
 *   brokenVersion {tag}         deprecated alias of unhealthyTag {tag} (the pre-v1 name).
 */
export type SidecarFault =
  | { kind: 'crash' }
  | { kind: 'hang' }
  | { kind: 'degraded'; clearsOnRestart?: boolean }
  | { kind: 'bootFailure' }
  | { kind: 'recoverOnlyAfterPowerCycle' }
  | { kind: 'serverError' }
  | { kind: 'failAction'; action: string; error?: string }
  | { kind: 'runningExecutions'; count: number }
  | { kind: 'failingExecutions'; share: number }
  | { kind: 'n8nStopped' }
  | { kind: 'dockerUnavailable' }
  | { kind: 'brokenTag'; tag: string }
  | { kind: 'unhealthyTag'; tag: string; status?: 'down' | 'degraded' }
  | { kind: 'flakyTag'; tag: string; share: number }
  | { kind: 'brokenVersion'; tag: string };

export type SidecarFaultKind = SidecarFault['kind'];

/** Faults that a fresh boot (off -> on) clears. */
export const CLEARED_BY_BOOT: readonly SidecarFaultKind[] = [
  'crash',
  'hang',
  'runningExecutions',
  'n8nStopped',
];
/** Faults that a power cycle clears. */
export const CLEARED_BY_POWER_CYCLE: readonly SidecarFaultKind[] = [
  'crash',
  'hang',
  'recoverOnlyAfterPowerCycle',
  'runningExecutions',
  'n8nStopped',
];

/** The key a fault is stored under: one per kind, failAction one per action, tag faults one per tag. */
export function faultKey(f: SidecarFault): string {
  switch (f.kind) {
    case 'failAction':
      return `failAction:${f.action}`;
    case 'brokenTag':
    case 'unhealthyTag':
    case 'flakyTag':
    case 'brokenVersion':
      return `${f.kind}:${f.tag}`;
    default:
      return f.kind;
  }
}

/** FNV-1a over "<dropletId>:<tag>", finalised (murmur3 fmix32); in [0, 1). */
export function flakyDraw(dropletId: number, tag: string): number {
  let h = 0x811c9dc5;
  const s = `${dropletId}:${tag}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
