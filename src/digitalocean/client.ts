/**
 * DigitalOcean API v2 client for the few calls the control plane makes: read droplets, power
 * actions, and action polling; for cohorts, tags (create, tag/untag droplets, delete), one power
 * action on every droplet of a tag, and a batched action lookup (`findActions`). Built from injected dependencies so tests can point it at the
 * simulator, a fake fetch, a fake clock.
 *
 * The house rule for clients: fail fast with typed errors that say whether a retry can help
 * (`retryable`), and leave retrying to the caller (the activity's retry policy), so one failing
 * call costs one request per activity attempt, never attempts x attempts. The one exception is a
 * 429: the client tells the fleet-wide budget (`budget.penalize(Retry-After, or until
 * ratelimit-reset)`, so every worker backs off) and waits it out there (the next `acquire`),
 * at most `maxRateLimitWaits` times, because a rate limit is a wait, not a failure.
 *
 * Every request: `budget.acquire()` first (the fleet-wide request budget, shared through Redis),
 * then the request (Bearer token, User-Agent, JSON), then `budget.observe(headers)`.
 *   - 5xx: DigitalOceanServerError, network errors/timeouts: DigitalOceanNetworkError (retryable;
 *     `mayHaveReachedServer` says whether a POST may have started the action anyway);
 *   - 422 "Droplet is already powered off/on": DigitalOceanAlreadyInStateError (the goal of a
 *     power action may already hold; the caller decides whether that is success);
 *   - other 4xx: typed and not retryable (see errors.ts).
 * A retried power action never starts a second one: the power activity records each action
 * before calling and looks up the action an interrupted attempt started (activities/power.ts).
 *
 * The token goes into the Authorization header only: never into a log line or an error message.
 */
import type { Logger } from '../logger';
import { parseRetryAfterMs } from '../errors/retry-after';
import { defaultSleep, headerValue, type RequestBudget, type Sleep } from './budget';
import type { BudgetLane } from '../domain/budget-lanes';
import {
  DigitalOceanActionFailedError,
  DigitalOceanAlreadyInStateError,
  DigitalOceanActionTimeoutError,
  DigitalOceanNetworkError,
  DigitalOceanNotFoundError,
  DigitalOceanRateLimitedError,
  DigitalOceanRequestError,
  DigitalOceanResponseError,
  DigitalOceanServerError,
  DigitalOceanUnauthorizedError,
  type DigitalOceanErrorDetails,
} from './errors';
import type { components, operations } from './generated/schema';

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;

export type Droplet = components['schemas']['droplet'];
export type DropletStatus = Droplet['status'];
export type Action = components['schemas']['action'];
export type ActionStatus = NonNullable<Action['status']>;
/**
 * The request body of a power action. Not `components['schemas']['droplet_action']`: openapi-typescript
 * narrows that enum to the by-tag endpoint's discriminator mapping, which lacks `reboot`; the
 * contract test validates these bodies against the spec's own schema instead.
 */
export interface DropletActionRequest {
  type: PowerActionType;
}
export type DropletListPage = JsonOf<operations['droplets_list']['responses'][200]>;
export type DropletGetResponse = JsonOf<operations['droplets_get']['responses'][200]>;
export type DropletActionResponse = JsonOf<operations['dropletActions_post']['responses'][201]>;
export type DropletActionListPage = JsonOf<operations['dropletActions_list']['responses'][200]>;
export type ActionGetResponse = JsonOf<operations['actions_get']['responses'][200]>;
export type ActionListPage = JsonOf<operations['actions_list']['responses'][200]>;
export type BulkDropletActionResponse = JsonOf<operations['dropletActions_post_byTag']['responses'][201]>;
/** The request body of POST /v2/tags (the spec's `tags` schema without its read-only `resources`). */
export type TagCreateRequest = Required<Pick<components['schemas']['tags'], 'name'>>;
export type Tag = components['schemas']['tags'];
export type TagGetResponse = JsonOf<operations['tags_get']['responses'][200]>;
export type ErrorBody = components['schemas']['error'];

