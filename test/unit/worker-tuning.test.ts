/** The worker's memory bounds from the environment (issue 19: a lean control plane). */
import { ConfigError, loadConfig } from '../../src/config';
import { baseConfigEnv } from '../helpers/config-env';

const base = baseConfigEnv();

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
