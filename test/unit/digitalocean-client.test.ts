/** DigitalOceanClient logic against a scripted fetch, a recording budget and a fake clock/sleep. */
import pino from 'pino';
import type { HeaderSource, RequestBudget } from '../../src/digitalocean/budget';
import {
  DigitalOceanClient,
  goalHolds,
  type DigitalOceanClientDeps,
  type ResponseInfo,
} from '../../src/digitalocean/client';
import {
  DigitalOceanActionFailedError,
  DigitalOceanAlreadyInStateError,
  DigitalOceanActionTimeoutError,
  DigitalOceanNetworkError,
  DigitalOceanNotFoundError,
  DigitalOceanRateLimitedError,
  DigitalOceanRequestError,
  DigitalOceanServerError,
  DigitalOceanUnauthorizedError,
} from '../../src/digitalocean/errors';
import { PROVIDER_RETRY } from '../../workflows/policies';

const TOKEN = 'dop_v1_super_secret_token_value';
const BASE = 'https://api.digitalocean.test';
const NOW = 1_700_000_000_000;

type Handler = (url: string, init: RequestInit) => Response | Promise<Response>;

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'content-type': 'application/json',
      'ratelimit-remaining': '4000',
      'ratelimit-reset': String(NOW / 1000 + 600),
      ...headers,
    },
  });
}

const droplet = (id: number) => ({ id, name: `d${id}`, status: 'active' });
const action = (id: number, status: string, type = 'power_on', started = '2023-11-14T22:13:20Z') => ({
  id,
  status,
  type,
  resource_id: 7,
  started_at: started,
});

function setup(handlers: Handler[], extra: Partial<DigitalOceanClientDeps> = {}) {
  const calls: { url: string; init: RequestInit }[] = [];
  const budgetCalls: string[] = [];
  const penalties: number[] = [];
  const sleeps: number[] = [];
  const infos: ResponseInfo[] = [];
  const logLines: string[] = [];
  let now = NOW;
  const budget: RequestBudget = {
    acquire: () => {
      budgetCalls.push('acquire');
      return Promise.resolve();
    },
    observe: (_h: HeaderSource) => {
      budgetCalls.push('observe');
      return Promise.resolve();
    },
    penalize: (ms: number) => {
      budgetCalls.push('penalize');
      penalties.push(ms);
      return Promise.resolve();
    },
  };
  const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, init: init ?? {} });
    const h = handlers.shift();
    if (!h) throw new Error(`unexpected request ${url}`);
    return h(url, init ?? {});
  }) as typeof fetch;
  const logger = pino({ level: 'debug' }, { write: (s: string) => logLines.push(s) });
  const client = new DigitalOceanClient({
    baseUrl: BASE,
    token: TOKEN,
    budget,
    logger,
    fetch: fakeFetch,
    userAgent: 'genesis-control-plane/0.1.0',
    baseBackoffMs: 500,
    random: () => 0.5,
    sleep: (ms: number) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
    now: () => now,
    onResponse: (i) => infos.push(i),
    ...extra,
  });
  return {
    client,
    calls,
    budgetCalls,
    penalties,
    sleeps,
    infos,
    logLines,
    advance: (ms: number) => (now += ms),
  };
}

