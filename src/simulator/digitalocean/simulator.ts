/**
 * A stateful DigitalOcean API v2 simulator (node:http), for tests and the local demo. It serves
 * the paths the control plane uses, shaped as the official spec (specs/digitalocean-v2-subset.yaml)
 * says, which test/integration/digitalocean-contract.test.ts checks:
 *
 *   GET  /v2/account
 *   GET  /v2/droplets                         tag_name, page, per_page (max 200), links.pages, meta.total
 *   GET  /v2/droplets/{id}
 *   GET  /v2/droplets/{id}/actions            newest first, paginated
 *   POST /v2/droplets/{id}/actions            {type}: power_on, power_off, shutdown, power_cycle, reboot
 *   GET  /v2/droplets/{id}/actions/{action_id}
 *   POST /v2/droplets/actions?tag_name=        {type}: power_on, power_off, shutdown, power_cycle;
 *                                              one action per droplet with the tag (droplet-fleet.ts)
 *   GET  /v2/actions                           the account's actions, newest first (DigitalOcean's
 *                                              docs give no order; newest first is what it answers),
 *                                              paginated, links.pages, meta.total
 *   GET  /v2/actions/{action_id}
 *   POST   /v2/tags                            {name}; 201 with the tag, also when it exists already
 *                                              (DigitalOcean's create is idempotent; the spec
 *                                              documents 201 and 400 for a bad name)
 *   GET    /v2/tags/{tag_id}                   404 unless it exists (canonical capitalization)
 *   DELETE /v2/tags/{tag_id}                   204; untags its droplets
 *   POST   /v2/tags/{tag_id}/resources         {resources: [{resource_id, resource_type: droplet}]}: 204
 *   DELETE /v2/tags/{tag_id}/resources         the same, untagging
 *
 * Accounts: `tokenAccounts` maps tokens to account names; `tokens` (default
 * [DEFAULT_SIMULATOR_TOKEN]) are the `default` account. Every droplet belongs to one account
 * (`addDroplet({account})`, default `default`), and with it its tags and actions: a token sees and
 * acts only on its own account's droplets, tags and actions (anything else is 404, as a droplet of
 * another team is on DigitalOcean). The rate limiter is per token. The request log records each
 * request's account.
 *
 * Requests need `Authorization: Bearer <token>` (401 otherwise). Every response carries
 * ratelimit-limit / ratelimit-remaining / ratelimit-reset for the token; past its per-minute or
 * per-hour limit it answers 429 with Retry-After. Error bodies are `{id, message, request_id}`.
 * Faults (faults.ts) are injected with `setFault`; a bulk action's request is slowed or failed by a
 * fault of any droplet with the tag, and its actions take each droplet's own action faults, as
 * single actions do. Power semantics live in droplet-fleet.ts.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DigitalOceanFault, FaultBook } from './faults';
import {
  ActionRefused,
  DEFAULT_SIM_ACCOUNT,
  DropletFleet,
  type NewDroplet,
  type PowerChangeListener,
  type SimulatedActionType,
} from './droplet-fleet';
import { SimulatorRateLimiter, type RateHeaders } from './rate-limiter';
import {
  accountJson,
  actionJson,
  dropletJson,
  tagJson,
  type SimDroplet,
  type SimDropletStatus,
} from './render';
import { RequestLog, type RequestLogEntry } from './request-log';

export const DEFAULT_SIMULATOR_TOKEN = 'do-simulator-token';

export interface DigitalOceanSimulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Tokens of the `default` account. Default [DEFAULT_SIMULATOR_TOKEN]. */
  tokens?: string[];
  /**
   * More tokens, each mapped to the account (team) it belongs to, e.g. {"dop_v1_b": "team_b"}.
   * Droplets are seeded into an account with `addDroplet({account})`.
   */
  tokenAccounts?: Record<string, string>;
  /** Default 250 and 5,000, like DigitalOcean. */
  perMinute?: number;
  perHour?: number;
  /** Window lengths; tests shrink them to scale a minute down to seconds. */
  minuteWindowMs?: number;
  hourWindowMs?: number;
  /** How long an action stays in-progress. Default 2,000 ms. */
  actionDelayMs?: number | ((type: SimulatedActionType, dropletId: number) => number);
  onPowerChange?: PowerChangeListener;
  /** Requests remembered for stats. Default 200,000. */
  requestLogCapacity?: number;
  /** Epoch ms; default Date.now. */
  clock?: () => number;
}

