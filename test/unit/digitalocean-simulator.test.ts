/** The DigitalOcean simulator's behaviour over HTTP (in-process server on a free port). */
import {
  createDigitalOceanSimulator,
  DEFAULT_SIMULATOR_TOKEN,
  maxInAnyWindow,
  type DigitalOceanSimulator,
} from '../../src/simulator/digitalocean';

const auth = { authorization: `Bearer ${DEFAULT_SIMULATOR_TOKEN}` };

async function call(
  sim: DigitalOceanSimulator,
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(sim.url + path, {
    method: init.method ?? 'GET',
    headers: { ...auth, 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (text ? JSON.parse(text) : undefined) as Record<string, any>,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('DigitalOcean simulator', () => {
  let sim: DigitalOceanSimulator;
  const changes: [number, string][] = [];

  beforeEach(async () => {
    changes.length = 0;
    sim = await createDigitalOceanSimulator({
      actionDelayMs: 60,
      onPowerChange: (id, s) => changes.push([id, s]),
    });
    sim.addDroplet({ id: 1, status: 'off', tags: ['genesis'] });
    sim.addDroplet({ id: 2, status: 'active', tags: ['genesis'] });
  });
  afterEach(() => sim.close());

  it('requires a bearer token and answers 401 with DigitalOcean error body and rate-limit headers', async () => {
    const res = await call(sim, '/v2/droplets/1', { headers: { authorization: 'Bearer wrong' } });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      id: 'unauthorized',
      message: expect.any(String),
      request_id: expect.any(String),
    });
    expect(res.headers.get('ratelimit-limit')).toBe('5000');
    const none = await fetch(`${sim.url}/v2/account`);
    expect(none.status).toBe(401);
    await none.arrayBuffer();
  });

  it('power_on: in-progress, then completed and active; fires onPowerChange and counts the action', async () => {
    const created = await call(sim, '/v2/droplets/1/actions', { method: 'POST', body: { type: 'power_on' } });
    expect(created.status).toBe(201);
    expect(created.body.action).toMatchObject({
      status: 'in-progress',
      type: 'power_on',
      resource_id: 1,
      completed_at: null,
    });
    expect(sim.getDroplet(1)?.status).toBe('off');
    const id = created.body.action.id as number;
    await until(() => sim.getDroplet(1)?.status === 'active');
    const done = await call(sim, `/v2/actions/${id}`);
    expect(done.body.action).toMatchObject({ id, status: 'completed', completed_at: expect.any(String) });
    const viaDroplet = await call(sim, `/v2/droplets/1/actions/${id}`);
    expect(viaDroplet.body.action.id).toBe(id);
    expect((await call(sim, `/v2/droplets/2/actions/${id}`)).status).toBe(404);
    expect(changes).toEqual([[1, 'active']]);
    expect(sim.actionCount(1, 'power_on')).toBe(1);
    expect(sim.actionCount(1, 'power_cycle')).toBe(0);
  });

  it('power_cycle goes active -> off -> active; shutdown goes active -> off', async () => {
    await call(sim, '/v2/droplets/2/actions', { method: 'POST', body: { type: 'power_cycle' } });
    await until(() => changes.length === 2);
    expect(changes).toEqual([
      [2, 'off'],
      [2, 'active'],
    ]);
    await until(() => sim.getDroplet(2)?.pendingActionId === undefined);
    await call(sim, '/v2/droplets/2/actions', { method: 'POST', body: { type: 'shutdown' } });
    await until(() => sim.getDroplet(2)?.status === 'off');
    expect(sim.stats().actionsByType).toEqual({ power_cycle: 1, shutdown: 1 });
  });

  it('answers 422 for an action in the wrong state or while another is pending', async () => {
    const on = await call(sim, '/v2/droplets/2/actions', { method: 'POST', body: { type: 'power_on' } });
    expect(on.status).toBe(422);
    expect(on.body).toMatchObject({ id: 'unprocessable_entity', message: 'Droplet is already powered on.' });
    const off = await call(sim, '/v2/droplets/1/actions', { method: 'POST', body: { type: 'power_off' } });
    expect(off.status).toBe(422);
    expect(
      (await call(sim, '/v2/droplets/1/actions', { method: 'POST', body: { type: 'power_on' } })).status,
    ).toBe(201);
    const again = await call(sim, '/v2/droplets/1/actions', { method: 'POST', body: { type: 'power_on' } });
    expect(again.body.message).toBe('Droplet already has a pending event.');
    expect(sim.actionCount(1, 'power_on')).toBe(1);
    expect(
      (await call(sim, '/v2/droplets/1/actions', { method: 'POST', body: { type: 'snapshotz' } })).status,
    ).toBe(422);
    expect((await call(sim, '/v2/droplets/999')).body).toMatchObject({ id: 'not_found' });
  });

  it('injects faults: 5xx N times, errored action, never boots, slow responses', async () => {
    sim.setFault({ kind: 'serverError', times: 2, dropletId: 2, status: 503 });
    expect((await call(sim, '/v2/droplets/1')).status).toBe(200); // other droplet unaffected
    expect((await call(sim, '/v2/droplets/2')).status).toBe(503);
    expect((await call(sim, '/v2/droplets/2')).body).toMatchObject({ id: 'server_error' });
    expect((await call(sim, '/v2/droplets/2')).status).toBe(200);

    sim.setFault({ kind: 'actionErrored', dropletId: 2 });
    const cycle = await call(sim, '/v2/droplets/2/actions', {
      method: 'POST',
      body: { type: 'power_cycle' },
    });
    await until(() => sim.getDroplet(2)?.pendingActionId === undefined);
    expect((await call(sim, `/v2/actions/${cycle.body.action.id}`)).body.action.status).toBe('errored');
    expect(sim.getDroplet(2)?.status).toBe('active');

    sim.setFault({ kind: 'neverBoots', dropletId: 1 });
    const on = await call(sim, '/v2/droplets/1/actions', { method: 'POST', body: { type: 'power_on' } });
    await until(() => sim.getDroplet(1)?.pendingActionId === undefined);
    expect((await call(sim, `/v2/actions/${on.body.action.id}`)).body.action.status).toBe('completed');
    expect(sim.getDroplet(1)?.status).toBe('off');

    sim.setFault({ kind: 'slow', delayMs: 150, times: 1 });
    const t0 = Date.now();
    await call(sim, '/v2/account');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    sim.clearFaults();
    const t1 = Date.now();
    await call(sim, '/v2/account');
    expect(Date.now() - t1).toBeLessThan(140);
  });

  it('paginates by tag with links.pages and meta.total', async () => {
    for (let id = 10; id < 460; id++) sim.addDroplet({ id, tags: id % 2 ? ['odd'] : ['even'] });
    const first = await call(sim, '/v2/droplets?tag_name=odd&per_page=100');
    expect(first.body.meta.total).toBe(225);
    expect(first.body.droplets).toHaveLength(100);
    expect(first.body.droplets.every((d: { tags: string[] }) => d.tags.includes('odd'))).toBe(true);
    expect(first.body.links.pages.first).toBeUndefined();
    const next = new URL(first.body.links.pages.next as string);
    expect(next.searchParams.get('page')).toBe('2');
    expect(next.searchParams.get('tag_name')).toBe('odd');
    const last = await call(sim, `/v2/droplets?tag_name=odd&per_page=100&page=3`);
    expect(last.body.droplets).toHaveLength(25);
    expect(last.body.links.pages.next).toBeUndefined();
    expect(last.body.links.pages.prev).toContain('page=2');
    expect((await call(sim, '/v2/droplets?per_page=500')).body.droplets).toHaveLength(200);
    expect((await call(sim, '/v2/droplets?tag_name=none')).body).toMatchObject({
      droplets: [],
      links: {},
      meta: { total: 0 },
    });
  });
});

describe('DigitalOcean simulator rate limits', () => {
  it('429s past the per-minute limit with Retry-After and the window slides with the clock', async () => {
    let now = 1_700_000_000_000;
    const sim = await createDigitalOceanSimulator({ perMinute: 3, perHour: 5, clock: () => now });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await call(sim, '/v2/account');
        codes.push(res.status);
        if (i === 0) expect(res.headers.get('ratelimit-remaining')).toBe('4');
        if (i === 3) {
          expect(res.body).toMatchObject({ id: 'too_many_requests' });
          expect(res.headers.get('retry-after')).toBe('60');
          expect(res.headers.get('ratelimit-reset')).toBe(
            String(Math.ceil((1_700_000_000_000 + 3_600_000) / 1000)),
          );
        }
        now += 10;
      }
      expect(codes).toEqual([200, 200, 200, 429]);
      now = 1_700_000_000_000 + 60_030; // the first three leave the minute window, not the hour
      expect((await call(sim, '/v2/account')).status).toBe(200);
      now += 5;
      expect((await call(sim, '/v2/account')).status).toBe(200);
      const hourly = await call(sim, '/v2/account'); // 5 counted this hour
      expect(hourly.status).toBe(429);
      expect(hourly.headers.get('ratelimit-remaining')).toBe('0');
      expect(Number(hourly.headers.get('retry-after'))).toBeGreaterThan(3_000);
      expect(sim.stats()).toMatchObject({ rateLimitedResponses: 2, responsesByStatus: { 200: 5, 429: 2 } });
    } finally {
      await sim.close();
    }
  });

  it('a forced 429 fault carries the configured Retry-After', async () => {
    const sim = await createDigitalOceanSimulator();
    try {
      sim.setFault({ kind: 'rateLimited', times: 1, retryAfterSec: 7 });
      const res = await call(sim, '/v2/account');
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('7');
      expect((await call(sim, '/v2/account')).status).toBe(200);
    } finally {
      await sim.close();
    }
  });

  it('maxInAnyWindow counts the densest half-open window', () => {
    expect(maxInAnyWindow([], 1000)).toBe(0);
    expect(maxInAnyWindow([0, 999, 1000, 1001, 2001], 1000)).toBe(3);
    expect(maxInAnyWindow([0, 1000, 2000], 1000)).toBe(1);
  });
});

