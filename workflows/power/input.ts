/** The power workflows' prologue and timing defaults. */
import { setHandler } from '@temporalio/workflow';
import {
  invalidPowerInput,
  resolvePowerTimings,
  type PowerPhase,
  type PowerStatus,
  type PowerTimings,
} from '../../src/domain/power';
import { beginDropletOperation, type DropletOperationInput } from '../droplet-prologue';
import { heartbeatObservedSignal, powerStatusQuery, type HeartbeatObserved } from '../../contracts/power';
import type { HeartbeatWatch } from './verify';

/**
 * Steps 1 and 2 of the droplet-operation prologue (../droplet-prologue.ts) for a power workflow:
 * the input checked against `reasons`, the `status` query, and with `heartbeats` the
 * `heartbeatObserved` signal, which records the newest heartbeat in the returned watch (then
 * `heartbeats` runs, when it is a function).
 */
export function beginPowerOperation(
  input: DropletOperationInput,
  operation: PowerStatus['operation'],
  o: {
    reasons?: readonly string[];
    phase: PowerPhase;
    attempt: number;
    heartbeats?: true | ((hb: HeartbeatObserved) => Promise<void>);
  },
): { status: PowerStatus; watch: HeartbeatWatch } {
  const watch: HeartbeatWatch = { latestMs: 0 };
  const status = beginDropletOperation(input, {
    problemOf: (i: object) => invalidPowerInput(i, o.reasons),
    statusQuery: powerStatusQuery,
    status: (i): PowerStatus => ({ operation, dropletId: i.dropletId, phase: o.phase, attempt: o.attempt }),
    handlers: () => {
      const then = o.heartbeats;
      if (!then) return;
      setHandler(heartbeatObservedSignal, async (hb) => {
        watch.latestMs = Math.max(watch.latestMs, Date.parse(hb.observedAt));
        if (then !== true) await then(hb);
      });
    },
  });
  return { status, watch };
}

export function timingsWith(overrides?: Partial<PowerTimings>): PowerTimings {
  return resolvePowerTimings(overrides);
}