export interface SimulatorStats {
  totalRequests: number;
  responsesByStatus: Record<string, number>;
  rateLimitedResponses: number;
  droplets: number;
  actionsCreated: number;
  actionsByType: Record<string, number>;
  pendingActions: number;
  /** Most authenticated requests that arrived inside any one window (from the request log). */
  maxRequestsInMinuteWindow: number;
  maxRequestsInHourWindow: number;
}

export interface DropletSnapshot {
  id: number;
  account: string;
  name: string;
  status: SimDropletStatus;
  tags: string[];
  region: string;
  pendingActionId?: number;
}

export interface DigitalOceanSimulator {
  url: string;
  close(): Promise<void>;
  /** Seeds a droplet (into `d.account`, default `default`; an account no token belongs to throws). */
  addDroplet(d: NewDroplet): DropletSnapshot;
  getDroplet(id: number): DropletSnapshot | undefined;
  /** The tag's droplets (ascending), if the account has the tag. */
  getTag(name: string, account?: string): { name: string; dropletIds: number[] } | undefined;
  /** Every account a token belongs to, `default` included. */
  accounts(): string[];
  /** Changes a droplet's status directly (a crash, a console power-off); fires onPowerChange. */
  setDropletStatus(id: number, status: SimDropletStatus): void;
  setFault(fault: DigitalOceanFault): void;
  clearFaults(dropletId?: number): void;
  actionCount(dropletId: number, type: string): number;
  onPowerChange(listener: PowerChangeListener): () => void;
  stats(): SimulatorStats;
  requestLog(): RequestLogEntry[];
  maxRequestsInWindow(windowMs: number, filter?: (e: RequestLogEntry) => boolean): number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';
const MAX_BODY = 64 * 1024;

function snapshot(d: SimDroplet): DropletSnapshot {
  return {
    id: d.id,
    account: d.account,
    name: d.name,
    status: d.status,
    tags: [...d.tags],
    region: d.region,
    pendingActionId: d.pendingActionId,
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new HttpError(413, 'request_too_large', 'Request body too large.'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  try {
    return JSON.parse(await readBody(req)) as unknown;
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'bad_request', 'The request body is not valid JSON.');
  }
}

/** The spec's tag name rule (tags.name / the tag_id parameter). */
const TAG_NAME = /^[a-zA-Z0-9_\-:]+$/;
const validTagName = (name: unknown): name is string =>
  typeof name === 'string' && name.length <= 255 && TAG_NAME.test(name);

/** A 400 the way the spec's tags_bad_request has it (error_with_root_causes). */
class TagBadRequest extends Error {}

const NOT_FOUND = () =>
  new HttpError(404, 'not_found', 'The resource you were accessing could not be found.');

function pageParams(q: URLSearchParams): { page: number; perPage: number } {
  const int = (v: string | null, dflt: number) =>
    v !== null && /^\d+$/.test(v) && Number(v) >= 1 ? Number(v) : dflt;
  return { page: int(q.get('page'), 1), perPage: Math.min(200, int(q.get('per_page'), 20)) };
}

/** `links` as DigitalOcean builds them: absolute URLs; next/last while there is more, first/prev after page 1. */
function pageLinks(
  base: string,
  path: string,
  q: URLSearchParams,
  page: number,
  perPage: number,
  total: number,
) {
  const last = Math.max(1, Math.ceil(total / perPage));
  const link = (p: number) => {
    const params = new URLSearchParams(q);
    params.set('page', String(p));
    params.set('per_page', String(perPage));
    return `${base}${path}?${params.toString()}`;
  };
  const pages: Record<string, string> = {};
  if (page > 1) {
    pages.first = link(1);
    pages.prev = link(Math.min(page - 1, last));
  }
  if (page < last) {
    pages.next = link(page + 1);
    pages.last = link(last);
  }
  return Object.keys(pages).length ? { pages } : {};
}

export async function createDigitalOceanSimulator(
  opts: DigitalOceanSimulatorOptions = {},
): Promise<DigitalOceanSimulator> {
  const clock = opts.clock ?? Date.now;
  /** token -> account */
  const tokens = new Map<string, string>();
  for (const t of opts.tokens ?? [DEFAULT_SIMULATOR_TOKEN]) tokens.set(t, DEFAULT_SIM_ACCOUNT);
  for (const [t, account] of Object.entries(opts.tokenAccounts ?? {})) {
    if (!t || !account) throw new Error('tokenAccounts: tokens and account names must not be empty');
    tokens.set(t, account);
  }
  const accountNames = new Set([DEFAULT_SIM_ACCOUNT, ...tokens.values()]);
  const minuteWindowMs = opts.minuteWindowMs ?? 60_000;
  const hourWindowMs = opts.hourWindowMs ?? 3_600_000;
  const limiter = new SimulatorRateLimiter({
    perMinute: opts.perMinute ?? 250,
    perHour: opts.perHour ?? 5000,
    minuteWindowMs,
    hourWindowMs,
  });
  const delay = opts.actionDelayMs ?? 2_000;
  const faults = new FaultBook();
  const fleet = new DropletFleet(faults, typeof delay === 'function' ? delay : () => delay, clock);
  if (opts.onPowerChange) fleet.onPowerChange(opts.onPowerChange);
  const log = new RequestLog(opts.requestLogCapacity ?? 200_000);
  let rateLimitedResponses = 0;

  const dropletOr404 = (account: string, id: number) => {
    const d = fleet.dropletOf(account, id);
    if (!d) throw NOT_FOUND();
    return d;
  };
  const actionOr404 = (account: string, id: number, dropletId?: number) => {
    const a = fleet.actionOf(account, id);
    if (!a || (dropletId !== undefined && a.dropletId !== dropletId)) throw NOT_FOUND();
    return a;
  };
  const tagOr404 = (account: string, raw: string) => {
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      throw NOT_FOUND();
    }
    const t = fleet.getTag(account, name);
    if (!t) throw NOT_FOUND();
    return t;
  };

  /** The droplets a request is about (of the token's account), for per-droplet faults. */
  const dropletsOfRequest = (account: string, path: string, q: URLSearchParams): number[] => {
    const m = /^\/v2\/droplets\/(\d+)(?:\/|$)/.exec(path);
    if (m) return [Number(m[1])];
    const a = /^\/v2\/actions\/(\d+)$/.exec(path);
    if (a) {
      const id = fleet.actionOf(account, Number(a[1]))?.dropletId;
      return id === undefined ? [] : [id];
    }
    const tag = q.get('tag_name');
    if (path === '/v2/droplets/actions' && tag !== null) return fleet.ids(account, tag);
    return [];
  };

  /** The resources of a tag request, as the account's droplets (404 for any other). */
  const taggedDroplets = async (account: string, req: IncomingMessage): Promise<SimDroplet[]> => {
    const body = (await readJson(req)) as { resources?: unknown } | null;
    const resources = body?.resources;
    if (!Array.isArray(resources))
      throw new HttpError(400, 'bad_request', 'The request body needs a "resources" array.');
    return resources.map((r: { resource_id?: unknown; resource_type?: unknown } | null) => {
      if (r?.resource_type !== 'droplet')
        throw new HttpError(
          422,
          'unprocessable_entity',
          `The simulator tags only droplets, not "${String(r?.resource_type)}".`,
        );
      const id = typeof r.resource_id === 'string' && /^\d+$/.test(r.resource_id) ? Number(r.resource_id) : 0;
      return dropletOr404(account, id);
    });
  };

  async function route(
    req: IncomingMessage,
    url: URL,
    base: string,
    account: string,
  ): Promise<{ status: number; body: unknown }> {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const allow = (...methods: string[]) => {
      if (!methods.includes(method))
        throw new HttpError(405, 'method_not_allowed', `Method ${method} is not allowed here.`);
    };
    let m: RegExpExecArray | null;

    if (path === '/v2/account') {
      allow('GET');
      return { status: 200, body: { account: accountJson() } };
    }
    if (path === '/v2/droplets') {
      allow('GET');
      const { page, perPage } = pageParams(url.searchParams);
      const tag = url.searchParams.get('tag_name') ?? undefined;
      const ids = fleet.ids(account, tag);
      const slice = ids.slice((page - 1) * perPage, page * perPage);
      const droplets = slice.map((id) => dropletJson(fleet.droplets.get(id) as SimDroplet));
      const links = pageLinks(base, '/v2/droplets', url.searchParams, page, perPage, ids.length);
      return { status: 200, body: { droplets, links, meta: { total: ids.length } } };
    }
    if (path === '/v2/droplets/actions') {
      allow('POST');
      const tag = url.searchParams.get('tag_name');
      if (!tag) throw new HttpError(422, 'unprocessable_entity', 'A tag_name is required.');
      const type = ((await readJson(req)) as { type?: unknown } | null)?.type;
      if (typeof type !== 'string')
        throw new HttpError(422, 'unprocessable_entity', 'The action type is required.');
      try {
        return { status: 201, body: { actions: fleet.startBulk(account, tag, type).map(actionJson) } };
      } catch (err) {
        if (err instanceof ActionRefused) throw new HttpError(err.status, err.id, err.message);
        throw err;
      }
    }
    if ((m = /^\/v2\/droplets\/(\d+)$/.exec(path))) {
      allow('GET');
      return { status: 200, body: { droplet: dropletJson(dropletOr404(account, Number(m[1]))) } };
    }
    if ((m = /^\/v2\/droplets\/(\d+)\/actions$/.exec(path))) {
      allow('GET', 'POST');
      const droplet = dropletOr404(account, Number(m[1]));
      if (method === 'GET') {
        const { page, perPage } = pageParams(url.searchParams);
        const ids = [...(droplet.actionIds ?? [])].reverse();
        const actions = ids
          .slice((page - 1) * perPage, page * perPage)
          .map((id) => actionJson(actionOr404(account, id)));
        const links = pageLinks(base, path, url.searchParams, page, perPage, ids.length);
        return { status: 200, body: { actions, links, meta: { total: ids.length } } };
      }
      const type = ((await readJson(req)) as { type?: unknown } | null)?.type;
      if (typeof type !== 'string')
        throw new HttpError(422, 'unprocessable_entity', 'The action type is required.');
      try {
        return { status: 201, body: { action: actionJson(fleet.start(droplet, type)) } };
      } catch (err) {
        if (err instanceof ActionRefused) throw new HttpError(err.status, err.id, err.message);
        throw err;
      }
    }
    if ((m = /^\/v2\/droplets\/(\d+)\/actions\/(\d+)$/.exec(path))) {
      allow('GET');
      const dropletId = dropletOr404(account, Number(m[1])).id;
      return {
        status: 200,
        body: { action: actionJson(actionOr404(account, Number(m[2]), dropletId)) },
      };
    }
    if (path === '/v2/actions') {
      allow('GET');
      const { page, perPage } = pageParams(url.searchParams);
      const all = fleet.actionIds(account);
      const total = all.length;
      const actions = [];
      // newest first: page 1 is the end of the oldest-first list
      for (let i = total - 1 - (page - 1) * perPage; i >= 0 && i > total - 1 - page * perPage; i--)
        actions.push(actionJson(fleet.actions.get(all[i]) as Parameters<typeof actionJson>[0]));
      const links = pageLinks(base, path, url.searchParams, page, perPage, total);
      return { status: 200, body: { actions, links, meta: { total } } };
    }
    if ((m = /^\/v2\/actions\/(\d+)$/.exec(path))) {
      allow('GET');
      return { status: 200, body: { action: actionJson(actionOr404(account, Number(m[1]))) } };
    }
    if (path === '/v2/tags') {
      allow('POST');
      const name = ((await readJson(req)) as { name?: unknown } | null)?.name;
      if (!validTagName(name))
        throw new TagBadRequest(
          `Error validating resource tag: "tag-name ${JSON.stringify(String(name))} contains invalid characters"`,
        );
      return { status: 201, body: { tag: tagJson(fleet.createTag(account, name), base) } };
    }
    if ((m = /^\/v2\/tags\/([^/]+)$/.exec(path))) {
      allow('GET', 'DELETE');
      const tag = tagOr404(account, m[1]);
      if (method === 'GET') return { status: 200, body: { tag: tagJson(tag, base) } };
      fleet.deleteTag(account, tag);
      return { status: 204, body: undefined };
    }
    if ((m = /^\/v2\/tags\/([^/]+)\/resources$/.exec(path))) {
      allow('POST', 'DELETE');
      const tag = tagOr404(account, m[1]);
      const droplets = await taggedDroplets(account, req);
      for (const d of droplets) {
        if (method === 'POST') fleet.tag(tag, d);
        else fleet.untag(tag, d);
      }
      return { status: 204, body: undefined };
    }
    throw new HttpError(404, 'not_found', 'The resource you were accessing could not be found.');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = clock();
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://simulator');
    const base = `http://${req.headers.host ?? 'localhost'}`;
    const method = req.method ?? 'GET';
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    const account = tokens.get(token);
    const authenticated = account !== undefined;
    const dropletIds =
      faults.empty || account === undefined ? [] : dropletsOfRequest(account, url.pathname, url.searchParams);

    const send = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      const rate: RateHeaders = limiter.headers(authenticated ? token : '', clock());
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, {
        ...(body === undefined
          ? {}
          : { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(text) }),
        'x-request-id': requestId,
        ...rate,
        ...extra,
      });
      res.end(text);
      log.add({
        at,
        method,
        path: url.pathname,
        status,
        userAgent: req.headers['user-agent'] ?? '',
        authenticated,
        account,
      });
    };
    const fail = (e: HttpError, extra?: Record<string, string>) =>
      send(e.status, { id: e.id, message: e.message, request_id: requestId }, extra);