describe('DigitalOceanClient requests', () => {
  it('acquires budget, authenticates, identifies itself, observes headers and reports the response', async () => {
    const t = setup([() => json(200, { droplet: droplet(7) }, { 'ratelimit-remaining': '4321' })]);
    await expect(t.client.getDroplet(7)).resolves.toMatchObject({ id: 7, status: 'active' });
    expect(t.calls[0].url).toBe(`${BASE}/v2/droplets/7`);
    expect(t.calls[0].init.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      'user-agent': 'genesis-control-plane/0.1.0',
      accept: 'application/json',
    });
    expect(t.budgetCalls).toEqual(['acquire', 'observe']);
    expect(t.infos).toEqual([
      {
        method: 'GET',
        path: '/v2/droplets/{droplet_id}',
        status: 200,
        durationMs: expect.any(Number),
        remaining: 4321,
        attempt: 0,
      },
    ]);
  });

  it('throws NotFound on 404 at once, naming method, path and DigitalOcean id/message', async () => {
    const t = setup([
      () => json(404, { id: 'not_found', message: 'The resource could not be found.', request_id: 'r-1' }),
    ]);
    const err = await t.client.getDroplet(9).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigitalOceanNotFoundError);
    expect(err).toMatchObject({ retryable: false, status: 404, doId: 'not_found', requestId: 'r-1' });
    expect((err as Error).message).toBe(
      'DigitalOcean GET /v2/droplets/9 -> 404 not_found: The resource could not be found. (request_id r-1)',
    );
    expect(t.calls).toHaveLength(1);
  });

  it('never retries 401/403/422', async () => {
    const t = setup([
      () => json(401, { id: 'unauthorized', message: 'Unable to authenticate you.' }),
      () => json(403, { id: 'forbidden', message: 'You do not have access.' }),
      () => json(422, { id: 'unprocessable_entity', message: 'Droplet is already powered on.' }),
    ]);
    await expect(t.client.getDroplet(1)).rejects.toBeInstanceOf(DigitalOceanUnauthorizedError);
    await expect(t.client.getDroplet(1)).rejects.toMatchObject({ status: 403, retryable: false });
    const err = await t.client.dropletAction(1, 'power_on').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigitalOceanRequestError);
    expect((err as Error).message).toContain(
      'POST /v2/droplets/1/actions -> 422 unprocessable_entity: Droplet is already powered on.',
    );
    expect(t.calls).toHaveLength(3);
    expect(JSON.parse(String(t.calls[2].init.body))).toEqual({ type: 'power_on' });
  });

  it('fails fast: a 5xx is one request and a retryable ServerError at once (the activity retries)', async () => {
    const t = setup([
      () => json(500, { id: 'server_error', message: 'boom' }),
      () => json(503, { id: 'service_unavailable', message: 'later' }),
      () => json(200, { droplet: droplet(3) }),
    ]);
    const err = await t.client.getDroplet(3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigitalOceanServerError);
    expect(err).toMatchObject({ retryable: true, status: 500, mayHaveReachedServer: false });
    expect(t.calls).toHaveLength(1);
    expect(t.sleeps).toEqual([]);
    // a POST that got a 5xx may have started its action: the error says so
    const post = await t.client.dropletAction(3, 'power_cycle').catch((e: unknown) => e);
    expect(post).toMatchObject({ status: 503, retryable: true, mayHaveReachedServer: true });
    expect(t.calls).toHaveLength(2);
    await expect(t.client.getDroplet(3)).resolves.toMatchObject({ id: 3 });
    expect(t.infos.map((i) => [i.status, i.attempt])).toEqual([
      [500, 0],
      [503, 0],
      [200, 0],
    ]);
  });

  it('fails fast on network errors and timeouts: one request, a retryable NetworkError', async () => {
    const refused = () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    };
    const hang: Handler = (_u, init) =>
      new Promise((_r, reject) => init.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    const t = setup([refused, hang], { requestTimeoutMs: 30 });
    const first = await t.client.getDroplet(1).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(DigitalOceanNetworkError);
    expect(first).toMatchObject({ retryable: true });
    expect((first as Error).message).toBe('DigitalOcean GET /v2/droplets/1 network error: ECONNREFUSED');
    expect(t.calls).toHaveLength(1);
    const second = await t.client.dropletAction(1, 'power_on').catch((e: unknown) => e);
    expect((second as Error).message).toBe(
      'DigitalOcean POST /v2/droplets/1/actions network error: timed out after 30 ms',
    );
    expect(second).toMatchObject({ mayHaveReachedServer: true });
    expect(t.calls).toHaveLength(2);
    expect(t.infos.map((i) => i.status)).toEqual([0, 0]);
    expect(t.sleeps).toEqual([]);
  });

  it('attempt count: N activity attempts of a failing call are N requests, not N x client retries', async () => {
    const attempts = PROVIDER_RETRY.maximumAttempts; // what the power workflows allow a DigitalOcean call
    const t = setup(Array.from({ length: 50 }, () => () => json(502, { id: 'bad_gateway', message: 'x' })));
    for (let i = 0; i < attempts; i++) await t.client.getDroplet(9).catch(() => undefined);
    expect(t.calls).toHaveLength(attempts);
    expect(t.budgetCalls.filter((c) => c === 'acquire')).toHaveLength(attempts);
  });

  it('does not retry when the caller aborts', async () => {
    const controller = new AbortController();
    const t = setup([
      (_u, init) =>
        new Promise((_r, reject) => {
          init.signal?.addEventListener('abort', () => reject(new Error('aborted')));
          controller.abort(new Error('activity cancelled'));
        }),
    ]);
    await expect(t.client.getDroplet(1, { signal: controller.signal })).rejects.toThrow('activity cancelled');
    expect(t.calls).toHaveLength(1);
  });

  it('on 429 penalizes the shared budget by Retry-After (or until ratelimit-reset) and retries', async () => {
    const t = setup([
      () =>
        json(429, { id: 'too_many_requests', message: 'API Rate limit exceeded.' }, { 'retry-after': '3' }),
      () =>
        json(
          429,
          { id: 'too_many_requests', message: 'x' },
          { 'ratelimit-remaining': '0', 'ratelimit-reset': String(NOW / 1000 + 120) },
        ),
      () =>
        json(
          429,
          { id: 'too_many_requests', message: 'x' },
          { 'ratelimit-remaining': '17', 'ratelimit-reset': String(NOW / 1000 + 1800) },
        ),
      () => json(200, { droplet: droplet(1) }),
    ]);
    await expect(t.client.getDroplet(1)).resolves.toMatchObject({ id: 1 });
    // Retry-After wins; remaining 0 -> until reset; remaining > 0 (minute limit) -> at most a minute.
    expect(t.penalties).toEqual([3_000, 120_000, 60_000]);
    expect(t.sleeps).toEqual([]); // the budget's acquire does the waiting, for every worker
    expect(t.budgetCalls.slice(0, 4)).toEqual(['acquire', 'observe', 'penalize', 'acquire']);
  });

  it('throws RateLimited with the wait when 429s outlast maxRateLimitWaits (one request per wait)', async () => {
    const limited = () => json(429, { id: 'too_many_requests', message: 'x' }, { 'retry-after': '9' });
    const t = setup([limited, limited, limited, limited], { maxRateLimitWaits: 2 });
    const err = await t.client.getDroplet(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigitalOceanRateLimitedError);
    expect(err).toMatchObject({ retryAfterMs: 9_000, retryable: true });
    expect(t.calls).toHaveLength(3);
    expect(t.penalties).toEqual([9_000, 9_000, 9_000]);
  });

  it('never puts the token in a log line or an error message', async () => {
    const t = setup([
      () => json(500, { id: 'server_error', message: 'boom' }),
      () => {
        throw new TypeError('fetch failed');
      },
      () => json(429, { id: 'too_many_requests', message: 'slow down' }, { 'retry-after': '1' }),
      () => json(404, { id: 'not_found', message: 'gone' }),
    ]);
    const errors: Error[] = [];
    for (let i = 0; i < 3; i++) errors.push((await t.client.getDroplet(1).catch((e: unknown) => e)) as Error);
    expect(t.calls).toHaveLength(4);
    expect(t.logLines.length).toBeGreaterThan(3);
    expect(t.logLines.join('\n')).not.toContain(TOKEN);
    for (const err of errors) expect(`${err.message} ${err.stack}`).not.toContain(TOKEN);
  });
});

