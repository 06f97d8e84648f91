/** The env file every process of a deployment reads before its configuration. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config';
import { EnvFileError, envFileToRead, loadEnvFile } from '../../src/env-file';
import { rsaTestKeys } from '../helpers/keys';

describe('env file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'env-file-'));
  const file = join(dir, 'dev.env');
  const pem = rsaTestKeys().privatePem;
  writeFileSync(
    file,
    [
      '# written by make dev',
      "DATABASE_URL='postgres://postgres@127.0.0.1:5432/genesis_dev'",
      "REDIS_KEY_PREFIX='genesis-dev:'",
      // make dev writes the PEM on one line with \n escapes
      `SIDECAR_JWT_PRIVATE_KEY="${pem.replace(/\n/g, '\\n')}"`,
      'export WATCHDOG_HEARTBEAT_TIMEOUT_S=60',
    ].join('\n'),
  );

  it('fills what the environment does not set, and the environment wins', () => {
    const env: NodeJS.ProcessEnv = { REDIS_KEY_PREFIX: 'mine:' };
    const r = loadEnvFile(file, env, dir);
    expect(r.file).toBe(file);
    expect(r.keptFromEnvironment).toEqual(['REDIS_KEY_PREFIX']);
    expect(r.applied.sort()).toEqual([
      'DATABASE_URL',
      'SIDECAR_JWT_PRIVATE_KEY',
      'WATCHDOG_HEARTBEAT_TIMEOUT_S',
    ]);
    expect(env.REDIS_KEY_PREFIX).toBe('mine:');
    expect(env.SIDECAR_JWT_PRIVATE_KEY).toBe(pem);
    const c = loadConfig('worker', {
      ...env,
      REDIS_URL: 'redis://127.0.0.1:6379',
      DIGITALOCEAN_API_TOKEN: 't',
    });
    expect(c.sidecar.jwtPrivateKey).toBe(pem);
    expect(c.watchdog.heartbeatTimeoutS).toBe(60);
    expect(c.redis.keyPrefix).toBe('mine:');
  });

  it('reads the flag, then GENESIS_ENV_FILE, then ./.env when present', () => {
    expect(envFileToRead(undefined, {}, dir)).toBeUndefined();
    expect(envFileToRead(undefined, { GENESIS_ENV_FILE: 'dev.env' }, dir)).toEqual({ file, explicit: true });
    expect(envFileToRead('other.env', { GENESIS_ENV_FILE: 'dev.env' }, dir)!.file).toBe(
      join(dir, 'other.env'),
    );
    writeFileSync(join(dir, '.env'), 'A=1\n');
    expect(envFileToRead(undefined, {}, dir)).toEqual({ file: join(dir, '.env'), explicit: false });
  });

  it('says so when a named file is missing', () => {
    expect(() => loadEnvFile('missing.env', {}, dir)).toThrow(EnvFileError);
    expect(() => loadEnvFile('missing.env', {}, dir)).toThrow(/missing\.env: does not exist/);
  });
});