    try {
      const slow = faults.empty ? undefined : faults.takeAny('slow', dropletIds);
      if (slow) await new Promise((r) => setTimeout(r, slow.delayMs));
      if (account === undefined)
        return fail(new HttpError(401, 'unauthorized', 'Unable to authenticate you.'));

      const decision = limiter.check(token, clock());
      const forced =
        decision.allowed && !faults.empty
          ? faults.takeAny('rateLimited', [], (f) => f.account === undefined || f.account === account)
          : undefined;
      if (!decision.allowed || forced) {
        rateLimitedResponses += 1;
        const retryAfterSec = forced
          ? (forced.retryAfterSec ?? 1)
          : Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        return fail(new HttpError(429, 'too_many_requests', 'API Rate limit exceeded.'), {
          'retry-after': String(retryAfterSec),
        });
      }
      limiter.record(token, clock());

      const broken = faults.empty ? undefined : faults.takeAny('serverError', dropletIds);
      if (broken) {
        return fail(
          new HttpError(
            broken.status ?? 500,
            'server_error',
            'Unexpected server-side error (simulated fault).',
          ),
        );
      }
      const out = await route(req, url, base, account);
      send(out.status, out.body);
    } catch (err) {
      if (err instanceof HttpError) return fail(err);
      if (err instanceof TagBadRequest)
        return send(400, { error: err.message, messages: null, root_causes: [err.message] });
      fail(new HttpError(500, 'server_error', `Unexpected server-side error: ${(err as Error).message}`));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;

  return {
    url,
    async close() {
      fleet.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
    addDroplet(d) {
      const account = d.account ?? DEFAULT_SIM_ACCOUNT;
      if (!accountNames.has(account))
        throw new Error(
          `account "${account}" has no token (tokenAccounts names ${[...accountNames].join(', ')})`,
        );
      return snapshot(fleet.add(d));
    },
    getDroplet(id) {
      const d = fleet.droplets.get(id);
      return d ? snapshot(d) : undefined;
    },
    getTag(name, account = DEFAULT_SIM_ACCOUNT) {
      const t = fleet.getTag(account, name);
      return t ? { name: t.name, dropletIds: fleet.ids(account, t.name) } : undefined;
    },
    accounts: () => [...accountNames],
    setDropletStatus(id, status) {
      const d = fleet.droplets.get(id);
      if (!d) throw new Error(`no droplet ${id}`);
      fleet.setStatus(d, status);
    },
    setFault: (f) => faults.add(f),
    clearFaults: (dropletId) => faults.clear(dropletId),
    actionCount: (dropletId, type) => fleet.actionCount(dropletId, type),
    onPowerChange: (listener) => fleet.onPowerChange(listener),
    stats: () => ({
      totalRequests: log.total,
      responsesByStatus: { ...log.byStatus },
      rateLimitedResponses,
      droplets: fleet.droplets.size,
      actionsCreated: fleet.actionsCreated,
      actionsByType: { ...fleet.actionsByType },
      pendingActions: fleet.pendingActions(),
      maxRequestsInMinuteWindow: log.maxInWindow(minuteWindowMs),
      maxRequestsInHourWindow: log.maxInWindow(hourWindowMs),
    }),
    requestLog: () => log.entries(),
    maxRequestsInWindow: (windowMs, filter) => log.maxInWindow(windowMs, filter),
  };
}