describe('DigitalOceanClient pagination', () => {
  it('follows links.pages.next, re-rooted on the base URL so the token never goes elsewhere', async () => {
    const t = setup([
      () =>
        json(200, {
          droplets: [droplet(1), droplet(2)],
          links: { pages: { next: 'https://evil.example/v2/droplets?page=2&per_page=200&tag_name=genesis' } },
          meta: { total: 3 },
        }),
      () => json(200, { droplets: [droplet(3)], links: { pages: { prev: 'x' } }, meta: { total: 3 } }),
    ]);
    const all = await t.client.listDropletsByTag('genesis');
    expect(all.map((d) => d.id)).toEqual([1, 2, 3]);
    expect(t.calls.map((c) => c.url)).toEqual([
      `${BASE}/v2/droplets?tag_name=genesis&per_page=200&page=1`,
      `${BASE}/v2/droplets?page=2&per_page=200&tag_name=genesis`,
    ]);
  });

  it('stops on a next link that repeats', async () => {
    const page = () =>
      json(200, {
        droplets: [droplet(1)],
        links: { pages: { next: `${BASE}/v2/droplets?page=2` } },
        meta: { total: 1 },
      });
    const t = setup([page, page]);
    await expect(t.client.listDropletsByTag('x')).resolves.toHaveLength(2);
    expect(t.calls).toHaveLength(2);
  });
});

