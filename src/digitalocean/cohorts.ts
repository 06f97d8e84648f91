/**
 * Power cohorts: droplets given the same power action at once (a storm of wakes, a scheduled
 * hibernation) share ONE bulk action by tag instead of one action each.
 *
 * A power activity of the remediation or bulk lane claims its key (power_actions) and submits
 * {account, type, lane, dropletId, key} here. Submissions of the same account, type and lane
 * linger `lingerMs` (or until `maxSize`), then per batch:
 *   - fewer than `minSize`: each member is answered `not_started` and starts its own single action
 *     (a cohort costs 4 calls; below a few members single actions are as cheap);
 *   - else: a power_cohorts row whose tag is unique to the cohort (`genesis-cohort-<id>`: a crashed
 *     cohort's leftover tag can never make a later bulk action power its droplets again), the tag
 *     created, the members tagged, ONE bulk action by the tag, each returned action mapped to its
 *     member by resource_id and recorded on the member's key, the tag deleted. A member the answer
 *     names no action for is answered `not_started` (its activity falls back to a single action
 *     under the same key: still at most one action per key).
 * An error before the bulk action was sent answers every member `not_started`; an error of the
 * bulk request itself (it may have reached DigitalOcean) fails the members' submissions, so their
 * activities retry and look for the action first, as any interrupted attempt does.
 *
 * Lookups (`lookup`) are batched the same way: the actions several droplets wait for are read
 * with one GET /v2/actions page instead of one GET /v2/actions/{id} each.
 *
 * In-process and per worker: each worker batches what its own activities submit.
 */
import type { BudgetLane } from '../domain/budget-lanes';
import {
  BULK_POWER_ACTION_TYPES,
  type Action,
  type BulkPowerActionType,
  type CallOptions,
  type FindActionsOptions,
  type PowerActionType,
} from './client';
import {
  DigitalOceanRequestError,
  DigitalOceanBudgetExhaustedError,
  DigitalOceanRateLimitedError,
} from './errors';

/** What the batcher needs of a DigitalOcean client (src/digitalocean/client.ts has all of it). */
export interface CohortClient {
  createTag(name: string, opts?: CallOptions): Promise<unknown>;
  tagDroplets(tag: string, dropletIds: readonly number[], opts?: CallOptions): Promise<unknown>;
  deleteTag(tag: string, opts?: CallOptions): Promise<unknown>;
  bulkDropletAction(tag: string, type: BulkPowerActionType, opts?: CallOptions): Promise<Action[]>;
  getAction(id: number, opts?: CallOptions): Promise<Action>;
  findActions(ids: readonly number[], opts?: FindActionsOptions): Promise<Map<number, Action>>;
}

/** Where cohorts and their members' action ids are recorded (src/db/power-cohorts.ts, power-actions.ts). */
export interface CohortStore {
  create(input: {
    tagPrefix: string;
    account: string;
    type: string;
    lane: string;
    members: number[];
  }): Promise<{ id: number; tag: string }>;
  recordMembers(keys: string[], cohortId: number): Promise<void>;
  recordActionIds(answers: { key: string; actionId: number }[]): Promise<void>;
  recordActed(id: number, outcome: { started: number[] } | { error: string }): Promise<void>;
  recordDeleted(id: number): Promise<void>;
  undeleted(olderThanMs: number, limit?: number): Promise<{ id: number; tag: string; account: string }[]>;
}

export interface CohortSettings {
  /** how long the first submission of a batch waits for others */
  lingerMs: number;
  /** a batch is sent at once when it reaches this size */
  maxSize: number;
  /** smaller batches are not worth a cohort: their members start single actions */
  minSize: number;
  /** cohort tags are `${tagPrefix}-<cohort id>` */
  tagPrefix: string;
}

export const DEFAULT_COHORT_SETTINGS: CohortSettings = {
  lingerMs: 500,
  maxSize: 100,
  minSize: 3,
  tagPrefix: 'genesis-cohort',
};

export interface CohortMember {
  account: string;
  type: PowerActionType;
  lane: BudgetLane;
  dropletId: number;
  /** the member's power_actions key, claimed before it was submitted */
  key: string;
}

export type CohortAnswer =
  | { kind: 'started'; actionId: number; cohortTag: string }
  /** no action was started for the member: it starts a single action itself */
  | { kind: 'not_started'; reason: string; cohortTag?: string };

export interface CohortLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

interface Pending<T> {
  member: T;
  resolve(answer: CohortAnswer): void;
  reject(err: unknown): void;
}

interface Batch<T> {
  items: Pending<T>[];
  timer?: ReturnType<typeof setTimeout>;
}

interface PendingLookup {
  actionId: number;
  lane: BudgetLane;
  resolve(a: Action | undefined): void;
  reject(err: unknown): void;
}

const LANE_ORDER: readonly BudgetLane[] = ['interactive', 'remediation', 'bulk'];
const firstLane = (lanes: BudgetLane[]): BudgetLane =>
  LANE_ORDER.find((l) => lanes.includes(l)) ?? 'remediation';

