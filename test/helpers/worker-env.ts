/**
 * The environment of a real `genesis-cp worker` child process in tests: its Postgres database, its
 * Redis prefix, the Temporal dev server and task queue, the DigitalOcean token (and simulator URL)
 * and this process's signing key (./keys.ts). `extra` adds or overrides variables.
 */
import { rsaTestKeys } from './keys';
import { TEST_REDIS_URL } from './redis';

export interface WorkerEnvTarget {
  databaseUrl: string;
  redisPrefix: string;
  taskQueue: string;
  /** DIGITALOCEAN_API_TOKEN (a worker requires one even when the test makes no call) */
  digitaloceanToken: string;
  /** DIGITALOCEAN_API_URL, when the test runs the simulator */
  digitaloceanUrl?: string;
  /** SIDECAR_JWT_PRIVATE_KEY; default this process's test key */
  privateKeyPem?: string;
}

export function workerEnv(t: WorkerEnvTarget, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: t.databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: t.redisPrefix,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS!,
    TEMPORAL_TASK_QUEUE: t.taskQueue,
    TEMPORAL_METRICS_PORT: '0',
    ...(t.digitaloceanUrl ? { DIGITALOCEAN_API_URL: t.digitaloceanUrl } : {}),
    DIGITALOCEAN_API_TOKEN: t.digitaloceanToken,
    SIDECAR_JWT_PRIVATE_KEY: t.privateKeyPem ?? rsaTestKeys().privatePem,
    // the reconciler Schedule only where a test asks for it (its runs would join other tests' workflows)
    RECONCILER_ENABLED: 'false',
    ...extra,
  };
}
