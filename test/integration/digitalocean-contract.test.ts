/**
 * Contract: the DigitalOcean simulator and the client both keep to the OFFICIAL spec
 * (specs/digitalocean-v2-subset.yaml). Every exchange the client makes with the simulator is
 * recorded; each request must name a documented path, method and query parameter (and a POST body
 * must validate against the operation's requestBody schema), and each response must validate
 * against the schema the spec documents for its status (or `default`) and carry the documented
 * rate-limit headers. Then the client's behaviour against the simulator: pagination, actions,
 * 404/422 not retried, 5xx retried, 429 Retry-After honoured; tags (lifecycle), bulk power actions
 * by tag, findActions over pages of GET /v2/actions, and accounts (a token sees only its own
 * account; one token's 429s do not touch another's). Needs Redis (the real budget).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import pino from 'pino';
import { parse } from 'yaml';
import { DigitalOceanBudget } from '../../src/digitalocean/budget';
import {
  DigitalOceanClient,
  BULK_POWER_ACTION_TYPES,
  goalHolds,
  POWER_ACTION_TYPES,
  type ResponseInfo,
} from '../../src/digitalocean/client';
import {
  DigitalOceanActionFailedError,
  DigitalOceanNotFoundError,
  DigitalOceanRequestError,
  DigitalOceanUnauthorizedError,
} from '../../src/digitalocean/errors';
import type { Action } from '../../src/digitalocean/client';
import { createDigitalOceanSimulator, type DigitalOceanSimulator } from '../../src/simulator/digitalocean';
import { createTestRedis, type TestRedis } from '../helpers/redis';

/* ------------------------------------------------------------------ the spec, as JSON Schema */

type Json = Record<string, unknown>;
const spec = parse(
  readFileSync(join(__dirname, '..', '..', 'specs', 'digitalocean-v2-subset.yaml'), 'utf8'),
) as {
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Json; responses: Record<string, Json>; headers: Record<string, Json> };
};

/**
 * OpenAPI 3.0 -> JSON Schema: `nullable: true` -> the null type (ajv does not read `nullable`); a
 * `discriminator` with a `mapping` over oneOf/anyOf -> the schema its property's value maps to
 * (what OpenAPI means; a plain oneOf fails when, as for the by-tag action body, one alternative
 * extends another).
 */
function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) out[k] = convert(v);
  const disc = out.discriminator as { propertyName: string; mapping?: Record<string, string> } | undefined;
  if (disc?.mapping && (out.oneOf || out.anyOf)) {
    const { propertyName: prop, mapping } = disc;
    delete out.oneOf;
    delete out.anyOf;
    delete out.discriminator;
    out.required = [prop];
    out.properties = { [prop]: { enum: Object.keys(mapping) } };
    out.allOf = Object.entries(mapping).map(([value, $ref]) => ({
      if: { properties: { [prop]: { const: value } } },
      then: { $ref },
    }));
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    else if (out.type === undefined) return { anyOf: [out, { type: 'null' }] };
  }
  return out;
}

const resolve = (ref: string): Json =>
  ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<Json>((node, part) => node[part] as Json, spec as unknown as Json);

const deref = (node: Json): Json => (typeof node.$ref === 'string' ? resolve(node.$ref) : node);

/** Everything in one ajv document so the spec's own "#/components/schemas/..." refs resolve. */
const doc: Json = {
  $id: 'do',
  components: { schemas: convert(spec.components.schemas), responses: {}, requests: {} },
};
for (const [name, response] of Object.entries(spec.components.responses)) {
  const schema = ((response.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema;
  if (schema) ((doc.components as Json).responses as Json)[name] = convert(schema);
}
for (const [path, item] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(item)) {
    const schema = (
      ((op.requestBody as Json | undefined)?.content as Json | undefined)?.['application/json'] as
        Json | undefined
    )?.schema;
    if (schema)
      ((doc.components as Json).requests as Json)[`${method} ${path}`.replace(/[/{}~]/g, '_')] =
        convert(schema);
  }
}

// unicodeRegExp off: the spec's tag name pattern ^[a-zA-Z0-9_\-\:]+$ escapes ':', which a 'u' RegExp refuses
const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
addFormats(ajv);
for (const f of ['float', 'double', 'int32', 'int64']) ajv.addFormat(f, true);
ajv.addSchema(doc);

function validator(pointer: string): ValidateFunction {
  const v = ajv.getSchema(`do#${pointer}`);
  if (!v) throw new Error(`no schema at ${pointer}`);
  return v;
}

/** The spec's path template for a concrete path (literal segments win over parameters). */
function templateOf(path: string): string | undefined {
  const candidates = Object.keys(spec.paths).filter((t) =>
    new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path),
  );
  return candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))[0];
}

