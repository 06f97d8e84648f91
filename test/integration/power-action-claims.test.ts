/**
 * startPowerAction's claims and accounts against Postgres and the DigitalOcean simulator:
 *   - an attempt the budget refused before any request left releases its claim: the retry pays no
 *     lookup (an interrupted claim, by contrast, is looked up first);
 *   - every call goes to the droplet's own account's client.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPowerActivities, type StartedPowerAction } from '../../activities/power';
import { digitalOceanAccounts } from '../../src/digitalocean/accounts';
import type { RequestBudget } from '../../src/digitalocean/budget';
import { DigitalOceanClient } from '../../src/digitalocean/client';
import { DigitalOceanBudgetExhaustedError } from '../../src/digitalocean/errors';
import {
  createDigitalOceanSimulator,
  DEFAULT_SIMULATOR_TOKEN,
  type DigitalOceanSimulator,
} from '../../src/simulator/digitalocean';
import { baseActivityDeps } from '../helpers/activity-deps';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { createTestRedis, type TestRedis } from '../helpers/redis';
import { testLogger } from '../helpers/temporal';

jest.setTimeout(60_000);

const TEAM_B_TOKEN = 'dop_v1_team_b_token_for_tests';

let db: TestDatabase;
let r: TestRedis;
let sim: DigitalOceanSimulator;
/** the next acquire() calls that refuse (the budget is exhausted) */
let refusals = 0;
const budget: RequestBudget = {
  acquire: async () => {
    if (refusals > 0) {
      refusals -= 1;
      throw new DigitalOceanBudgetExhaustedError(30_000, 5_000, 'window');
    }
  },
  observe: async () => undefined,
  penalize: async () => undefined,
};
const client = (token: string) =>
  new DigitalOceanClient({ baseUrl: sim.url, token, budget, logger: testLogger, userAgent: 'test' });

beforeAll(async () => {
  db = await createTestDatabase();
  r = await createTestRedis();
  sim = await createDigitalOceanSimulator({ actionDelayMs: 50, tokenAccounts: { [TEAM_B_TOKEN]: 'team_b' } });
});
afterAll(async () => {
  await sim?.close();
  await r?.cleanup();
  await db?.drop();
});

function activities() {
  const deps = baseActivityDeps(
    { pool: db.pool, redis: r.redis, logger: testLogger, heartbeatStream: {} as never },
    {
      digitaloceanAccounts: digitalOceanAccounts(
        new Map([
          ['default', client(DEFAULT_SIMULATOR_TOKEN)],
          ['team_b', client(TEAM_B_TOKEN)],
        ]),
      ),
    },
  );
  return createPowerActivities(deps);
}

const requestsOf = (id: number, since: number) =>
  sim
    .requestLog()
    .filter((e) => e.at >= since && e.path.startsWith(`/v2/droplets/${id}/`))
    .map((e) => `${e.method} ${e.path}`);

it('a budget refusal before anything was sent releases the claim: the retry sends at once, no lookup', async () => {
  const id = 51_000;
  await seedDroplet(db.pool, { id, state: 'HIBERNATED' });
  sim.addDroplet({ id, status: 'off' });
  const a = activities();
  const env = new MockActivityEnvironment();
  const input = { key: 'run-a/power_on', dropletId: id, type: 'power_on' as const };
  const since = Date.now();
  refusals = 1;
  await expect(env.run(a.startPowerAction, input)).rejects.toThrow(/budget exhausted/);
  expect((await db.pool.query('SELECT 1 FROM power_actions WHERE key = $1', [input.key])).rowCount).toBe(0);
  const started = (await env.run(a.startPowerAction, input)) as StartedPowerAction;
  expect(started.actionId).toEqual(expect.any(Number));
  expect(requestsOf(id, since)).toEqual([`POST /v2/droplets/${id}/actions`]);
});

it('an interrupted claim (a request may have left) is looked up before another action is sent', async () => {
  const id = 51_001;
  await seedDroplet(db.pool, { id, state: 'HIBERNATED' });
  sim.addDroplet({ id, status: 'off' });
  // what a worker that died mid-call leaves: the claim, no action id
  await db.pool.query(
    `INSERT INTO power_actions (key, droplet_id, type) VALUES ('run-b/power_on', $1, 'power_on')`,
    [id],
  );
  const since = Date.now();
  const started = (await new MockActivityEnvironment().run(activities().startPowerAction, {
    key: 'run-b/power_on',
    dropletId: id,
    type: 'power_on' as const,
  })) as StartedPowerAction;
  expect(started.actionId).toEqual(expect.any(Number));
  expect(requestsOf(id, since)).toEqual([
    `GET /v2/droplets/${id}/actions`,
    `POST /v2/droplets/${id}/actions`,
  ]);
});

it("every call goes to the droplet's own account", async () => {
  const id = 51_002;
  await seedDroplet(db.pool, { id, state: 'HIBERNATED', account: 'team_b' });
  sim.addDroplet({ id, status: 'off', account: 'team_b' });
  const a = activities();
  const env = new MockActivityEnvironment();
  const started = (await env.run(a.startPowerAction, {
    key: 'run-c/power_on',
    dropletId: id,
    type: 'power_on' as const,
    purpose: { operation: 'wake' as const, reason: 'user_login' as const },
  })) as StartedPowerAction;
  expect(started.actionId).toEqual(expect.any(Number));
  expect(
    await env.run(a.lookUpAction, {
      dropletId: id,
      actionId: started.actionId!,
      timeoutMs: 5_000,
      pollMs: 100,
    }),
  ).toBe('completed');
  const mine = sim
    .requestLog()
    .filter((e) => e.path.includes(String(id)) || e.path === `/v2/actions/${started.actionId}`);
  expect(mine.map((e) => [e.account, e.status])).toEqual(mine.map(() => ['team_b', expect.any(Number)]));
  expect(mine.every((e) => e.status < 300)).toBe(true);
});