export const POWER_ACTION_TYPES = ['power_on', 'power_off', 'shutdown', 'power_cycle', 'reboot'] as const;
export type PowerActionType = (typeof POWER_ACTION_TYPES)[number];

/**
 * The power actions `POST /v2/droplets/actions?tag_name=` accepts (the spec's by-tag list is
 * power_cycle, power_on, power_off, shutdown, enable_ipv6, enable_backups, disable_backups,
 * snapshot: no reboot).
 */
export const BULK_POWER_ACTION_TYPES = ['power_on', 'power_off', 'shutdown', 'power_cycle'] as const;
export type BulkPowerActionType = (typeof BULK_POWER_ACTION_TYPES)[number];

/** The spec's tag name rule (`tag_id` parameter and `tags.name`): letters, numbers, colons, dashes, underscores. */
export const TAG_NAME_PATTERN = /^[a-zA-Z0-9_\-:]+$/;
/** The spec's `maxLength` of a tag name. */
export const TAG_NAME_MAX_LENGTH = 255;

/** Throws a TypeError (before any request) unless `name` is a tag name the spec allows. */
export function validTagName(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > TAG_NAME_MAX_LENGTH)
    throw new TypeError(`tag name must be 1-${TAG_NAME_MAX_LENGTH} characters, got ${String(name).length}`);
  if (!TAG_NAME_PATTERN.test(name))
    throw new TypeError(
      `tag name may contain only letters, numbers, colons, dashes and underscores: ${JSON.stringify(name)}`,
    );
  return name;
}

export interface ResponseInfo {
  method: string;
  /** The path template, e.g. "/v2/droplets/{droplet_id}" (low cardinality, for metrics). */
  path: string;
  /** HTTP status; 0 when no answer came (network error or timeout). */
  status: number;
  durationMs: number;
  /** ratelimit-remaining, when DigitalOcean sent it. */
  remaining?: number;
  attempt: number;
}

export interface DigitalOceanClientDeps {
  baseUrl: string;
  token: string;
  budget: RequestBudget;
  logger: Logger;
  fetch?: typeof fetch;
  /** e.g. "genesis-control-plane/0.1.0". */
  userAgent: string;
  /**
   * 429s waited out under the shared budget before the call fails with a retryable
   * DigitalOceanRateLimitedError. Nothing else is retried inside the client. Default 4.
   */
  maxRateLimitWaits?: number;
  /** Per request. Default 15 s. */
  requestTimeoutMs?: number;
  /**
   * A 429 without Retry-After or ratelimit-reset waits max(1 s, random(0, min(maxBackoffMs,
   * baseBackoffMs * 2^wait))). Defaults 500 ms and 30 s.
   */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  sleep?: Sleep;
  /** Epoch ms; used for action deadlines and header maths. */
  now?: () => number;
  random?: () => number;
  onResponse?: (info: ResponseInfo) => void;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** The budget lane the request is served in (src/domain/budget-lanes.ts); the budget's default when absent. */
  lane?: BudgetLane;
}

export interface WaitForActionOptions extends CallOptions {
  /** Default 5 min. */
  timeoutMs?: number;
  /** First poll interval. Default 2 s. */
  pollIntervalMs?: number;
  /** The interval grows ×1.5 per poll up to this. Default 15 s. */
  maxPollIntervalMs?: number;
}

export interface FindActionsOptions extends CallOptions {
  /** Pages of GET /v2/actions read at most. Default 5. */
  maxPages?: number;
  /** Actions a page (1 to 200). Default 200. */
  perPage?: number;
  /**
   * How many pages to read in all (at most `maxPages`), asked once the first page is read and
   * some ids are still missing: lets the caller size the read by where the ids lie below it.
   * Without it: `maxPages`.
   */
  pages?: (first: ActionsPageSpan) => number;
}