describe('DigitalOcean simulator at fleet size', () => {
  it('holds 15,000 droplets and lists them all by tag in 75 pages', async () => {
    const sim = await createDigitalOceanSimulator({ perMinute: 1_000_000, perHour: 1_000_000 });
    try {
      const t0 = performance.now();
      for (let id = 1; id <= 15_000; id++) sim.addDroplet({ id, tags: ['genesis'] });
      const addMs = performance.now() - t0;
      let url: string | undefined = '/v2/droplets?tag_name=genesis&per_page=200';
      let pages = 0;
      let seen = 0;
      while (url) {
        const res = await call(sim, url);
        pages++;
        seen += (res.body.droplets as unknown[]).length;
        const next = res.body.links.pages?.next as string | undefined;
        url = next ? next.slice(sim.url.length) : undefined;
      }
      expect({ pages, seen }).toEqual({ pages: 75, seen: 15_000 });
      expect(addMs).toBeLessThan(1_000);
    } finally {
      await sim.close();
    }
  });
});

describe('DigitalOcean simulator tags, bulk actions and the action list', () => {
  let sim: DigitalOceanSimulator;
  const delays: [string, number][] = [];

  beforeEach(async () => {
    delays.length = 0;
    sim = await createDigitalOceanSimulator({
      actionDelayMs: (type, id) => {
        delays.push([type, id]);
        return id === 3 ? 400 : 40;
      },
    });
    for (const id of [1, 2, 3]) sim.addDroplet({ id, status: 'off', tags: ['cohort'] });
    sim.addDroplet({ id: 4, status: 'off', tags: ['other'] });
  });
  afterEach(() => sim.close());

  it('seeding creates the tags; tags are case stable; 204s carry no body; delete untags', async () => {
    expect((await call(sim, '/v2/tags/cohort')).body.tag).toMatchObject({
      name: 'cohort',
      resources: { count: 3, droplets: { count: 3 } },
    });
    const created = await call(sim, '/v2/tags', { method: 'POST', body: { name: 'PROD' } });
    expect(created.status).toBe(201);
    expect(created.body.tag).toMatchObject({ name: 'PROD', resources: { count: 0, droplets: { count: 0 } } });
    const again = await call(sim, '/v2/tags', { method: 'POST', body: { name: 'prod' } });
    expect(again).toMatchObject({ status: 201, body: { tag: { name: 'PROD' } } });
    expect((await call(sim, '/v2/tags/prod')).status).toBe(404); // URLs use the canonical name
    const tagged = await call(sim, '/v2/tags/PROD/resources', {
      method: 'POST',
      body: { resources: [{ resource_id: '4', resource_type: 'droplet' }] },
    });
    expect(tagged).toMatchObject({ status: 204, body: undefined });
    expect(tagged.headers.get('ratelimit-remaining')).toMatch(/^\d+$/);
    expect(sim.getDroplet(4)?.tags).toEqual(['other', 'PROD']);
    expect(
      (
        await call(sim, '/v2/tags/PROD/resources', {
          method: 'POST',
          body: { resources: [{ resource_id: '99', resource_type: 'droplet' }] },
        })
      ).status,
    ).toBe(404);
    expect((await call(sim, '/v2/tags/PROD', { method: 'DELETE' })).status).toBe(204);
    expect(sim.getDroplet(4)?.tags).toEqual(['other']);
    expect((await call(sim, '/v2/tags/PROD', { method: 'DELETE' })).status).toBe(404);
    const bad = await call(sim, '/v2/tags', { method: 'POST', body: { name: 'a b' } });
    expect(bad).toMatchObject({
      status: 400,
      body: { error: expect.any(String), root_causes: [expect.any(String)] },
    });
  });

  it('a bulk action gives one action per tagged droplet, each with its own timing and faults', async () => {
    sim.setFault({ kind: 'actionErrored', dropletId: 2 });
    const bulk = await call(sim, '/v2/droplets/actions?tag_name=cohort', {
      method: 'POST',
      body: { type: 'power_on' },
    });
    expect(bulk.status).toBe(201);
    expect(bulk.body.actions.map((a: { resource_id: number }) => a.resource_id)).toEqual([1, 2, 3]);
    expect(delays).toEqual([
      ['power_on', 1],
      ['power_on', 2],
      ['power_on', 3],
    ]);
    await until(() => sim.getDroplet(1)?.status === 'active');
    expect(sim.getDroplet(3)?.status).toBe('off'); // 400 ms, not 40
    await until(() => sim.getDroplet(3)?.status === 'active');
    expect(sim.getDroplet(2)?.status).toBe('off');
    expect(sim.getDroplet(4)?.status).toBe('off'); // not tagged
    const list = await call(sim, '/v2/actions?per_page=2');
    expect(list.body.meta.total).toBe(3);
    expect(list.body.actions.map((a: { resource_id: number }) => a.resource_id)).toEqual([3, 2]); // newest first
    expect(list.body.actions[1].status).toBe('errored');
    expect(new URL(list.body.links.pages.next as string).searchParams.get('page')).toBe('2');
    const page2 = await call(sim, '/v2/actions?per_page=2&page=2');
    expect(page2.body.actions.map((a: { resource_id: number }) => a.resource_id)).toEqual([1]);
    expect(page2.body.links.pages.next).toBeUndefined();
  });

  it('bulk: a droplet a single action would refuse gets an errored action at once; a pending one too', async () => {
    await call(sim, '/v2/droplets/1/actions', { method: 'POST', body: { type: 'power_on' } }); // 1 pending
    sim.setDropletStatus(2, 'active');
    const bulk = await call(sim, '/v2/droplets/actions?tag_name=cohort', {
      method: 'POST',
      body: { type: 'power_on' },
    });
    expect(bulk.body.actions.map((a: { status: string }) => a.status)).toEqual([
      'errored',
      'errored',
      'in-progress',
    ]);
    expect(sim.stats().actionsCreated).toBe(4);
    expect(sim.actionCount(2, 'power_on')).toBe(1);
    await until(() => sim.getDroplet(3)?.status === 'active');
    expect(sim.getDroplet(2)?.status).toBe('active');
  });

  it('bulk: only the by-tag power types; tag_name required; a tagged droplet’s slow fault slows the request', async () => {
    const post = (q: string, type: string) =>
      call(sim, `/v2/droplets/actions${q}`, { method: 'POST', body: { type } });
    expect((await post('?tag_name=cohort', 'reboot')).status).toBe(422);
    expect((await post('', 'power_on')).status).toBe(422);
    expect(sim.stats().actionsCreated).toBe(0);
    sim.setFault({ kind: 'slow', delayMs: 150, dropletId: 3, times: 1 });
    const t0 = Date.now();
    await post('?tag_name=other', 'power_on'); // droplet 4 only
    expect(Date.now() - t0).toBeLessThan(140);
    await post('?tag_name=cohort', 'power_on');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });
});