interface Exchange {
  /** A request the test sends malformed on purpose: only its response is checked. */
  invalidRequest?: boolean;
  method: string;
  url: string;
  requestBody?: unknown;
  status: number;
  headers: Headers;
  body: unknown;
}

/** Checks one exchange against the spec; answers a list of problems (empty = conforms). */
function contractProblems(x: Exchange): string[] {
  const problems: string[] = [];
  const u = new URL(x.url);
  const template = templateOf(u.pathname);
  const where = `${x.method} ${u.pathname} -> ${x.status}`;
  if (!template) return [`${where}: path not in the spec`];
  const op = spec.paths[template][x.method.toLowerCase()];
  if (!op) return [`${where}: method not in the spec for ${template}`];

  const params = ((op.parameters as Json[] | undefined) ?? []).map(deref);
  for (const name of u.searchParams.keys()) {
    if (!params.some((p) => p.in === 'query' && p.name === name))
      problems.push(`${where}: undocumented query parameter ${name}`);
  }
  if (x.requestBody !== undefined && !x.invalidRequest) {
    const v = validator(
      `/components/requests/${`${x.method.toLowerCase()} ${template}`.replace(/[/{}~]/g, '_')}`,
    );
    if (!v(x.requestBody)) problems.push(`${where}: request body ${ajv.errorsText(v.errors)}`);
  }

  const responses = op.responses as Record<string, Json>;
  const documented = responses[String(x.status)] ?? responses.default;
  if (!documented) return [...problems, `${where}: status not documented`];
  const ref = documented.$ref as string;
  const response = deref(documented);
  for (const [header, h] of Object.entries((response.headers as Record<string, Json> | undefined) ?? {})) {
    if (header === 'content-type') continue;
    const value = x.headers.get(header);
    const schema = deref(h).schema as Json;
    const ok =
      value !== null &&
      (schema.type === 'integer'
        ? /^\d+$/.test(value)
        : schema.format === 'uuid'
          ? /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
          : true);
    if (!ok) problems.push(`${where}: header ${header} missing or not a ${String(schema.type)} (${value})`);
  }
  const name = ref.split('/').pop() as string;
  if (((doc.components as Json).responses as Json)[name]) {
    const v = validator(`/components/responses/${name}`);
    if (!v(x.body)) problems.push(`${where}: body vs ${name}: ${ajv.errorsText(v.errors)}`);
  } else if (!response.content && x.body !== undefined) {
    problems.push(`${where}: ${name} documents no content, got a body`);
  }
  return problems;
}

/* ------------------------------------------------------------------ fixtures */

const TOKEN = 'dop_v1_contract_test_token';
/** A second account's token: its droplets are 1001-1450, tagged `b-all`. */
const TOKEN_B = 'dop_v1_contract_test_token_team_b';
let tr: TestRedis;
let sim: DigitalOceanSimulator;
const exchanges: Exchange[] = [];
const infos: ResponseInfo[] = [];

async function recordingFetch(
  input: string | URL | Request,
  init?: RequestInit,
  invalidRequest = false,
): Promise<Response> {
  const res = await fetch(input, init);
  const text = await res.clone().text();
  exchanges.push({
    invalidRequest,
    method: init?.method ?? 'GET',
    url: String(input),
    requestBody: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as unknown) : undefined,
  });
  return res;
}

function makeClient(token = TOKEN) {
  const budget = new DigitalOceanBudget({
    redis: tr.redis,
    keyPrefix: tr.prefix,
    token,
    perMinute: 100_000,
    perHour: 1_000_000,
  });
  return new DigitalOceanClient({
    baseUrl: sim.url,
    token,
    budget,
    logger: pino({ level: 'silent' }),
    fetch: recordingFetch as typeof fetch,
    userAgent: 'genesis-control-plane/contract-test',
    baseBackoffMs: 20,
    requestTimeoutMs: 5_000,
    onResponse: (i) => infos.push(i),
  });
}

const attemptsSince = (mark: number) => infos.slice(mark).length;

