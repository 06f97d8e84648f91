/**
 * The simulator's state: droplets, actions and how a power action moves a droplet's status over
 * time. Actions start `in-progress` and complete after the configured delay:
 *   power_on               off -> active
 *   power_off, shutdown    active -> off
 *   power_cycle            active|off -> (off) -> active
 *   reboot                 active -> (off) -> active
 * An action on a droplet in the wrong state, or while another action is pending, is refused with
 * 422 `unprocessable_entity` as DigitalOcean does. Faults can make an action end `errored` (status
 * unchanged) or leave a droplet `off` when it should have booted. Every status change is reported
 * to the power-change listeners, so the rest of the fleet simulator can follow.
 */
import type { FaultBook } from './faults';
import { isoSeconds, type SimAction, type SimDroplet, type SimDropletStatus } from './render';

export const SIMULATED_ACTION_TYPES = ['power_on', 'power_off', 'shutdown', 'power_cycle', 'reboot'] as const;
export type SimulatedActionType = (typeof SIMULATED_ACTION_TYPES)[number];

/** `cause` is the action type that changed the status (absent for a direct setDropletStatus). */
export type PowerChangeListener = (dropletId: number, status: 'active' | 'off', cause?: string) => void;

export interface NewDroplet {
  id: number;
  name?: string;
  status?: SimDropletStatus;
  tags?: string[];
  region?: string;
}

export class ActionRefused extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

const REFUSALS: Record<
  SimulatedActionType,
  { allowed: SimDropletStatus[]; message: (s: SimDropletStatus) => string }
> = {
  power_on: {
    allowed: ['off'],
    message: (s) =>
      s === 'active' ? 'Droplet is already powered on.' : `Droplet cannot be powered on while ${s}.`,
  },
  power_off: {
    allowed: ['active'],
    message: (s) =>
      s === 'off' ? 'Droplet is already powered off.' : `Droplet cannot be powered off while ${s}.`,
  },
  shutdown: {
    allowed: ['active'],
    message: (s) =>
      s === 'off' ? 'Droplet is already powered off.' : `Droplet cannot be shut down while ${s}.`,
  },
  power_cycle: { allowed: ['active', 'off'], message: (s) => `Droplet cannot be power cycled while ${s}.` },
  reboot: {
    allowed: ['active'],
    message: (s) =>
      s === 'off' ? 'Droplet is powered off; use power_on.' : `Droplet cannot be rebooted while ${s}.`,
  },
};

export class DropletFleet {
  readonly droplets = new Map<number, SimDroplet>();
  readonly actions = new Map<number, SimAction>();
  private readonly tagIndex = new Map<string, Set<number>>();
  private readonly sortedCache = new Map<string, number[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly listeners = new Set<PowerChangeListener>();
  private nextActionId = 2_000_000_001;
  actionsCreated = 0;
  readonly actionsByType: Record<string, number> = {};

  constructor(
    private readonly faults: FaultBook,
    private readonly actionDelayMs: (type: SimulatedActionType, dropletId: number) => number,
    private readonly clock: () => number,
  ) {}

  onPowerChange(listener: PowerChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  add(d: NewDroplet): SimDroplet {
    if (!Number.isSafeInteger(d.id) || d.id < 1)
      throw new RangeError(`droplet id must be a positive integer, got ${d.id}`);
    if (this.droplets.has(d.id)) throw new Error(`droplet ${d.id} already exists`);
    const droplet: SimDroplet = {
      id: d.id,
      name: d.name ?? `genesis-${d.id}`,
      status: d.status ?? 'active',
      tags: [...(d.tags ?? [])],
      region: d.region ?? 'nyc3',
      createdAt: isoSeconds(this.clock()),
    };
    this.droplets.set(d.id, droplet);
    for (const tag of droplet.tags) {
      let set = this.tagIndex.get(tag);
      if (!set) this.tagIndex.set(tag, (set = new Set()));
      set.add(d.id);
    }
    this.sortedCache.clear();
    return droplet;
  }

  /** Ids in ascending order, all or those with the tag. */
  ids(tag?: string): number[] {
    const key = tag ?? '\u0000all';
    let ids = this.sortedCache.get(key);
    if (!ids) {
      ids = [...(tag === undefined ? this.droplets.keys() : (this.tagIndex.get(tag) ?? []))].sort(
        (a, b) => a - b,
      );
      this.sortedCache.set(key, ids);
    }
    return ids;
  }

  setStatus(droplet: SimDroplet, status: SimDropletStatus, cause?: string): void {
    // A power cycle ends 'active' -> 'active' when the droplet was off: still a fresh boot, so tell.
    if (droplet.status === status && cause !== 'power_cycle' && cause !== 'reboot') return;
    droplet.status = status;
    if (status !== 'active' && status !== 'off') return;
    for (const l of this.listeners) {
      try {
        l(droplet.id, status, cause);
      } catch {
        /* a listener's failure is its own business */
      }
    }
  }

  actionCount(dropletId: number, type: string): number {
    return this.droplets.get(dropletId)?.actionCounts?.[type] ?? 0;
  }

  pendingActions(): number {
    let n = 0;
    for (const d of this.droplets.values()) if (d.pendingActionId !== undefined) n++;
    return n;
  }

  /** Starts an action or throws ActionRefused (422). */
  start(droplet: SimDroplet, type: string): SimAction {
    if (!(SIMULATED_ACTION_TYPES as readonly string[]).includes(type)) {
      throw new ActionRefused(
        422,
        'unprocessable_entity',
        `The simulator does not support action type "${type}".`,
      );
    }
    const t = type as SimulatedActionType;
    if (droplet.pendingActionId !== undefined) {
      throw new ActionRefused(422, 'unprocessable_entity', 'Droplet already has a pending event.');
    }
    const rule = REFUSALS[t];
    if (!rule.allowed.includes(droplet.status)) {
      throw new ActionRefused(422, 'unprocessable_entity', rule.message(droplet.status));
    }
    const action: SimAction = {
      id: this.nextActionId++,
      dropletId: droplet.id,
      type: t,
      status: 'in-progress',
      startedAt: isoSeconds(this.clock()),
      completedAt: null,
      region: droplet.region,
    };
    this.actions.set(action.id, action);
    (droplet.actionIds ??= []).push(action.id);
    droplet.actionCounts ??= {};
    droplet.actionCounts[t] = (droplet.actionCounts[t] ?? 0) + 1;
    droplet.pendingActionId = action.id;
    this.actionsCreated += 1;
    this.actionsByType[t] = (this.actionsByType[t] ?? 0) + 1;

    const errored = this.faults.take('actionErrored', droplet.id) !== undefined;
    const delay = Math.max(0, this.actionDelayMs(t, droplet.id));
    const bootsAtEnd = t === 'power_on' || t === 'power_cycle' || t === 'reboot';
    if (!errored && (t === 'power_cycle' || t === 'reboot') && droplet.status === 'active') {
      this.later(Math.floor(delay / 2), () => this.setStatus(droplet, 'off', t));
    }
    this.later(delay, () => {
      droplet.pendingActionId = undefined;
      action.completedAt = isoSeconds(this.clock());
      if (errored) {
        action.status = 'errored';
        return;
      }
      if (bootsAtEnd)
        this.setStatus(droplet, this.faults.has('neverBoots', droplet.id) ? 'off' : 'active', t);
      else this.setStatus(droplet, 'off', t);
      action.status = 'completed';
    });
    return action;
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