describe('DigitalOceanClient actions', () => {
  it('waitForAction polls with growing intervals until completed', async () => {
    const t = setup([
      () => json(200, { action: action(11, 'in-progress') }),
      () => json(200, { action: action(11, 'in-progress') }),
      () => json(200, { action: action(11, 'in-progress') }),
      () => json(200, { action: action(11, 'in-progress') }),
      () => json(200, { action: action(11, 'completed') }),
    ]);
    await expect(
      t.client.waitForAction(11, { pollIntervalMs: 100, maxPollIntervalMs: 300 }),
    ).resolves.toMatchObject({
      status: 'completed',
    });
    expect(t.sleeps).toEqual([100, 150, 225, 300]);
  });

  it('waitForAction throws ActionFailed on errored and ActionTimeout past the deadline', async () => {
    const failed = setup([() => json(200, { action: action(12, 'errored', 'power_cycle') })]);
    const err = await failed.client.waitForAction(12).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigitalOceanActionFailedError);
    expect((err as Error).message).toContain('action 12 (power_cycle on droplet 7) ended errored');

    const slow = setup(
      Array.from({ length: 10 }, () => () => json(200, { action: action(13, 'in-progress') })),
    );
    const timeout = await slow.client
      .waitForAction(13, { timeoutMs: 1_000, pollIntervalMs: 400, maxPollIntervalMs: 400 })
      .catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(DigitalOceanActionTimeoutError);
    expect(slow.sleeps).toEqual([400, 400, 200]);
    expect(slow.calls).toHaveLength(4);
  });

  it('a 422 "already powered off/on" is typed: the goal of power_off/shutdown/power_on holds', async () => {
    const t = setup([
      () => json(422, { id: 'unprocessable_entity', message: 'Droplet is already powered off.' }),
      () => json(422, { id: 'unprocessable_entity', message: 'Droplet is already powered on.' }),
      () => json(422, { id: 'unprocessable_entity', message: 'Droplet already has a pending event.' }),
    ]);
    const off = await t.client.dropletAction(7, 'power_off').catch((e: unknown) => e);
    expect(off).toBeInstanceOf(DigitalOceanAlreadyInStateError);
    expect(off).toMatchObject({ state: 'off', retryable: false, status: 422 });
    expect(goalHolds('power_off', off)).toBe(true);
    expect(goalHolds('shutdown', off)).toBe(true);
    expect(goalHolds('power_on', off)).toBe(false);
    expect(goalHolds('power_cycle', off)).toBe(false);
    const on = await t.client.dropletAction(7, 'power_on').catch((e: unknown) => e);
    expect(on).toMatchObject({ state: 'active' });
    expect(goalHolds('power_on', on)).toBe(true);
    expect(goalHolds('power_off', on)).toBe(false);
    const pending = await t.client.dropletAction(7, 'power_on').catch((e: unknown) => e);
    expect(pending).toBeInstanceOf(DigitalOceanRequestError);
    expect(pending).not.toBeInstanceOf(DigitalOceanAlreadyInStateError);
    expect(goalHolds('power_on', pending)).toBe(false);
    expect(t.calls).toHaveLength(3);
  });

  it('rejects bad ids and action types before any request', async () => {
    const t = setup([]);
    await expect(t.client.getDroplet(0)).rejects.toThrow(TypeError);
    await expect(t.client.dropletAction(1, 'destroy' as 'reboot')).rejects.toThrow(
      'unsupported droplet action type',
    );
    expect(t.calls).toHaveLength(0);
  });
});

const noContent = () => new Response(null, { status: 204, headers: { 'ratelimit-remaining': '4000' } });

