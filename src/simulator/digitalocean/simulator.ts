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
 *   GET  /v2/actions/{action_id}
 *
 * Requests need `Authorization: Bearer <token>` (401 otherwise). Every response carries
 * ratelimit-limit / ratelimit-remaining / ratelimit-reset for the token; past its per-minute or
 * per-hour limit it answers 429 with Retry-After. Error bodies are `{id, message, request_id}`.
 * Faults (faults.ts) are injected with `setFault`. Power semantics live in droplet-fleet.ts.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DigitalOceanFault, FaultBook } from './faults';
import {
  ActionRefused,
  DropletFleet,
  type NewDroplet,
  type PowerChangeListener,
  type SimulatedActionType,
} from './droplet-fleet';
import { SimulatorRateLimiter, type RateHeaders } from './rate-limiter';
import { accountJson, actionJson, dropletJson, type SimDroplet, type SimDropletStatus } from './render';
import { RequestLog, type RequestLogEntry } from './request-log';

export const DEFAULT_SIMULATOR_TOKEN = 'do-simulator-token';

export interface DigitalOceanSimulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Tokens it accepts. Default [DEFAULT_SIMULATOR_TOKEN]. */
  tokens?: string[];
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
  name: string;
  status: SimDropletStatus;
  tags: string[];
  region: string;
  pendingActionId?: number;
}

export interface DigitalOceanSimulator {
  url: string;
  close(): Promise<void>;
  addDroplet(d: NewDroplet): DropletSnapshot;
  getDroplet(id: number): DropletSnapshot | undefined;
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
  const tokens = new Set(opts.tokens ?? [DEFAULT_SIMULATOR_TOKEN]);
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

  const dropletOr404 = (id: number) => {
    const d = fleet.droplets.get(id);
    if (!d) throw new HttpError(404, 'not_found', 'The resource you were accessing could not be found.');
    return d;
  };
  const actionOr404 = (id: number, dropletId?: number) => {
    const a = fleet.actions.get(id);
    if (!a || (dropletId !== undefined && a.dropletId !== dropletId)) {
      throw new HttpError(404, 'not_found', 'The resource you were accessing could not be found.');
    }
    return a;
  };

  /** The droplet a request is about, for per-droplet faults. */
  const dropletOfPath = (path: string): number | undefined => {
    const m = /^\/v2\/droplets\/(\d+)(?:\/|$)/.exec(path);
    if (m) return Number(m[1]);
    const a = /^\/v2\/actions\/(\d+)$/.exec(path);
    return a ? fleet.actions.get(Number(a[1]))?.dropletId : undefined;
  };

  async function route(
    req: IncomingMessage,
    url: URL,
    base: string,
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
      const ids = fleet.ids(tag);
      const slice = ids.slice((page - 1) * perPage, page * perPage);
      const droplets = slice.map((id) => dropletJson(fleet.droplets.get(id) as SimDroplet));
      const links = pageLinks(base, '/v2/droplets', url.searchParams, page, perPage, ids.length);
      return { status: 200, body: { droplets, links, meta: { total: ids.length } } };
    }
    if ((m = /^\/v2\/droplets\/(\d+)$/.exec(path))) {
      allow('GET');
      return { status: 200, body: { droplet: dropletJson(dropletOr404(Number(m[1]))) } };
    }
    if ((m = /^\/v2\/droplets\/(\d+)\/actions$/.exec(path))) {
      allow('GET', 'POST');
      const droplet = dropletOr404(Number(m[1]));
      if (method === 'GET') {
        const { page, perPage } = pageParams(url.searchParams);
        const ids = [...(droplet.actionIds ?? [])].reverse();
        const actions = ids
          .slice((page - 1) * perPage, page * perPage)
          .map((id) => actionJson(actionOr404(id)));
        const links = pageLinks(base, path, url.searchParams, page, perPage, ids.length);
        return { status: 200, body: { actions, links, meta: { total: ids.length } } };
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readBody(req));
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(400, 'bad_request', 'The request body is not valid JSON.');
      }
      const type = (parsed as { type?: unknown } | null)?.type;
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
      const dropletId = dropletOr404(Number(m[1])).id;
      return { status: 200, body: { action: actionJson(actionOr404(Number(m[2]), dropletId)) } };
    }
    if ((m = /^\/v2\/actions\/(\d+)$/.exec(path))) {
      allow('GET');
      return { status: 200, body: { action: actionJson(actionOr404(Number(m[1]))) } };
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
    const authenticated = tokens.has(token);
    const dropletId = faults.empty ? undefined : dropletOfPath(url.pathname);

    const send = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      const rate: RateHeaders = limiter.headers(authenticated ? token : '', clock());
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': JSON_TYPE,
        'content-length': Buffer.byteLength(text),
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
      });
    };
    const fail = (e: HttpError, extra?: Record<string, string>) =>
      send(e.status, { id: e.id, message: e.message, request_id: requestId }, extra);

    try {
      const slow = faults.empty ? undefined : faults.take('slow', dropletId);
      if (slow) await new Promise((r) => setTimeout(r, slow.delayMs));
      if (!authenticated) return fail(new HttpError(401, 'unauthorized', 'Unable to authenticate you.'));

      const decision = limiter.check(token, clock());
      const forced = decision.allowed && !faults.empty ? faults.take('rateLimited', undefined) : undefined;
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

      const broken = faults.empty ? undefined : faults.take('serverError', dropletId);
      if (broken) {
        return fail(
          new HttpError(
            broken.status ?? 500,
            'server_error',
            'Unexpected server-side error (simulated fault).',
          ),
        );
      }
      const out = await route(req, url, base);
      send(out.status, out.body);
    } catch (err) {
      if (err instanceof HttpError) return fail(err);
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
    addDroplet: (d) => snapshot(fleet.add(d)),
    getDroplet(id) {
      const d = fleet.droplets.get(id);
      return d ? snapshot(d) : undefined;
    },
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
