/**
 * The health gate every change to a droplet passes before it counts: HEALTH_CHECK passes AND a
 * heartbeat newer than the change arrives, both within a window. Used by the power workflows'
 * verification (after power_on / power_cycle) and the n8n container update (after each swap).
 *
 * One look probes what has not passed yet (each check, once passed, stays passed); a probe that
 * itself fails (its worker died: a StartToClose timeout) is no verdict on the droplet: it counts as
 * "not yet" and the window decides. Between looks the gate waits pollMs, or less when a heartbeat
 * signal or a stop arrives. The commands per look, in order: the health probe (until it passed),
 * the heartbeat probe (until it passed, and only when no signal reported one), one timer.
 */
import { condition } from '@temporalio/workflow';
import { failureMessage } from './failures';

export interface GateProbes {
  /** HEALTH_CHECK: `ok`, with n8n's status, or why not. */
  health(): Promise<{ ok: boolean; n8nStatus?: string; error?: string }>;
  /** true when a heartbeat newer than the change has been recorded. */
  heartbeat(): Promise<boolean>;
}

export interface GateOptions {
  windowMs: number;
  pollMs: number;
  /** A heartbeat newer than the change was reported by signal: no probe needed, and a wait ends. */
  signalled?: () => boolean;
  /** A reason to give up at once (an abort): checked before each look and ends a wait. */
  stop?: () => string | undefined;
  /**
   * Look once more when a wait ends at the window's close (the container update). Without it the
   * gate gives up as soon as the window closed (the power verification).
   */
  lastLook?: boolean;
  /** After each look that did not pass, with what it saw (the power workflows report it). */
  notYet?: (look: GateLook) => void;
}

export interface GateLook {
  healthy: boolean;
  /** the last HEALTH_CHECK's error, or how its probe failed; 'not probed yet' before the first */
  healthError: string;
  heartbeat: boolean;
}

/** Passed, or not: stopped (the reason stop() gave) or the window closed (what the last look saw). */
export type GateResult = { ok: true; n8nStatus?: string } | { ok: false; stopped?: string; look: GateLook };

export async function healthGate(probes: GateProbes, opts: GateOptions): Promise<GateResult> {
  const signalled = opts.signalled ?? (() => false);
  const stop = opts.stop ?? (() => undefined);
  const deadline = Date.now() + opts.windowMs;
  const look: GateLook = { healthy: false, healthError: 'not probed yet', heartbeat: signalled() };
  let n8nStatus: string | undefined;
  while (opts.lastLook || Date.now() < deadline) {
    const stopped = stop();
    if (stopped !== undefined) return { ok: false, stopped, look };
    if (!look.healthy) {
      try {
        const h = await probes.health();
        look.healthy = h.ok;
        n8nStatus = h.n8nStatus;
        look.healthError = h.error ?? `n8n_status ${h.n8nStatus ?? 'unknown'}`;
      } catch (err) {
        look.healthError = `health probe failed: ${failureMessage(err)}`;
      }
    }
    if (!look.heartbeat) {
      try {
        look.heartbeat = signalled() || (await probes.heartbeat());
      } catch {
        look.heartbeat = signalled();
      }
    }
    if (look.healthy && look.heartbeat) return { ok: true, n8nStatus };
    opts.notYet?.(look);
    const left = deadline - Date.now();
    if (left <= 0) break;
    await condition(
      () => stop() !== undefined || (!look.heartbeat && signalled()),
      Math.min(opts.pollMs, left),
    );
  }
  return { ok: false, look };
}