beforeAll(async () => {
  tr = await createTestRedis();
  sim = await createDigitalOceanSimulator({
    tokens: [TOKEN],
    tokenAccounts: { [TOKEN_B]: 'team_b' },
    actionDelayMs: 150,
  });
  for (let id = 1; id <= 450; id++)
    sim.addDroplet({ id, tags: id <= 420 ? ['genesis'] : ['other'], status: id % 3 ? 'active' : 'off' });
  for (let id = 1001; id <= 1450; id++) sim.addDroplet({ id, account: 'team_b', tags: ['b-all'] });
});
afterAll(async () => {
  await sim.close();
  await tr.cleanup();
});

/* ------------------------------------------------------------------ tests */

describe('the spec validators are not vacuous', () => {
  it('reject a droplet without status, a bad action status and a bad action type', () => {
    const droplet = validator('/components/responses/existing_droplet');
    expect(droplet({ droplet: { id: 1, name: 'x' } })).toBe(false);
    const action = validator('/components/responses/action');
    expect(action({ action: { id: 1, status: 'done' } })).toBe(false);
    expect(action({ action: { id: 1, status: 'completed', completed_at: null, resource_id: null } })).toBe(
      true,
    );
    const body = validator(
      `/components/requests/${'post /v2/droplets/{droplet_id}/actions'.replace(/[/{}~]/g, '_')}`,
    );
    for (const type of POWER_ACTION_TYPES) expect(body({ type })).toBe(true);
    expect(body({ type: 'explode' })).toBe(false);
    const bulkBody = validator(`/components/requests/${'post /v2/droplets/actions'.replace(/[/{}~]/g, '_')}`);
    for (const type of BULK_POWER_ACTION_TYPES) expect(bulkBody({ type })).toBe(true);
    expect(bulkBody({ type: 'reboot' })).toBe(false); // not a by-tag action
    const tagBody = validator(`/components/requests/${'post /v2/tags'.replace(/[/{}~]/g, '_')}`);
    expect(tagBody({ name: 'cohort:wake-1_a' })).toBe(true);
    expect(tagBody({ name: 'no spaces' })).toBe(false);
    const resources = validator(
      `/components/requests/${'post /v2/tags/{tag_id}/resources'.replace(/[/{}~]/g, '_')}`,
    );
    expect(resources({ resources: [{ resource_id: '1', resource_type: 'droplet' }] })).toBe(true);
    expect(resources({ resources: [{ resource_id: '1', resource_type: 'server' }] })).toBe(false);
    expect(
      contractProblems({
        method: 'DELETE',
        url: `${sim.url}/v2/actions/1`,
        status: 200,
        headers: new Headers(),
        body: {},
      }),
    ).toEqual([expect.stringContaining('method not in the spec')]);
  });
});

