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
 *
 * Accounts: every droplet, tag and action belongs to one account (`default` unless seeded
 * otherwise); the HTTP layer only ever asks for the account of the request's token, so another
 * account's droplets, tags and actions are simply not there (404). Droplet and action ids are
 * global, as DigitalOcean's are.
 *
 * Tags: per account, case stable as DigitalOcean documents (the first spelling is canonical; a
 * create that differs only in case answers the existing tag; URLs must use the canonical name).
 * Seeding a droplet with tags creates them. Deleting a tag untags its droplets.
 *
 * Bulk actions by tag (`startBulk`): one action per droplet with the tag (ascending id), each under
 * the same rules, timings and faults as a single action (`start`). DigitalOcean documents no
 * per-droplet refusal for the by-tag endpoint (its only answers are 201, 401, 429, 500), so a
 * droplet a single action would refuse (already in the goal state, e.g. power_on on an active
 * droplet, another action pending, wrong state) still gets an action, created `errored` and ended
 * at once, with no status change: conservative, so the control plane never reads it as a power
 * change. Such an action counts as an action of its type (`actionCount`, stats), since DigitalOcean
 * would list it.
 */
import type { FaultBook } from './faults';
import { isoSeconds, type SimAction, type SimDroplet, type SimDropletStatus, type SimTag } from './render';

export const DEFAULT_SIM_ACCOUNT = 'default';

/** The types the by-tag endpoint accepts that the simulator carries out (the spec's power subset). */
export const SIMULATED_BULK_ACTION_TYPES = ['power_on', 'power_off', 'shutdown', 'power_cycle'] as const;

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
  /** The account the droplet lives in. Default `default`. */
  account?: string;
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
  /** account -> lower-cased tag name -> tag */
  private readonly tagsByAccount = new Map<string, Map<string, SimTag>>();
  /** account -> its droplet ids */
  private readonly accountDroplets = new Map<string, Set<number>>();
  /** account -> its action ids, oldest first */
  private readonly accountActions = new Map<string, number[]>();
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
    const account = d.account ?? DEFAULT_SIM_ACCOUNT;
    const droplet: SimDroplet = {
      id: d.id,
      name: d.name ?? `genesis-${d.id}`,
      status: d.status ?? 'active',
      tags: [],
      region: d.region ?? 'nyc3',
      createdAt: isoSeconds(this.clock()),
      account,
    };
    this.droplets.set(d.id, droplet);
    let mine = this.accountDroplets.get(account);
    if (!mine) this.accountDroplets.set(account, (mine = new Set()));
    mine.add(d.id);
    for (const name of d.tags ?? []) this.tag(this.createTag(account, name), droplet);
    this.sortedCache.clear();
    return droplet;
  }

  /** The droplet if it exists in `account`. */
  dropletOf(account: string, id: number): SimDroplet | undefined {
    const d = this.droplets.get(id);
    return d && d.account === account ? d : undefined;
  }

  /** The action if it exists in `account`. */
  actionOf(account: string, id: number): SimAction | undefined {
    const a = this.actions.get(id);
    return a && this.droplets.get(a.dropletId)?.account === account ? a : undefined;
  }

  /** Ids in ascending order of the account's droplets, all or those with the tag (canonical name). */
  ids(account: string, tag?: string): number[] {
    const key = `${account}\u0000${tag ?? '\u0000all'}`;
    let ids = this.sortedCache.get(key);
    if (!ids) {
      const source =
        tag === undefined
          ? (this.accountDroplets.get(account) ?? [])
          : (this.getTag(account, tag)?.dropletIds ?? []);
      ids = [...source].sort((a, b) => a - b);
      this.sortedCache.set(key, ids);
    }
    return ids;
  }

  /** The account's action ids, oldest first (do not modify). */
  actionIds(account: string): readonly number[] {
    return this.accountActions.get(account) ?? [];
  }

  /** The tag by its canonical name (DigitalOcean's URLs must use the canonical capitalization). */
  getTag(account: string, name: string): SimTag | undefined {
    const t = this.tagsByAccount.get(account)?.get(name.toLowerCase());
    return t && t.name === name ? t : undefined;
  }

  /** Creates the tag, or answers the existing one (case stable: the first spelling stays canonical). */
  createTag(account: string, name: string): SimTag {
    let tags = this.tagsByAccount.get(account);
    if (!tags) this.tagsByAccount.set(account, (tags = new Map()));
    let t = tags.get(name.toLowerCase());
    if (!t) tags.set(name.toLowerCase(), (t = { name, dropletIds: new Set() }));
    return t;
  }

  /** Deletes the tag and untags every droplet that had it. */
  deleteTag(account: string, tag: SimTag): void {
    for (const id of tag.dropletIds) {
      const d = this.droplets.get(id);
      if (d) d.tags = d.tags.filter((n) => n !== tag.name);
    }
    this.tagsByAccount.get(account)?.delete(tag.name.toLowerCase());
    this.sortedCache.clear();
  }

  tag(tag: SimTag, droplet: SimDroplet): void {
    if (!tag.dropletIds.has(droplet.id)) {
      tag.dropletIds.add(droplet.id);
      droplet.tags.push(tag.name);
      this.sortedCache.clear();
    }
    tag.lastTaggedDropletId = droplet.id;
  }

  untag(tag: SimTag, droplet: SimDroplet): void {
    if (!tag.dropletIds.delete(droplet.id)) return;
    droplet.tags = droplet.tags.filter((n) => n !== tag.name);
    if (tag.lastTaggedDropletId === droplet.id) tag.lastTaggedDropletId = undefined;
    this.sortedCache.clear();
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

  /**
   * One action of `type` on every droplet of the account with the tag (see the file comment);
   * throws ActionRefused (422) only for a type the by-tag endpoint does not carry out.
   */
  startBulk(account: string, tag: string, type: string): SimAction[] {
    if (!(SIMULATED_BULK_ACTION_TYPES as readonly string[]).includes(type)) {
      throw new ActionRefused(
        422,
        'unprocessable_entity',
        `The simulator does not support bulk action type "${type}".`,
      );
    }
    const out: SimAction[] = [];
    for (const id of this.ids(account, tag)) {
      const droplet = this.droplets.get(id) as SimDroplet;
      try {
        out.push(this.start(droplet, type));
      } catch (err) {
        if (!(err instanceof ActionRefused)) throw err;
        const action = this.record(droplet, type as SimulatedActionType);
        action.status = 'errored';
        action.completedAt = action.startedAt;
        out.push(action);
      }
    }
    return out;
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
    const action = this.record(droplet, t);
    droplet.pendingActionId = action.id;

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

  /** A new in-progress action on the droplet, counted and listed in its account. */
  private record(droplet: SimDroplet, t: SimulatedActionType): SimAction {
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
    let listed = this.accountActions.get(droplet.account);
    if (!listed) this.accountActions.set(droplet.account, (listed = []));
    listed.push(action.id);
    droplet.actionCounts ??= {};
    droplet.actionCounts[t] = (droplet.actionCounts[t] ?? 0) + 1;
    this.actionsCreated += 1;
    this.actionsByType[t] = (this.actionsByType[t] ?? 0) + 1;
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
