/**
 * Contract: the DigitalOcean simulator and the client both keep to the OFFICIAL spec
 * (specs/digitalocean-v2-subset.yaml). Every exchange the client makes with the simulator is
 * recorded; each request must name a documented path, method and query parameter (and a POST body
 * must validate against the operation's requestBody schema), and each response must validate
 * against the schema the spec documents for its status (or `default`) and carry the documented
 * rate-limit headers. Then the client's behaviour against the simulator: pagination, actions,
 * 404/422 not retried, 5xx retried, 429 Retry-After honoured. Needs Redis (the real budget).
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
import { createDigitalOceanSimulator, type DigitalOceanSimulator } from '../../src/simulator/digitalocean';
import { createTestRedis, type TestRedis } from '../helpers/redis';

/* ------------------------------------------------------------------ the spec, as JSON Schema */

type Json = Record<string, unknown>;
const spec = parse(
  readFileSync(join(__dirname, '..', '..', 'specs', 'digitalocean-v2-subset.yaml'), 'utf8'),
) as {
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Json; responses: Record<string, Json> };
};

/** OpenAPI 3.0 `nullable: true` -> JSON Schema's null type (ajv does not read `nullable`). */
function convert(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convert);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) out[k] = convert(v);
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

const ajv = new Ajv({ strict: false, allErrors: true });
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
  if (x.requestBody !== undefined) {
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
  for (const header of Object.keys((response.headers as Json | undefined) ?? {})) {
    if (header === 'content-type') continue;
    const value = x.headers.get(header);
    if (value === null || !/^\d+$/.test(value))
      problems.push(`${where}: header ${header} missing or not an integer (${value})`);
  }
  const name = ref.split('/').pop() as string;
  if (((doc.components as Json).responses as Json)[name]) {
    const v = validator(`/components/responses/${name}`);
    if (!v(x.body)) problems.push(`${where}: body vs ${name}: ${ajv.errorsText(v.errors)}`);
  }
  return problems;
}

/* ------------------------------------------------------------------ fixtures */

const TOKEN = 'dop_v1_contract_test_token';
let tr: TestRedis;
let sim: DigitalOceanSimulator;
const exchanges: Exchange[] = [];
const infos: ResponseInfo[] = [];

async function recordingFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const res = await fetch(input, init);
  const text = await res.clone().text();
  exchanges.push({
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
  sim = await createDigitalOceanSimulator({ tokens: [TOKEN], actionDelayMs: 150 });
  for (let id = 1; id <= 450; id++)
    sim.addDroplet({ id, tags: id <= 420 ? ['genesis'] : ['other'], status: id % 3 ? 'active' : 'off' });
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
    ]) {
      expect(seen).toContain(must);
    }
    const problems = exchanges.flatMap(contractProblems);
    expect(problems).toEqual([]);
    console.log(`[do-contract] ${exchanges.length} exchanges validated: ${[...seen].sort().join(', ')}`);
  });

  it('error bodies carry id, message and request_id', () => {
    for (const x of exchanges.filter((e) => e.status >= 400)) {
      expect(x.body).toEqual({
        id: expect.any(String),
        message: expect.any(String),
        request_id: expect.any(String),
      });
    }
  });
});
