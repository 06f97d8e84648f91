/**
 * Power cohorts: droplets given the same power action at once (a storm of wakes, a scheduled
 * hibernation) share ONE bulk action by tag instead of one action each.
 *
 * A power activity of the remediation or bulk lane claims its key (power_actions) and submits
 * {account, type, lane, dropletId, key} here. Submissions of the same account, type and lane
 * linger (or until `maxSize`), then per batch. Remediation batches linger `lingerMs` (a recovery
 * should not wait long); bulk-lane batches `bulkLingerMs` (nobody waits on planned work, and a
 * storm arriving at a worker's pace needs seconds to fill a cohort). When the worker begins
 * shutting down (`stop`), what lingers is sent at once and later submissions do not linger.
 * Per batch:
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
 * Lookups (`lookup`) are batched the same way, per account (a batch is read when its most urgent
 * member's linger ends): the actions several droplets wait for are read from the pages of
 * GET /v2/actions (newest first) instead of one GET /v2/actions/{id} each. How many pages follow
 * the first is chosen from how far below the newest action on it the awaited ids are
 * (`lookupPages`), so actions started long ago still cost pages, not a call each; only the ids
 * even those pages did not hold are read one by one.
 *
 * In-process and per worker: each worker batches what its own activities submit.
 */
import type { BudgetLane } from '../domain/budget-lanes';
import {
  BULK_POWER_ACTION_TYPES,
  type Action,
  type BulkPowerActionType,
  type ActionsPageSpan,
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
  /** how long the first submission of a remediation batch (or lookup) waits for others */
  lingerMs: number;
  /** the same for bulk-lane batches (and lookups) */
  bulkLingerMs: number;
  /** a batch is sent at once when it reaches this size */
  maxSize: number;
  /** smaller batches are not worth a cohort: their members start single actions */
  minSize: number;
  /** cohort tags are `${tagPrefix}-<cohort id>` */
  tagPrefix: string;
}