/** An error that proves the request was never carried out (nothing left, or DigitalOcean refused). */
export function neverSent(err: unknown): boolean {
  return (
    err instanceof DigitalOceanBudgetExhaustedError ||
    err instanceof DigitalOceanRateLimitedError ||
    err instanceof DigitalOceanRequestError
  );
}

export class PowerCohorts {
  private readonly batches = new Map<string, Batch<CohortMember>>();
  private readonly lookups = new Map<
    string,
    { items: PendingLookup[]; timer?: ReturnType<typeof setTimeout> }
  >();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** cohorts formed since start (metrics, tests) */
  formed = 0;

  constructor(
    private readonly deps: {
      clientOf: (account: string) => CohortClient;
      store: CohortStore;
      logger: CohortLogger;
      settings?: Partial<CohortSettings>;
    },
  ) {}

  get settings(): CohortSettings {
    return { ...DEFAULT_COHORT_SETTINGS, ...this.deps.settings };
  }

  /** Whether actions of `type` in `lane` are batched (interactive work never waits for a batch). */
  batchable(type: PowerActionType, lane: BudgetLane): boolean {
    return (
      lane !== 'interactive' &&
      (BULK_POWER_ACTION_TYPES as readonly string[]).includes(type) &&
      this.settings.maxSize > 1
    );
  }

  /** Answers once the member's batch was sent (or found too small). */
  submit(member: CohortMember): Promise<CohortAnswer> {
    const group = `${member.account}\u0000${member.type}\u0000${member.lane}`;
    return new Promise<CohortAnswer>((resolve, reject) => {
      let batch = this.batches.get(group);
      if (!batch) {
        batch = { items: [] };
        this.batches.set(group, batch);
        batch.timer = setTimeout(() => this.flush(group), this.settings.lingerMs);
      }
      batch.items.push({ member, resolve, reject });
      if (batch.items.length >= this.settings.maxSize) this.flush(group);
    });
  }