describe('DigitalOcean simulator accounts', () => {
  it('tokens are the default account; tokenAccounts add others; each sees only its own; the log names the account', async () => {
    const sim = await createDigitalOceanSimulator({
      tokenAccounts: { 'tok-b': 'team_b' },
      actionDelayMs: 20,
    });
    try {
      sim.addDroplet({ id: 1, tags: ['t'] });
      sim.addDroplet({ id: 2, tags: ['t'], account: 'team_b' });
      expect(() => sim.addDroplet({ id: 3, account: 'team_c' })).toThrow(/no token/);
      expect(sim.accounts().sort()).toEqual(['default', 'team_b']);
      const b = { authorization: 'Bearer tok-b' };
      expect((await call(sim, '/v2/droplets/1')).status).toBe(200); // DEFAULT_SIMULATOR_TOKEN still works
      expect((await call(sim, '/v2/droplets/1', { headers: b })).status).toBe(404);
      expect((await call(sim, '/v2/droplets/2')).status).toBe(404);
      expect((await call(sim, '/v2/droplets?tag_name=t', { headers: b })).body.droplets).toEqual([
        expect.objectContaining({ id: 2 }),
      ]);
      const bulk = await call(sim, '/v2/droplets/actions?tag_name=t', {
        method: 'POST',
        body: { type: 'power_off' },
        headers: b,
      });
      expect(bulk.body.actions.map((a: { resource_id: number }) => a.resource_id)).toEqual([2]);
      expect((await call(sim, `/v2/actions/${bulk.body.actions[0].id}`)).status).toBe(404);
      expect((await call(sim, '/v2/actions')).body.meta.total).toBe(0);
      expect((await call(sim, '/v2/actions', { headers: b })).body.meta.total).toBe(1);
      expect(sim.getDroplet(2)?.account).toBe('team_b');
      expect(sim.requestLog().map((e) => e.account)).toEqual([
        'default',
        'team_b',
        'default',
        'team_b',
        'team_b',
        'default',
        'default',
        'team_b',
      ]);
    } finally {
      await sim.close();
    }
  });
});
