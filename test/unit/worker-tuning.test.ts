/** The worker's memory bounds from the environment (issue 19: a lean control plane). */
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, loadConfig } from '../../src/config';

const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const base = {
  DATABASE_URL: 'postgres://u@127.0.0.1:5432/db',
  REDIS_URL: 'redis://127.0.0.1:6379',
  DIGITALOCEAN_API_TOKEN: 'do-token',
  SIDECAR_JWT_PRIVATE_KEY: pem,
  SIDECAR_HANDSHAKE_SECRET: 'a-handshake-secret-of-length',
};

describe('WORKER_MAX_CACHED_WORKFLOWS', () => {
  it('bounds the sticky workflow cache at 100 unless set; 0 turns the cache off', () => {
    expect(loadConfig('all', base).worker.maxCachedWorkflows).toBe(100);
    expect(
      loadConfig('worker', { ...base, WORKER_MAX_CACHED_WORKFLOWS: '0' }).worker.maxCachedWorkflows,
    ).toBe(0);
    expect(
      loadConfig('worker', { ...base, WORKER_MAX_CACHED_WORKFLOWS: '50' }).worker.maxCachedWorkflows,
    ).toBe(50);
  });

  it('refuses a negative or non-numeric size, naming the variable', () => {
    for (const v of ['-1', 'lots']) {
      try {
        loadConfig('worker', { ...base, WORKER_MAX_CACHED_WORKFLOWS: v });
        throw new Error('expected a ConfigError');
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).problems.map((p) => p.variable)).toEqual(['WORKER_MAX_CACHED_WORKFLOWS']);
      }
    }
  });
});