describe('DigitalOcean client against the simulator', () => {
  const client = () => makeClient();

  it('lists droplets by tag across pages (per_page 200)', async () => {
    const mark = infos.length;
    const droplets = await client().listDropletsByTag('genesis');
    expect(droplets).toHaveLength(420);
    expect(new Set(droplets.map((d) => d.id)).size).toBe(420);
    expect(droplets.every((d) => d.tags.includes('genesis'))).toBe(true);
    expect(attemptsSince(mark)).toBe(3);
  });

  it('power-cycles a droplet and waits for the action to complete', async () => {
    const c = client();
    const action = await c.dropletAction(1, 'power_cycle');
    expect(action).toMatchObject({ status: 'in-progress', type: 'power_cycle', resource_id: 1 });
    const done = await c.waitForAction(action.id as number, {
      pollIntervalMs: 40,
      maxPollIntervalMs: 80,
      timeoutMs: 5_000,
    });
    expect(done.status).toBe('completed');
    expect((await c.getDroplet(1)).status).toBe('active');
    expect(sim.actionCount(1, 'power_cycle')).toBe(1);
  });

  it('waitForAction throws ActionFailed when the action ends errored', async () => {
    sim.setFault({ kind: 'actionErrored', dropletId: 3 });
    const c = client();
    const action = await c.dropletAction(3, 'power_on');
    await expect(
      c.waitForAction(action.id as number, { pollIntervalMs: 40, timeoutMs: 5_000 }),
    ).rejects.toBeInstanceOf(DigitalOceanActionFailedError);
    expect(sim.getDroplet(3)?.status).toBe('off');
  });

  it('404 -> NotFound, not retried', async () => {
    const mark = infos.length;
    await expect(client().getDroplet(99_999)).rejects.toBeInstanceOf(DigitalOceanNotFoundError);
    expect(attemptsSince(mark)).toBe(1);
  });

  it('422 (wrong state) -> RequestError with DigitalOcean’s message, not retried', async () => {
    const mark = infos.length;
    const err = await client()
      .dropletAction(2, 'power_on')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigitalOceanRequestError);
    expect((err as Error).message).toContain('422 unprocessable_entity: Droplet is already powered on.');
    // DigitalOcean's "already powered on/off" is typed: a power action whose goal holds is done
    expect(err).toMatchObject({ state: 'active' });
    expect(goalHolds('power_on', err)).toBe(true);
    const off = await client()
      .dropletAction(3, 'shutdown') // droplet 3 is off
      .catch((e: unknown) => e);
    expect((off as Error).message).toContain('422 unprocessable_entity: Droplet is already powered off.');
    expect(goalHolds('shutdown', off)).toBe(true);
    expect(attemptsSince(mark)).toBe(2);
  });

  it('401 -> Unauthorized, not retried', async () => {
    const mark = infos.length;
    await expect(makeClient('dop_v1_wrong').getDroplet(1)).rejects.toBeInstanceOf(
      DigitalOceanUnauthorizedError,
    );
    expect(attemptsSince(mark)).toBe(1);
  });

  it("5xx fails fast with a retryable error (one request each); the caller's retry succeeds", async () => {
    sim.setFault({ kind: 'serverError', times: 2, dropletId: 5, status: 503 });
    const mark = infos.length;
    for (let i = 0; i < 2; i++)
      await expect(client().getDroplet(5)).rejects.toMatchObject({ status: 503, retryable: true });
    await expect(client().getDroplet(5)).resolves.toMatchObject({ id: 5 });
    expect(infos.slice(mark).map((i) => i.status)).toEqual([503, 503, 200]);
  });

  it('429 with Retry-After is honoured: the retry waits at least that long', async () => {
    sim.setFault({ kind: 'rateLimited', times: 1, retryAfterSec: 1 });
    const mark = infos.length;
    const t0 = Date.now();
    await expect(client().getDroplet(6)).resolves.toMatchObject({ id: 6 });
    const elapsed = Date.now() - t0;
    expect(infos.slice(mark).map((i) => i.status)).toEqual([429, 200]);
    const arrivals = sim
      .requestLog()
      .filter((e) => e.path === '/v2/droplets/6')
      .slice(-2);
    expect(arrivals.map((e) => e.status)).toEqual([429, 200]);
    expect(arrivals[1].at - arrivals[0].at).toBeGreaterThanOrEqual(1_000);
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
  });
});

/** Polls the simulator (no API request) until `check` holds. */
async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const authOf = (token: string) => ({ authorization: `Bearer ${token}` });

