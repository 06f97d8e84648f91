/** The built CLI as operators and platforms run it: bad configuration exits 2 naming the variable. */
import { generateKeyPairSync } from 'node:crypto';
import { runCli } from '../helpers/processes';

const key = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const good = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
  REDIS_URL: 'redis://127.0.0.1:6379',
  DIGITALOCEAN_API_TOKEN: 'dop_v1_secret_token_value',
  SIDECAR_JWT_PRIVATE_KEY: key,
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