export const DEFAULT_COHORT_SETTINGS: CohortSettings = {
  lingerMs: 500,
  bulkLingerMs: 5_000,
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
  items: T[];
  timer?: ReturnType<typeof setTimeout>;
  /** when the timer fires (Date.now() clock) */
  dueAt?: number;
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

/** Pages of GET /v2/actions one lookup reads at most. */
export const LOOKUP_MAX_PAGES = 10;
/** Actions per page of GET /v2/actions (the most DigitalOcean serves). */
const ACTIONS_PER_PAGE = 200;

/**
 * How many pages of GET /v2/actions (newest first) a lookup reads in all, given its first page:
 * the fewest requests for the awaited ids that page did not hold, each one either found on a
 * further page or read alone (GET /v2/actions/{id}).
 *
 * DigitalOcean's action ids increase, so an id's place in the list follows from how far below the
 * page's oldest action it is, times the account's share of ids (the page's actions per id: ids are
 * global on DigitalOcean, so an account's actions are not consecutive; 1 when they are). That place
 * is stretched by a tenth (the share varies; actions started meanwhile push older ones down):
 * overshooting seldom costs a request, as the reader stops once it has passed every awaited id.
 * Pages are read only where they save calls: at most `maxPages`, never more than the `perIdCalls`
 * the lookup would cost without them. Ids not below the page (newer than it, or not the
 * account's) no page can find.
 */
export function lookupPages(a: {
  /** the awaited ids the first page did not hold */
  missing: readonly number[];
  first: Pick<ActionsPageSpan, 'newest' | 'oldest' | 'count' | 'perPage'>;
  /** GET /v2/actions/{id} calls the whole lookup would cost without pages */
  perIdCalls: number;
  maxPages?: number;
}): number {
  const { newest, oldest, count, perPage } = a.first;
  const cap = Math.max(1, Math.min(a.maxPages ?? LOOKUP_MAX_PAGES, a.perIdCalls));
  // a short page is the whole list
  if (count < perPage || cap === 1) return 1;
  const share = newest > oldest ? Math.min(1, (count - 1) / (newest - oldest)) : 1;
  const pageOf = a.missing
    .filter((id) => id < oldest)
    .map((id) => 1 + Math.max(1, Math.ceil(((oldest - id) * share * 1.1) / perPage)))
    .sort((x, y) => x - y);
  // read p pages: p requests, plus one for each id beyond them (ids not below the page are read
  // alone whatever p is, so they do not change the choice)
  let best = 1;
  let bestCost = 1 + pageOf.length;
  for (let i = 0; i < pageOf.length; i++) {
    const p = pageOf[i]!;
    if (p > cap) break;
    if (pageOf[i + 1] === p) continue;
    const cost = p + (pageOf.length - (i + 1));
    if (cost < bestCost) {
      best = p;
      bestCost = cost;
    }
  }
  return best;
}

/** An error that proves the request was never carried out (nothing left, or DigitalOcean refused). */
export function neverSent(err: unknown): boolean {
  return (
    err instanceof DigitalOceanBudgetExhaustedError ||
    err instanceof DigitalOceanRateLimitedError ||
    err instanceof DigitalOceanRequestError
  );
}

export class PowerCohorts {
  private readonly batches = new Map<string, Batch<Pending<CohortMember>>>();
  private readonly lookups = new Map<string, Batch<PendingLookup>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopping = false;
  /** cohorts formed since start (metrics, tests) */
  formed = 0;

  constructor(
    private readonly deps: {
      clientOf: (account: string) => CohortClient;
      store: CohortStore;
      logger: CohortLogger;
      settings?: Partial<CohortSettings>;
      /** the worker is shutting down: send what lingers now, and linger no more */
      stop?: AbortSignal;
    },
  ) {
    const stop = deps.stop;
    if (stop?.aborted) this.stopLingering();
    else stop?.addEventListener('abort', () => this.stopLingering(), { once: true });
  }

  get settings(): CohortSettings {
    return { ...DEFAULT_COHORT_SETTINGS, ...this.deps.settings };
  }

  /** How long a batch of `lane` waits for more (none once the worker is stopping). */
  lingerOf(lane: BudgetLane): number {
    if (this.stopping) return 0;
    const s = this.settings;
    return lane === 'bulk' ? s.bulkLingerMs : s.lingerMs;
  }

  /**
   * Sends every lingering batch and lookup now and makes later ones not linger (the worker is
   * shutting down: its activities should finish within the grace time, not wait out a linger).
   */
  stopLingering(): void {
    this.stopping = true;
    for (const group of [...this.batches.keys()]) this.flush(group);
    for (const account of [...this.lookups.keys()]) this.flushLookups(account);
  }

  /** (Re)arms `batch`'s timer to fire `lingerMs` from now, unless it fires earlier already. */
  private due<T>(batch: Batch<T>, lingerMs: number, fire: () => void): void {
    const at = Date.now() + lingerMs;
    if (batch.dueAt !== undefined && batch.dueAt <= at) return;
    if (batch.timer) clearTimeout(batch.timer);
    batch.dueAt = at;
    batch.timer = setTimeout(fire, lingerMs);
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
        this.due(batch, this.lingerOf(member.lane), () => this.flush(group));
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
   * Lookups of an account arriving together share the pages of GET /v2/actions (or one GET per
   * action when only one or two wait). A batch is read when the linger of its most urgent member
   * ends: a remediation lookup joining bulk ones waits `lingerMs`, not `bulkLingerMs`.
   */
  lookup(account: string, actionId: number, lane: BudgetLane): Promise<Action | undefined> {
    return new Promise((resolve, reject) => {
      let batch = this.lookups.get(account);
      if (!batch) {
        batch = { items: [] };
        this.lookups.set(account, batch);
      }
      this.due(batch, this.lingerOf(lane), () => this.flushLookups(account));
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
    // a page serves every member: it goes in the most urgent member's lane
    const lane = firstLane(items.map((i) => i.lane));
    const ids = [...new Set(items.map((i) => i.actionId))];
    const found = new Map<number, Action>();
    if (ids.length >= 3) {
      // newest first, 200 a page; how many after the first: from where the awaited ids lie below it
      const read = await client.findActions(ids, {
        lane,
        maxPages: LOOKUP_MAX_PAGES,
        perPage: ACTIONS_PER_PAGE,
        pages: (first) => lookupPages({ missing: first.missing, first, perIdCalls: ids.length }),
      });
      for (const [id, a] of read) found.set(id, a);
    }
    for (const id of ids) {
      if (found.has(id)) continue;
      try {
        const own = firstLane(items.filter((i) => i.actionId === id).map((i) => i.lane));
        found.set(id, await client.getAction(id, { lane: own }));
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