describe('tags and bulk actions', () => {
  it('tag lifecycle: create (twice), tag, list, untag, delete (twice), each one request', async () => {
    const c = makeClient();
    const mark = infos.length;
    await c.createTag('cohort:t1');
    await c.createTag('cohort:t1'); // an existing tag is success
    await c.tagDroplets('cohort:t1', [10, 11, 12]);
    expect(sim.getTag('cohort:t1')?.dropletIds).toEqual([10, 11, 12]);
    const got = await recordingFetch(`${sim.url}/v2/tags/cohort:t1`, { headers: authOf(TOKEN) });
    expect(((await got.json()) as { tag: unknown }).tag).toMatchObject({
      name: 'cohort:t1',
      resources: { count: 3, droplets: { count: 3, last_tagged_uri: `${sim.url}/v2/droplets/12` } },
    });
    expect((await c.listDropletsByTag('cohort:t1')).map((d) => d.id)).toEqual([10, 11, 12]);
    await c.untagDroplets('cohort:t1', [11]);
    expect(sim.getTag('cohort:t1')?.dropletIds).toEqual([10, 12]);
    expect(sim.getDroplet(11)?.tags).toEqual(['genesis']);
    await c.deleteTag('cohort:t1');
    expect(sim.getTag('cohort:t1')).toBeUndefined();
    expect(sim.getDroplet(10)?.tags).toEqual(['genesis']);
    await c.deleteTag('cohort:t1'); // 404: already gone = success
    expect(infos.slice(mark).map((i) => `${i.method} ${i.path} ${i.status}`)).toEqual([
      'POST /v2/tags 201',
      'POST /v2/tags 201',
      'POST /v2/tags/{tag_id}/resources 204',
      'GET /v2/droplets 200',
      'DELETE /v2/tags/{tag_id}/resources 204',
      'DELETE /v2/tags/{tag_id} 204',
      'DELETE /v2/tags/{tag_id} 404',
    ]);
    // a tag that is gone: GET 404, tagging 404 (not retried)
    await recordingFetch(`${sim.url}/v2/tags/cohort:t1`, { headers: authOf(TOKEN) });
    await expect(c.tagDroplets('cohort:t1', [10])).rejects.toBeInstanceOf(DigitalOceanNotFoundError);
  });

  it('tag names are checked against the spec before any request; the simulator answers a bad one 400', async () => {
    const c = makeClient();
    const mark = infos.length;
    for (const bad of ['', 'has space', 'slash/no', 'x'.repeat(256), 'здорово'])
      await expect(c.createTag(bad)).rejects.toBeInstanceOf(TypeError);
    await expect(c.bulkDropletAction('a b', 'power_on')).rejects.toBeInstanceOf(TypeError);
    await expect(c.tagDroplets('ok', [0])).rejects.toBeInstanceOf(TypeError);
    expect(attemptsSince(mark)).toBe(0);
    await expect(c.createTag('x'.repeat(255))).resolves.toBeUndefined();
    const res = await recordingFetch(
      `${sim.url}/v2/tags`,
      {
        method: 'POST',
        headers: { ...authOf(TOKEN), 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'no spaces allowed' }),
      },
      true,
    );
    expect(res.status).toBe(400);
  });

  it('a bulk power_on on a tag of N droplets gives N actions, and the droplets boot', async () => {
    const ids = [30, 33, 36, 39, 42]; // all off (id % 3 === 0)
    const c = makeClient();
    await c.createTag('cohort:wake');
    await c.tagDroplets('cohort:wake', ids);
    const mark = infos.length;
    const actions = await c.bulkDropletAction('cohort:wake', 'power_on');
    expect(attemptsSince(mark)).toBe(1);
    expect(actions.map((a) => a.resource_id).sort((a, b) => Number(a) - Number(b))).toEqual(ids);
    expect(actions.every((a) => a.type === 'power_on' && a.status === 'in-progress')).toBe(true);
    await until(() => ids.every((id) => sim.getDroplet(id)?.status === 'active'));
    for (const id of ids) expect(sim.actionCount(id, 'power_on')).toBe(1);
    const done = await c.findActions(actions.map((a) => a.id as number));
    expect([...done.values()].map((a) => a.status)).toEqual(ids.map(() => 'completed'));
  });

  it('a bulk action with one neverBoots droplet: every action completes, that droplet stays off', async () => {
    const ids = [45, 48, 51];
    sim.setFault({ kind: 'neverBoots', dropletId: 48 });
    const c = makeClient();
    await c.createTag('cohort:stuck');
    await c.tagDroplets('cohort:stuck', ids);
    const actions = await c.bulkDropletAction('cohort:stuck', 'power_on');
    expect(actions).toHaveLength(3);
    await until(() => sim.getDroplet(45)?.status === 'active' && sim.getDroplet(51)?.status === 'active');
    const byDroplet = new Map(actions.map((a) => [a.resource_id, a.id as number]));
    const done = await c.findActions([...byDroplet.values()]);
    await until(() => sim.getDroplet(48)?.pendingActionId === undefined);
    expect((await c.getAction(byDroplet.get(48) as number)).status).toBe('completed');
    expect(done.size).toBe(3);
    expect(sim.getDroplet(48)?.status).toBe('off'); // the action's answer is no proof: the agent is
    sim.clearFaults(48);
  });

  it('a droplet already in the goal state gets an action that ends errored at once (no power change)', async () => {
    const c = makeClient();
    await c.createTag('cohort:mixed');
    await c.tagDroplets('cohort:mixed', [54, 55]); // 54 off, 55 active
    const actions = await c.bulkDropletAction('cohort:mixed', 'power_on');
    const on55 = actions.find((a) => a.resource_id === 55);
    expect(on55).toMatchObject({ status: 'errored', type: 'power_on' });
    expect(on55?.completed_at).toBe(on55?.started_at);
    expect(actions.find((a) => a.resource_id === 54)).toMatchObject({ status: 'in-progress' });
    await until(() => sim.getDroplet(54)?.status === 'active');
    expect(sim.getDroplet(55)?.status).toBe('active');
  });

  it('a bulk action on a tag without droplets starts nothing; 5xx on a tagged droplet fails it fast', async () => {
    const c = makeClient();
    await expect(c.bulkDropletAction('cohort:nobody', 'power_off')).resolves.toEqual([]);
    await c.createTag('cohort:broken');
    await c.tagDroplets('cohort:broken', [57]);
    sim.setFault({ kind: 'serverError', times: 1, dropletId: 57 });
    await expect(c.bulkDropletAction('cohort:broken', 'shutdown')).rejects.toMatchObject({
      status: 500,
      retryable: true,
      mayHaveReachedServer: true,
    });
    expect(sim.actionCount(57, 'shutdown')).toBe(0);
  });
});