describe('DigitalOceanClient tags and bulk actions', () => {
  it('createTag posts {name}; tagDroplets/untagDroplets send droplet ids as strings; deleteTag DELETEs', async () => {
    const t = setup([
      () => json(201, { tag: { name: 'cohort:1', resources: { count: 0 } } }),
      noContent,
      noContent,
      noContent,
    ]);
    await t.client.createTag('cohort:1', { lane: 'bulk' });
    await t.client.tagDroplets('cohort:1', [5, 6]);
    await t.client.untagDroplets('cohort:1', [6]);
    await t.client.deleteTag('cohort:1');
    expect(t.calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      `POST ${BASE}/v2/tags`,
      `POST ${BASE}/v2/tags/cohort:1/resources`,
      `DELETE ${BASE}/v2/tags/cohort:1/resources`,
      `DELETE ${BASE}/v2/tags/cohort:1`,
    ]);
    expect(t.calls.map((c) => c.init.body)).toEqual([
      JSON.stringify({ name: 'cohort:1' }),
      JSON.stringify({
        resources: [
          { resource_id: '5', resource_type: 'droplet' },
          { resource_id: '6', resource_type: 'droplet' },
        ],
      }),
      JSON.stringify({ resources: [{ resource_id: '6', resource_type: 'droplet' }] }),
      undefined,
    ]);
    expect(t.infos.map((i) => i.path)).toEqual([
      '/v2/tags',
      '/v2/tags/{tag_id}/resources',
      '/v2/tags/{tag_id}/resources',
      '/v2/tags/{tag_id}',
    ]);
  });

  it('deleteTag: 404 is success (one request); other failures fail fast and typed', async () => {
    const t = setup([
      () => json(404, { id: 'not_found', message: 'gone' }),
      () => json(500, { id: 'server_error', message: 'boom' }),
    ]);
    await expect(t.client.deleteTag('gone')).resolves.toBeUndefined();
    await expect(t.client.deleteTag('gone')).rejects.toBeInstanceOf(DigitalOceanServerError);
    expect(t.calls).toHaveLength(2);
  });

  it('tagDroplets: a missing tag is NotFound (not retried); an empty list sends nothing', async () => {
    const t = setup([() => json(404, { id: 'not_found', message: 'no tag' })]);
    await expect(t.client.tagDroplets('nope', [1])).rejects.toBeInstanceOf(DigitalOceanNotFoundError);
    await t.client.tagDroplets('nope', []);
    await t.client.untagDroplets('nope', []);
    expect(t.calls).toHaveLength(1);
  });

  it('createTag: a 400 with error/root_causes is a RequestError carrying DigitalOcean’s message', async () => {
    const t = setup([
      () => json(400, { error: 'tag-name contains invalid characters', messages: null, root_causes: ['x'] }),
    ]);
    const err = (await t.client.createTag('fine').catch((e: unknown) => e)) as DigitalOceanRequestError;
    expect(err).toBeInstanceOf(DigitalOceanRequestError);
    expect(err.doMessage).toBe('tag-name contains invalid characters');
    expect(err.retryable).toBe(false);
  });

  it('validates tag names per the spec (letters, numbers, colons, dashes, underscores; at most 255) before any request', async () => {
    const t = setup([]);
    for (const bad of ['', 'a b', 'a/b', 'a.b', 'é', 'x'.repeat(256)]) {
      await expect(t.client.createTag(bad)).rejects.toBeInstanceOf(TypeError);
      await expect(t.client.tagDroplets(bad, [1])).rejects.toBeInstanceOf(TypeError);
      await expect(t.client.untagDroplets(bad, [1])).rejects.toBeInstanceOf(TypeError);
      await expect(t.client.deleteTag(bad)).rejects.toBeInstanceOf(TypeError);
      await expect(t.client.bulkDropletAction(bad, 'power_on')).rejects.toBeInstanceOf(TypeError);
    }
    await expect(t.client.tagDroplets('ok', [1, -2])).rejects.toBeInstanceOf(TypeError);
    await expect(t.client.bulkDropletAction('ok', 'reboot' as never)).rejects.toBeInstanceOf(TypeError);
    expect(t.calls).toHaveLength(0);
  });

  it('bulkDropletAction posts {type} with tag_name and answers the actions; a 5xx may have started them', async () => {
    const t = setup([
      () => json(201, { actions: [action(1, 'in-progress'), action(2, 'in-progress')] }),
      () => json(503, { id: 'server_error', message: 'later' }),
    ]);
    await expect(t.client.bulkDropletAction('cohort:9', 'power_off')).resolves.toHaveLength(2);
    expect(t.calls[0].url).toBe(`${BASE}/v2/droplets/actions?tag_name=cohort%3A9`);
    expect(t.calls[0].init.body).toBe(JSON.stringify({ type: 'power_off' }));
    await expect(t.client.bulkDropletAction('cohort:9', 'power_off')).rejects.toMatchObject({
      retryable: true,
      mayHaveReachedServer: true,
    });
    expect(t.calls).toHaveLength(2);
  });

  it('never puts the token in a log line or an error message (tag and bulk calls)', async () => {
    const t = setup([
      () => json(500, { id: 'server_error', message: 'boom' }),
      () => {
        throw new TypeError('fetch failed');
      },
      () => json(401, { id: 'unauthorized', message: 'no' }),
    ]);
    const errors = [
      await t.client.createTag('a').catch((e: unknown) => e),
      await t.client.untagDroplets('a', [1]).catch((e: unknown) => e),
      await t.client.bulkDropletAction('a', 'shutdown').catch((e: unknown) => e),
    ] as Error[];
    expect(t.logLines.join('\n')).not.toContain(TOKEN);
    for (const err of errors) expect(`${err.message} ${err.stack}`).not.toContain(TOKEN);
  });
});

