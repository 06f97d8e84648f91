/** The built CLI as operators and platforms run it: bad configuration exits 2 naming the variable. */
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';
import { runCli } from '../helpers/processes';
import { rsaTestKeys } from '../helpers/keys';

const good = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
  REDIS_URL: 'redis://127.0.0.1:6379',
  DIGITALOCEAN_API_TOKEN: 'dop_v1_secret_token_value',
  SIDECAR_JWT_PRIVATE_KEY: rsaTestKeys().privatePem,
  SIDECAR_HANDSHAKE_SECRET: 'handshake-secret-value',
};

describe('genesis-cp configuration errors', () => {
  it('exits 2 on a bad DATABASE_URL, naming it, and prints no secret', async () => {
    const run = runCli(['worker'], { ...good, DATABASE_URL: 'http://not-postgres' });
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/DATABASE_URL: must be a URL with scheme postgres or postgresql/);
    expect(run.output()).not.toContain('dop_v1_secret_token_value');
    expect(run.output()).not.toContain('BEGIN PRIVATE KEY');
  });

  it('exits 2 when the worker has no SIDECAR_JWT_PRIVATE_KEY', async () => {
    const { SIDECAR_JWT_PRIVATE_KEY: _omit, ...env } = good;
    const run = runCli(['worker'], env);
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/SIDECAR_JWT_PRIVATE_KEY: is required for the worker process/);
  });

  it('lists every bad variable in one message', async () => {
    const run = runCli(['all'], { ...good, PORT: '99999', REDIS_URL: 'nope', TEMPORAL_ADDRESS: 'x' });
    expect(await run.exited).toBe(2);
    const out = run.output();
    expect(out).toMatch(/3 problems/);
    for (const v of ['PORT', 'REDIS_URL', 'TEMPORAL_ADDRESS']) expect(out).toContain(`${v}:`);
  });

  it('exits 2 on an unknown command', async () => {
    const run = runCli(['frobnicate'], good);
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/unknown command/);
  });
});

describe('genesis-cp droplet arguments', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await seedDroplet(db.pool, { id: 7001 });
  });
  afterAll(() => db.drop());

  const env = () => ({ ...good, DATABASE_URL: db.url, TEMPORAL_ADDRESS: '127.0.0.1:1' });

  it('tokens issue: a known droplet gets a token (0), an unknown one exits 3 like every other command', async () => {
    const ok = runCli(['tokens', 'issue', '7001'], env());
    expect(await ok.exited).toBe(0);
    expect(ok.output()).toMatch(/^7001\.[A-Za-z0-9_-]{43}\n$/);
    const unknown = runCli(['tokens', 'issue', '7002'], env());
    expect(await unknown.exited).toBe(3);
    expect(unknown.output()).toMatch(/droplet 7002 is not known/);
  });

  it.each([
    [['tokens', 'issue', '12345678901234567890']],
    [['wake', '12345678901234567890']],
    [['hibernate', '99999999999999999']],
    [['reboot', '0']],
  ])('%j exits 2 with the rule, never a raw Postgres error', async (args) => {
    const run = runCli(args, env());
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/a droplet id is a positive whole number up to 9007199254740991/);
    expect(run.output()).not.toMatch(/out of range|bigint|invalid input syntax/);
  });
});