describe('findActions and accounts', () => {
  const b = () => makeClient(TOKEN_B);
  let bulk: Action[] = [];

  beforeAll(async () => {
    bulk = await b().bulkDropletAction('b-all', 'power_cycle'); // 450 actions in team_b, one request
  });

  it('finds actions over several pages of GET /v2/actions (newest first), one request a page', async () => {
    expect(bulk).toHaveLength(450);
    const ids = bulk.map((a) => a.id as number);
    let mark = infos.length;
    const found = await b().findActions([ids[0], ids[225], ids[449]]);
    expect([...found.keys()].sort()).toEqual([ids[0], ids[225], ids[449]].sort());
    expect(found.get(ids[0])).toMatchObject({ resource_id: 1001, type: 'power_cycle' });
    // the oldest of 450 is on page 3 of 200
    expect(infos.slice(mark).map((i) => `${i.method} ${i.path}`)).toEqual(Array(3).fill('GET /v2/actions'));
    mark = infos.length;
    expect((await b().findActions([ids[449]])).size).toBe(1); // the newest: page 1 only
    expect(attemptsSince(mark)).toBe(1);
    mark = infos.length;
    const capped = await b().findActions([ids[0], ids[449]], { maxPages: 2 });
    expect([...capped.keys()]).toEqual([ids[449]]);
    expect(attemptsSince(mark)).toBe(2);
    mark = infos.length;
    // newer than every action: page 1 is already past it
    expect((await b().findActions([ids[449] + 1_000])).size).toBe(0);
    expect(attemptsSince(mark)).toBe(1);
  });

  it("a token sees and acts only on its own account's droplets, tags and actions", async () => {
    const a = makeClient();
    const mark = infos.length;
    await expect(a.getDroplet(1001)).rejects.toBeInstanceOf(DigitalOceanNotFoundError);
    await expect(a.dropletAction(1001, 'power_off')).rejects.toBeInstanceOf(DigitalOceanNotFoundError);
    await expect(a.getAction(bulk[0].id as number)).rejects.toBeInstanceOf(DigitalOceanNotFoundError);
    expect((await a.findActions([bulk[0].id as number, bulk[449].id as number])).size).toBe(0);
    expect(await a.listDropletsByTag('b-all')).toEqual([]);
    await expect(a.bulkDropletAction('b-all', 'power_off')).resolves.toEqual([]);
    // A's own tag of that name exists in A only; tagging B's droplet with it is 404
    await a.createTag('b-all');
    await expect(a.tagDroplets('b-all', [1001])).rejects.toBeInstanceOf(DigitalOceanNotFoundError);
    await a.deleteTag('b-all');
    await a.deleteTag('b-all'); // 404 in A: B's tag is not touched
    expect(sim.getTag('b-all', 'team_b')?.dropletIds).toHaveLength(450);
    expect(sim.getTag('b-all')).toBeUndefined();
    // and B does not see A's droplets
    await expect(b().getDroplet(1)).rejects.toBeInstanceOf(DigitalOceanNotFoundError);
    expect(infos.slice(mark).every((i) => i.attempt === 0)).toBe(true);
    for (const id of [1001, 1002, 1450]) expect(sim.actionCount(id, 'power_off')).toBe(0);
    const log = sim.requestLog();
    expect(log.filter((e) => e.path === '/v2/droplets/1001').map((e) => e.account)).toContain('default');
    expect(log.some((e) => e.account === 'team_b' && e.path === '/v2/droplets/actions')).toBe(true);
  });

  it("429s of one token's limiter (and a rate-limit fault for its account) do not touch another's", async () => {
    const A = 'dop_v1_limiter_a';
    const B = 'dop_v1_limiter_b';
    const small = await createDigitalOceanSimulator({
      tokens: [A],
      tokenAccounts: { [B]: 'team_b' },
      perMinute: 5,
    });
    try {
      small.addDroplet({ id: 1 });
      small.addDroplet({ id: 2, account: 'team_b' });
      const get = (token: string, id: number) =>
        recordingFetch(`${small.url}/v2/droplets/${id}`, { headers: authOf(token) });
      const statusesA: number[] = [];
      for (let i = 0; i < 7; i++) statusesA.push((await get(A, 1)).status);
      expect(statusesA).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const resB = await get(B, 2);
      expect(resB.status).toBe(200);
      expect(resB.headers.get('ratelimit-remaining')).toBe('4999');
      small.setFault({ kind: 'rateLimited', times: 3, account: 'default' });
      expect((await get(B, 2)).status).toBe(200);
      expect(small.stats().rateLimitedResponses).toBe(2);
    } finally {
      await small.close();
    }
  });
});