/** What the first page of GET /v2/actions (newest first) held. */
export interface ActionsPageSpan {
  /** the newest and oldest action id on the page */
  newest: number;
  oldest: number;
  /** actions on the page */
  count: number;
  perPage: number;
  /** the ids looked for that the page did not hold */
  missing: number[];
}

/** The body of POST/DELETE /v2/tags/{tag_id}/resources (the spec's `tags_resource`). */
export type TagResourcesRequest = components['schemas']['tags_resource'];

interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Template for metrics and logs. */
  template: string;
  /** Concrete path, without query. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  signal?: AbortSignal;
  lane?: BudgetLane;
}

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

/** The path part of a DigitalOcean "next" link, re-rooted on our base URL (never send the token elsewhere). */
function pathOfLink(link: string): string | undefined {
  try {
    const u = new URL(link);
    const i = u.pathname.indexOf('/v2/');
    return i < 0 ? undefined : u.pathname.slice(i) + u.search;
  } catch {
    return undefined;
  }
}

function positiveId(kind: string, id: number): number {
  if (!Number.isSafeInteger(id) || id < 1)
    throw new TypeError(`${kind} id must be a positive integer, got ${String(id)}`);
  return id;
}

function minOf(ids: Iterable<number>): number {
  let min = Infinity;
  for (const id of ids) if (id < min) min = id;
  return min;
}

function errorFields(body: unknown): Pick<DigitalOceanErrorDetails, 'doId' | 'doMessage' | 'requestId'> {
  if (!body || typeof body !== 'object') return {};
  // `error` (+ root_causes): the spec's error_with_root_causes, e.g. POST /v2/tags' 400
  const b = body as Partial<Record<keyof ErrorBody | 'error', unknown>>;
  return {
    doId: typeof b.id === 'string' ? b.id : undefined,
    doMessage: typeof b.message === 'string' ? b.message : typeof b.error === 'string' ? b.error : undefined,
    requestId: typeof b.request_id === 'string' ? b.request_id : undefined,
  };
}