  private flush(group: string): void {
    const batch = this.batches.get(group);
    if (!batch) return;
    this.batches.delete(group);
    if (batch.timer) clearTimeout(batch.timer);
    const run = this.send(batch.items).catch((err: unknown) => {
      for (const p of batch.items) p.reject(err);
    });
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  private async send(items: Pending<CohortMember>[]): Promise<void> {
    const { minSize, tagPrefix } = this.settings;
    // one member per droplet: a duplicate (should not happen: one power workflow per droplet) goes single
    const byDroplet = new Map<number, Pending<CohortMember>>();
    for (const p of items) {
      if (byDroplet.has(p.member.dropletId)) p.resolve({ kind: 'not_started', reason: 'duplicate droplet' });
      else byDroplet.set(p.member.dropletId, p);
    }
    const members = [...byDroplet.values()];
    if (members.length < minSize) {
      for (const p of members)
        p.resolve({ kind: 'not_started', reason: `batch of ${members.length} < ${minSize}` });
      return;
    }
    const { account, type, lane } = members[0]!.member;
    const ids = members.map((p) => p.member.dropletId);
    const client = this.deps.clientOf(account);
    const opts: CallOptions = { lane };
    const cohort = await this.deps.store.create({ tagPrefix, account, type, lane, members: ids });
    const tag = cohort.tag;
    this.formed += 1;
    await this.deps.store.recordMembers(
      members.map((p) => p.member.key),
      cohort.id,
    );
    let sent = false;
    try {
      await client.createTag(tag, opts);
      await client.tagDroplets(tag, ids, opts);
      sent = true;
      const actions = await client.bulkDropletAction(tag, type as BulkPowerActionType, opts);
      const byResource = new Map<number, Action>();
      for (const a of actions)
        if (typeof a.resource_id === 'number' && a.id) byResource.set(a.resource_id, a);
      const answers = members.flatMap((p) => {
        const a = byResource.get(p.member.dropletId);
        return a && a.status !== 'errored' ? [{ key: p.member.key, actionId: a.id! }] : [];
      });
      await this.deps.store.recordActionIds(answers);
      const started = new Set(answers.map((a) => a.key));
      await this.deps.store.recordActed(cohort.id, {
        started: members.filter((p) => started.has(p.member.key)).map((p) => p.member.dropletId),
      });
      this.deps.logger.info(
        { cohort: tag, account, type, lane, members: ids.length, started: answers.length },
        'power cohort: bulk action started',
      );
      for (const p of members) {
        const a = byResource.get(p.member.dropletId);
        if (a && started.has(p.member.key)) p.resolve({ kind: 'started', actionId: a.id!, cohortTag: tag });
        else
          p.resolve({
            kind: 'not_started',
            cohortTag: tag,
            reason: a ? `bulk action ${a.id} ${a.status}` : 'no action in the bulk answer',
          });
      }
    } catch (err) {
      const message = (err as Error).message;
      await this.deps.store.recordActed(cohort.id, { error: message }).catch(() => undefined);
      if (!sent || neverSent(err)) {
        this.deps.logger.warn({ cohort: tag, err: message }, 'power cohort: not sent; members go single');
        for (const p of members) p.resolve({ kind: 'not_started', cohortTag: tag, reason: message });
      } else {
        // the bulk request may have reached DigitalOcean: the members' retries look before acting
        this.deps.logger.warn({ cohort: tag, err: message }, 'power cohort: bulk action failed');
        for (const p of members) p.reject(err);
      }
    } finally {
      await this.deleteTag(cohort.id, tag, client, lane);
    }
  }

  private async deleteTag(id: number, tag: string, client: CohortClient, lane: BudgetLane): Promise<boolean> {
    try {
      await client.deleteTag(tag, { lane });
      await this.deps.store.recordDeleted(id);
      return true;
    } catch (err) {
      this.deps.logger.warn(
        { cohort: tag, err: (err as Error).message },
        'power cohort: tag not deleted (the sweep will)',
      );
      return false;
    }
  }

  /**
   * Deletes the tags of cohorts older than `olderThanMs` that were never deleted (their worker died
   * mid-cohort). Answers how many were deleted.
   */
  async sweep(olderThanMs: number): Promise<number> {
    const left = await this.deps.store.undeleted(olderThanMs);
    let deleted = 0;
    for (const c of left) {
      let client: CohortClient;
      try {
        client = this.deps.clientOf(c.account);
      } catch (err) {
        this.deps.logger.warn(
          { cohort: c.tag, err: (err as Error).message },
          'power cohort sweep: no client',
        );
        continue;
      }
      if (await this.deleteTag(c.id, c.tag, client, 'bulk')) deleted += 1;
    }
    if (deleted > 0) this.deps.logger.info({ deleted }, 'power cohort sweep: leftover tags deleted');
    return deleted;
  }

  /**
   * The action `actionId` of `account` as DigitalOcean reports it now (undefined: not found).
   * Lookups arriving within `lingerMs` share one GET /v2/actions page (or one GET per action when
   * only one or two wait).
   */
  lookup(account: string, actionId: number, lane: BudgetLane): Promise<Action | undefined> {
    return new Promise((resolve, reject) => {
      let batch = this.lookups.get(account);
      if (!batch) {
        batch = { items: [] };
        this.lookups.set(account, batch);
        batch.timer = setTimeout(() => this.flushLookups(account), this.settings.lingerMs);
      }
      batch.items.push({ actionId, lane, resolve, reject });
      if (batch.items.length >= this.settings.maxSize) this.flushLookups(account);
    });
  }

  private flushLookups(account: string): void {
    const batch = this.lookups.get(account);
    if (!batch) return;
    this.lookups.delete(account);
    if (batch.timer) clearTimeout(batch.timer);
    const run = this.readActions(account, batch.items).catch((err: unknown) => {
      for (const p of batch.items) p.reject(err);
    });
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  private async readActions(account: string, items: PendingLookup[]): Promise<void> {
    const client = this.deps.clientOf(account);
    const lane = firstLane(items.map((i) => i.lane));
    const ids = [...new Set(items.map((i) => i.actionId))];
    const found = new Map<number, Action>();
    if (ids.length >= 3) {
      // newest first: the actions waited for are recent; 200 per page
      const pages = Math.min(5, Math.ceil(ids.length / 100) + 1);
      for (const [id, a] of await client.findActions(ids, { lane, maxPages: pages })) found.set(id, a);
    }
    for (const id of ids) {
      if (found.has(id)) continue;
      try {
        found.set(id, await client.getAction(id, { lane }));
      } catch (err) {
        for (const p of items) if (p.actionId === id) p.reject(err);
      }
    }
    for (const p of items) if (found.has(p.actionId)) p.resolve(found.get(p.actionId));
  }

  /**
   * Sweeps now and then every `everyMs` (cohorts older than `everyMs`) until `stop` aborts; the
   * timers never keep the process alive.
   */
  startSweeping(everyMs: number, stop?: AbortSignal): void {
    const sweep = () => {
      this.sweep(everyMs).catch((err: unknown) =>
        this.deps.logger.warn({ err: (err as Error).message }, 'power cohort sweep failed'),
      );
    };
    const first = setTimeout(sweep, Math.min(everyMs, 10_000));
    const every = setInterval(sweep, everyMs);
    first.unref?.();
    every.unref?.();
    stop?.addEventListener(
      'abort',
      () => {
        clearTimeout(first);
        clearInterval(every);
      },
      { once: true },
    );
  }

  /** Sends what lingers now and waits for every batch in flight (shutdown, tests). */
  async drain(): Promise<void> {
    for (const group of [...this.batches.keys()]) this.flush(group);
    for (const account of [...this.lookups.keys()]) this.flushLookups(account);
    await Promise.allSettled([...this.inFlight]);
  }
}