describe('contract with the official spec', () => {
  it('responses the client does not call itself (account, droplet action by droplet, action list) are recorded too', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const action = await makeClient().dropletAction(7, 'shutdown');
    for (const path of [
      '/v2/account',
      `/v2/droplets/7/actions/${action.id}`,
      '/v2/droplets/7/actions?per_page=1&page=1',
    ]) {
      await recordingFetch(sim.url + path, { headers: auth });
    }
    await recordingFetch(`${sim.url}/v2/account`, {});
  });

  it('every recorded exchange (requests and responses) conforms to the spec', () => {
    const seen = new Set(
      exchanges.map((x) => `${x.method} ${templateOf(new URL(x.url).pathname)} ${x.status}`),
    );
    // The exchanges this file must have covered:
    for (const must of [
      'GET /v2/droplets 200',
      'GET /v2/droplets/{droplet_id} 200',
      'GET /v2/droplets/{droplet_id} 404',
      'GET /v2/droplets/{droplet_id} 401',
      'GET /v2/droplets/{droplet_id} 503',
      'GET /v2/droplets/{droplet_id} 429',
      'POST /v2/droplets/{droplet_id}/actions 201',
      'POST /v2/droplets/{droplet_id}/actions 422',
      'GET /v2/actions/{action_id} 200',
      'GET /v2/droplets/{droplet_id}/actions/{action_id} 200',
      'GET /v2/droplets/{droplet_id}/actions 200',
      'GET /v2/account 200',
      'GET /v2/account 401',
      'POST /v2/tags 201',
      'POST /v2/tags 400',
      'GET /v2/tags/{tag_id} 200',
      'GET /v2/tags/{tag_id} 404',
      'DELETE /v2/tags/{tag_id} 204',
      'DELETE /v2/tags/{tag_id} 404',
      'POST /v2/tags/{tag_id}/resources 204',
      'POST /v2/tags/{tag_id}/resources 404',
      'DELETE /v2/tags/{tag_id}/resources 204',
      'POST /v2/droplets/actions 201',
      'POST /v2/droplets/actions 500',
      'GET /v2/actions 200',
      'GET /v2/actions/{action_id} 404',
    ]) {
      expect(seen).toContain(must);
    }
    const problems = exchanges.flatMap(contractProblems);
    expect(problems).toEqual([]);
    console.log(`[do-contract] ${exchanges.length} exchanges validated: ${[...seen].sort().join(', ')}`);
  });

  it('error bodies carry id, message and request_id (the tag create 400: error and root_causes)', () => {
    const isTagCreate = (x: Exchange) => x.method === 'POST' && new URL(x.url).pathname === '/v2/tags';
    for (const x of exchanges.filter((e) => e.status === 400 && isTagCreate(e))) {
      expect(x.body).toEqual({
        error: expect.any(String),
        messages: null,
        root_causes: [expect.any(String)],
      });
    }
    for (const x of exchanges.filter((e) => e.status >= 400 && !(e.status === 400 && isTagCreate(e)))) {
      expect(x.body).toEqual({
        id: expect.any(String),
        message: expect.any(String),
        request_id: expect.any(String),
      });
    }
  });
});
