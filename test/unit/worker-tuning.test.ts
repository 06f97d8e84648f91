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

describe('WORKER_TASK_QUEUES and the interactive queue slots', () => {
  it('polls both queues unless set; one of them for a dedicated pool', () => {
    expect(loadConfig('all', base).worker.taskQueues).toEqual(['default', 'interactive']);
    expect(loadConfig('worker', { ...base, WORKER_TASK_QUEUES: 'interactive' }).worker.taskQueues).toEqual([
      'interactive',
    ]);
    expect(
      loadConfig('worker', { ...base, WORKER_TASK_QUEUES: ' default , default' }).worker.taskQueues,
    ).toEqual(['default']);
    expect(loadConfig('all', base).worker.interactive).toEqual({
      maxConcurrentActivities: 50,
      maxCachedWorkflows: 100,
    });
  });

  it('refuses an unknown queue, an empty list and bad slots, naming each variable', () => {
    try {
      loadConfig('worker', {
        ...base,
        WORKER_TASK_QUEUES: 'default,bulk',
        WORKER_INTERACTIVE_MAX_CONCURRENT_ACTIVITIES: '0',
        WORKER_INTERACTIVE_MAX_CACHED_WORKFLOWS: 'many',
      });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems.map((p) => p.variable).sort()).toEqual([
        'WORKER_INTERACTIVE_MAX_CACHED_WORKFLOWS',
        'WORKER_INTERACTIVE_MAX_CONCURRENT_ACTIVITIES',
        'WORKER_TASK_QUEUES',
      ]);
      expect(problems.find((p) => p.variable === 'WORKER_TASK_QUEUES')?.reason).toMatch(
        /default, interactive/,
      );
    }
    expect(() => loadConfig('worker', { ...base, WORKER_TASK_QUEUES: ',' })).toThrow(/WORKER_TASK_QUEUES/);
  });
});