describe('DigitalOceanClient findActions', () => {
  const page = (ids: number[], next?: string) =>
    json(200, {
      actions: ids.map((id) => action(id, 'completed')),
      links: next ? { pages: { next } } : {},
      meta: { total: 1000 },
    });

  it('reads pages of 200 newest first until every id is found', async () => {
    const t = setup([
      () => page([900, 899, 898], `${BASE}/v2/actions?page=2&per_page=200`),
      () => page([700, 650, 600], `${BASE}/v2/actions?page=3&per_page=200`),
      () => page([500, 400], `${BASE}/v2/actions?page=4&per_page=200`),
    ]);
    const found = await t.client.findActions([899, 650]);
    expect([...found.keys()].sort()).toEqual([650, 899]);
    expect(t.calls.map((c) => c.url)).toEqual([
      `${BASE}/v2/actions?per_page=200&page=1`,
      `${BASE}/v2/actions?page=2&per_page=200`,
    ]);
  });

  it('stops once a page is past the smallest id still missing, at the last page, or at maxPages', async () => {
    const past = setup([
      () => page([900, 800], `${BASE}/v2/actions?page=2`),
      () => page([700, 600], `${BASE}/v2/actions?page=3`),
    ]);
    const found = await past.client.findActions([900, 850, 901]); // 850 and 901 are not there
    expect([...found.keys()]).toEqual([900]);
    expect(past.calls).toHaveLength(1); // page 1 ends at 800 < 850: later pages are older
    const last = setup([() => page([900, 800])]);
    expect((await last.client.findActions([5])).size).toBe(0);
    expect(last.calls).toHaveLength(1);
    const capped = setup([
      () => page([900], `${BASE}/v2/actions?page=2`),
      () => page([800], `${BASE}/v2/actions?page=3`),
      () => page([700], `${BASE}/v2/actions?page=4`),
    ]);
    expect((await capped.client.findActions([5], { maxPages: 2 })).size).toBe(0);
    expect(capped.calls).toHaveLength(2);
    const none = setup([]);
    expect((await none.client.findActions([])).size).toBe(0);
    expect(none.calls).toHaveLength(0);
    await expect(none.client.findActions([0])).rejects.toBeInstanceOf(TypeError);
  });

  it('a failing page fails the call fast and typed', async () => {
    const t = setup([
      () => page([900], `${BASE}/v2/actions?page=2`),
      () => json(502, { id: 'server_error' }),
    ]);
    await expect(t.client.findActions([100])).rejects.toMatchObject({ status: 502, retryable: true });
    expect(t.calls).toHaveLength(2);
  });
});
