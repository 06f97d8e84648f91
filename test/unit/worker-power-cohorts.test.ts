/** The worker's cohort batcher as withPowerCohorts wires it (src/worker/deps.ts): settings and shutdown. */
import type { Pool } from 'pg';
import type { ActivityDeps } from '../../activities/deps';
import { loadConfig } from '../../src/config';
import type { DigitalOceanClient } from '../../src/digitalocean/client';
import { withPowerCohorts } from '../../src/worker/deps';
import { baseConfigEnv } from '../helpers/config-env';

const logger = { info: () => undefined, warn: () => undefined } as never;

function wired(env: Record<string, string>, shutdown: AbortSignal) {
  const deps = {
    pool: {} as Pool,
    logger,
    digitalocean: {} as DigitalOceanClient,
  } as unknown as ActivityDeps;
  const config = loadConfig('worker', { ...baseConfigEnv(), ...env });
  return withPowerCohorts(deps, { config, logger, shutdown }).powerCohorts!;
}

it('lingers per lane as configured, and not at all once the worker shuts down', () => {
  const stop = new AbortController();
  const cohorts = wired({ POWER_COHORT_LINGER_MS: '300', POWER_COHORT_BULK_LINGER_MS: '7000' }, stop.signal);
  expect(cohorts.settings).toMatchObject({ lingerMs: 300, bulkLingerMs: 7_000, maxSize: 100, minSize: 3 });
  expect([cohorts.lingerOf('remediation'), cohorts.lingerOf('bulk')]).toEqual([300, 7_000]);
  stop.abort();
  expect([cohorts.lingerOf('remediation'), cohorts.lingerOf('bulk')]).toEqual([0, 0]);
});

it('defaults to 500 ms for remediation and 5 s for bulk work', () => {
  const stop = new AbortController();
  const cohorts = wired({}, stop.signal);
  expect([cohorts.lingerOf('remediation'), cohorts.lingerOf('bulk')]).toEqual([500, 5_000]);
  stop.abort();
});