export class DigitalOceanClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly maxRateLimitWaits: number;
  private readonly requestTimeoutMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly sleep: Sleep;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly deps: DigitalOceanClientDeps) {
    this.baseUrl = deps.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = deps.fetch ?? fetch;
    this.maxRateLimitWaits = deps.maxRateLimitWaits ?? 4;
    this.requestTimeoutMs = deps.requestTimeoutMs ?? 15_000;
    this.baseBackoffMs = deps.baseBackoffMs ?? 500;
    this.maxBackoffMs = deps.maxBackoffMs ?? 30_000;
    this.sleep = deps.sleep ?? defaultSleep;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  async getDroplet(id: number, opts: CallOptions = {}): Promise<Droplet> {
    const path = `/v2/droplets/${positiveId('droplet', id)}`;
    const res = await this.request({
      method: 'GET',
      template: '/v2/droplets/{droplet_id}',
      path,
      signal: opts.signal,
      lane: opts.lane,
    });
    return this.field<DropletGetResponse, 'droplet'>(res, 'droplet', 'GET', path) as Droplet;
  }

  /** Every droplet with the tag, following `links.pages.next` (200 per page). */
  async listDropletsByTag(tag: string, opts: CallOptions = {}): Promise<Droplet[]> {
    if (!tag) throw new TypeError('tag must not be empty');
    const all: Droplet[] = [];
    let path = '/v2/droplets';
    let query: Record<string, string> | undefined = { tag_name: tag, per_page: '200', page: '1' };
    const seen = new Set<string>();
    for (let page = 0; page < 10_000; page++) {
      const res = await this.request({
        method: 'GET',
        template: '/v2/droplets',
        path,
        query,
        signal: opts.signal,
        lane: opts.lane,
      });
      const body = res.body as DropletListPage;
      const droplets = this.field<DropletListPage, 'droplets'>(res, 'droplets', 'GET', path);
      all.push(...(droplets ?? []));
      const pages = body.links?.pages as { next?: string } | undefined;
      const next = pages?.next ? pathOfLink(pages.next) : undefined;
      if (!next || seen.has(next)) return all;
      seen.add(next);
      path = next;
      query = undefined;
    }
    return all;
  }

  /**
   * Starts a power action; answers the action as DigitalOcean created it (usually in-progress).
   * Throws DigitalOceanAlreadyInStateError when DigitalOcean answers that the droplet is already
   * powered off/on (see `goalHolds` for whether that means the action's goal holds).
   */
  async dropletAction(id: number, type: PowerActionType, opts: CallOptions = {}): Promise<Action> {
    if (!POWER_ACTION_TYPES.includes(type))
      throw new TypeError(`unsupported droplet action type: ${String(type)}`);
    const path = `/v2/droplets/${positiveId('droplet', id)}/actions`;
    const body: DropletActionRequest = { type };
    const res = await this.request({
      method: 'POST',
      template: '/v2/droplets/{droplet_id}/actions',
      path,
      body,
      signal: opts.signal,
      lane: opts.lane,
    });
    return this.field<DropletActionResponse, 'action'>(res, 'action', 'POST', path) as Action;
  }

  async getAction(id: number, opts: CallOptions = {}): Promise<Action> {
    const path = `/v2/actions/${positiveId('action', id)}`;
    const res = await this.request({
      method: 'GET',
      template: '/v2/actions/{action_id}',
      path,
      signal: opts.signal,
      lane: opts.lane,
    });
    return this.field<ActionGetResponse, 'action'>(res, 'action', 'GET', path) as Action;
  }

  /** Polls until the action is completed (returns it) or errored (throws); bounded by `timeoutMs`. */
  async waitForAction(id: number, opts: WaitForActionOptions = {}): Promise<Action> {
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const maxInterval = opts.maxPollIntervalMs ?? 15_000;
    let interval = Math.min(opts.pollIntervalMs ?? 2_000, maxInterval);
    const deadline = this.now() + timeoutMs;
    for (;;) {
      const action = await this.getAction(id, opts);
      if (action.status === 'completed') return action;
      if (action.status === 'errored')
        throw new DigitalOceanActionFailedError(id, action.type ?? '?', action.resource_id);
      const left = deadline - this.now();
      if (left <= 0) throw new DigitalOceanActionTimeoutError(id, action.status ?? 'in-progress', timeoutMs);
      await this.sleep(Math.min(interval, left), opts.signal);
      interval = Math.min(Math.ceil(interval * 1.5), maxInterval);
    }
  }

  /** The newest action of `type` on the droplet started after `notBefore` (ms), if any: how a retry finds an action an earlier, interrupted attempt already started. */
  async findRecentAction(
    dropletId: number,
    type: string,
    notBefore: number,
    signal?: AbortSignal,
  ): Promise<Action | undefined> {
    const path = `/v2/droplets/${dropletId}/actions`;
    const res = await this.request({
      method: 'GET',
      template: '/v2/droplets/{droplet_id}/actions',
      path,
      query: { per_page: '20', page: '1' },
      signal,
    });
    const actions = this.field<DropletActionListPage, 'actions'>(res, 'actions', 'GET', path) ?? [];
    return actions.find(
      (a) =>
        a.type === type &&
        a.status !== 'errored' &&
        (a.started_at === undefined || Date.parse(a.started_at) >= notBefore),
    );
  }

  /**
   * Creates the tag (POST /v2/tags). A tag that exists already is success: DigitalOcean answers a
   * create of an existing name with the tag (201, the only success the spec documents), and the
   * client asks nothing more of the answer than a 2xx. A 400 (invalid name) is a RequestError.
   */
  async createTag(name: string, opts: CallOptions = {}): Promise<void> {
    const body: TagCreateRequest = { name: validTagName(name) };
    await this.request({
      method: 'POST',
      template: '/v2/tags',
      path: '/v2/tags',
      body,
      signal: opts.signal,
      lane: opts.lane,
    });
  }

  /**
   * Tags droplets (POST /v2/tags/{tag_id}/resources, resource_type droplet, resource_id as a
   * string), one request for all of them; an empty list sends nothing. 404: the tag does not exist.
   */
  async tagDroplets(tag: string, dropletIds: readonly number[], opts: CallOptions = {}): Promise<void> {
    await this.tagResources('POST', tag, dropletIds, opts);
  }

  /** Untags droplets (DELETE /v2/tags/{tag_id}/resources), one request; an empty list sends nothing. */
  async untagDroplets(tag: string, dropletIds: readonly number[], opts: CallOptions = {}): Promise<void> {
    await this.tagResources('DELETE', tag, dropletIds, opts);
  }

  /** Deletes the tag (DigitalOcean untags every resource with it). 404 = already gone = success. */
  async deleteTag(tag: string, opts: CallOptions = {}): Promise<void> {
    const path = `/v2/tags/${validTagName(tag)}`;
    try {
      await this.request({
        method: 'DELETE',
        template: '/v2/tags/{tag_id}',
        path,
        signal: opts.signal,
        lane: opts.lane,
      });
    } catch (err) {
      if (err instanceof DigitalOceanNotFoundError) return;
      throw err;
    }
  }

  /**
   * One power action on every droplet with the tag (POST /v2/droplets/actions?tag_name=): answers
   * the actions DigitalOcean created, one per droplet (`resource_id`), usually in-progress. Like
   * every POST, a 5xx or no answer may still have started them (`mayHaveReachedServer`).
   */
  async bulkDropletAction(tag: string, type: BulkPowerActionType, opts: CallOptions = {}): Promise<Action[]> {
    if (!BULK_POWER_ACTION_TYPES.includes(type))
      throw new TypeError(`unsupported bulk droplet action type: ${String(type)}`);
    const body: DropletActionRequest = { type };
    const path = '/v2/droplets/actions';
    const res = await this.request({
      method: 'POST',
      template: '/v2/droplets/actions',
      path,
      query: { tag_name: validTagName(tag) },
      body,
      signal: opts.signal,
      lane: opts.lane,
    });
    return (this.field<BulkDropletActionResponse, 'actions'>(res, 'actions', 'POST', path) ?? []) as Action[];
  }

  /**
   * The actions with these ids, read from GET /v2/actions (newest first, 200 a page, following
   * `links.pages.next`): stops when every id is found, when a page ends below the smallest id still
   * missing (action ids grow with time, so later pages hold only older actions), when there is no
   * next page, or after `maxPages` (default 5) pages, or as many as `pages` answers once the first
   * page is read: one request per page, each in `lane`. Ids not found are absent from the map.
   */
  async findActions(ids: readonly number[], opts: FindActionsOptions = {}): Promise<Map<number, Action>> {
    const missing = new Set(ids.map((id) => positiveId('action', id)));
    const found = new Map<number, Action>();
    const maxPages = opts.maxPages ?? 5;
    if (!Number.isSafeInteger(maxPages) || maxPages < 1)
      throw new TypeError(`maxPages must be a positive integer, got ${String(maxPages)}`);
    const perPage = opts.perPage ?? 200;
    if (!Number.isSafeInteger(perPage) || perPage < 1 || perPage > 200)
      throw new TypeError(`perPage must be an integer from 1 to 200, got ${String(perPage)}`);
    let path = '/v2/actions';
    let query: Record<string, string> | undefined = { per_page: String(perPage), page: '1' };
    const seen = new Set<string>();
    let limit = maxPages;
    for (let page = 0; page < limit && missing.size > 0; page++) {
      const res = await this.request({
        method: 'GET',
        template: '/v2/actions',
        path,
        query,
        signal: opts.signal,
        lane: opts.lane,
      });
      const body = res.body as ActionListPage;
      const actions = this.field<ActionListPage, 'actions'>(res, 'actions', 'GET', path) ?? [];
      let oldest = Infinity;
      let newest = -Infinity;
      let count = 0;
      for (const a of actions) {
        if (typeof a.id !== 'number') continue;
        count += 1;
        oldest = Math.min(oldest, a.id);
        newest = Math.max(newest, a.id);
        if (missing.delete(a.id)) found.set(a.id, a);
      }
      if (missing.size === 0 || oldest < minOf(missing)) break;
      if (page === 0 && opts.pages && count > 0) {
        const wanted = opts.pages({ newest, oldest, count, perPage, missing: [...missing] });
        limit = Number.isFinite(wanted) ? Math.max(1, Math.min(maxPages, Math.floor(wanted))) : maxPages;
      }
      const pages = body.links?.pages as { next?: string } | undefined;
      const next = pages?.next ? pathOfLink(pages.next) : undefined;
      if (!next || seen.has(next)) break;
      seen.add(next);
      path = next;
      query = undefined;
    }
    return found;
  }

  private async tagResources(
    method: 'POST' | 'DELETE',
    tag: string,
    dropletIds: readonly number[],
    opts: CallOptions,
  ): Promise<void> {
    const path = `/v2/tags/${validTagName(tag)}/resources`;
    const ids = dropletIds.map((id) => positiveId('droplet', id));
    if (ids.length === 0) return;
    const body: TagResourcesRequest = {
      resources: ids.map((id) => ({ resource_id: String(id), resource_type: 'droplet' })),
    };
    await this.request({
      method,
      template: '/v2/tags/{tag_id}/resources',
      path,
      body,
      signal: opts.signal,
      lane: opts.lane,
    });
  }

  private field<T, K extends keyof T>(res: Answer, key: K, method: string, path: string): T[K] {
    const body = res.body as T | undefined;
    if (!body || typeof body !== 'object' || !(key in body)) {
      throw new DigitalOceanResponseError(
        { method, path, status: res.status },
        `no "${String(key)}" in the body`,
      );
    }
    return body[key];
  }

  private backoffMs(attempt: number): number {
    return Math.floor(this.random() * Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** attempt));
  }

  /** How long a 429 asks everyone to wait. */
  private rateLimitWaitMs(headers: Headers, attempt: number): number {
    const now = this.now();
    const retryAfter = parseRetryAfterMs(headerValue(headers, 'retry-after'), now);
    if (retryAfter !== undefined) return retryAfter;
    const reset = Number(headerValue(headers, 'ratelimit-reset'));
    const remaining = Number(headerValue(headers, 'ratelimit-remaining'));
    if (Number.isFinite(reset) && reset > 0) {
      const untilReset = reset * 1000 - now;
      // remaining > 0 means the minute limit tripped, which a minute always clears.
      if (untilReset > 0) return remaining > 0 ? Math.min(untilReset, 60_000) : untilReset;
    }
    return Math.max(1_000, this.backoffMs(attempt));
  }

  private async request(spec: RequestSpec): Promise<Answer> {
    const { method, template, path } = spec;
    const qs = spec.query
      ? `${path.includes('?') ? '&' : '?'}${new URLSearchParams(spec.query).toString()}`
      : '';
    const url = this.baseUrl + path + qs;
    const logPath = path.split('?')[0];
    const details = { method, path: logPath };
    // A POST that got no answer or a 5xx may have been carried out by DigitalOcean anyway.
    const mayHaveReachedServer = method === 'POST';

    for (let wait = 0; ; wait++) {
      await this.deps.budget.acquire(spec.signal, spec.lane);
      const started = performance.now();
      const timeout = AbortSignal.timeout(this.requestTimeoutMs);
      const signal = spec.signal ? AbortSignal.any([spec.signal, timeout]) : timeout;
      let status = 0;
      let headers: Headers;
      let body: unknown;
      try {
        const res = await this.fetchImpl(url, {
          method,
          headers: {
            authorization: `Bearer ${this.deps.token}`,
            'user-agent': this.deps.userAgent,
            accept: 'application/json',
            ...(spec.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
          signal,
        });
        status = res.status;
        headers = res.headers;
        const text = await res.text();
        try {
          body = text ? (JSON.parse(text) as unknown) : undefined;
        } catch {
          body = undefined;
        }
      } catch (err) {
        if (spec.signal?.aborted) throw spec.signal.reason;
        const reason = timeout.aborted
          ? `timed out after ${this.requestTimeoutMs} ms`
          : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
        this.report(method, template, status, started, undefined, wait);
        throw new DigitalOceanNetworkError(details, reason, { cause: err, mayHaveReachedServer });
      }

      const remainingHeader = headerValue(headers, 'ratelimit-remaining');
      this.report(
        method,
        template,
        status,
        started,
        remainingHeader === undefined ? undefined : Number(remainingHeader),
        wait,
      );
      try {
        await this.deps.budget.observe(headers);
      } catch (err) {
        this.deps.logger.warn(
          { err: (err as Error).message },
          'digitalocean: could not record rate-limit headers',
        );
      }

      if (status >= 200 && status < 300) return { status, body, headers };
      const d = { ...details, status, ...errorFields(body) };

      if (status === 429) {
        const waitMs = this.rateLimitWaitMs(headers, wait);
        await this.deps.budget.penalize(waitMs);
        if (wait >= this.maxRateLimitWaits) throw new DigitalOceanRateLimitedError(d, waitMs);
        this.deps.logger.warn(
          { method, path: template, wait, retryAfterMs: waitMs },
          'digitalocean: rate limited, waiting under the shared budget',
        );
        continue; // the next acquire() waits until the budget opens again, for every worker
      }
      if (status >= 500) throw new DigitalOceanServerError(d, { mayHaveReachedServer });
      if (status === 401 || status === 403) throw new DigitalOceanUnauthorizedError(d);
      if (status === 404) throw new DigitalOceanNotFoundError(d);
      const already = status === 422 ? alreadyInState(d.doMessage) : undefined;
      if (already) throw new DigitalOceanAlreadyInStateError(d, already);
      throw new DigitalOceanRequestError(d);
    }
  }

  private report(
    method: string,
    path: string,
    status: number,
    started: number,
    remaining: number | undefined,
    attempt: number,
  ) {
    const durationMs = Math.round(performance.now() - started);
    this.deps.logger.debug({ method, path, status, durationMs, remaining, attempt }, 'digitalocean response');
    if (!this.deps.onResponse) return;
    try {
      this.deps.onResponse({ method, path, status, durationMs, remaining, attempt });
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'digitalocean: onResponse callback threw');
    }
  }
}

/** DigitalOcean's 422 messages that say a power state already holds ("Droplet is already powered off."). */
function alreadyInState(message: string | undefined): 'off' | 'active' | undefined {
  if (!message) return undefined;
  if (/already powered off/i.test(message)) return 'off';
  if (/already powered on/i.test(message)) return 'active';
  return undefined;
}

/** The droplet status a power action leads to when it completes, if it has one goal. */
export function goalOf(type: PowerActionType): 'off' | 'active' | undefined {
  if (type === 'power_off' || type === 'shutdown') return 'off';
  if (type === 'power_on') return 'active';
  return undefined; // power_cycle and reboot are changes, not states: a refusal is a refusal
}

/** True when `err` says the goal of `type` already holds, so the action is done without running. */
export function goalHolds(type: PowerActionType, err: unknown): boolean {
  const goal = goalOf(type);
  return goal !== undefined && err instanceof DigitalOceanAlreadyInStateError && err.state === goal;
}
