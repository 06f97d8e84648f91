/**
 * Configuration: every environment variable the control plane reads, parsed once at start.
 *
 * `loadConfig` never throws a bare zod error: it collects every bad variable into one
 * `ConfigError` whose message names each variable and why, and never includes a value (so a
 * secret pasted into the wrong variable is not printed). The CLI turns it into exit code 2.
 */
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_DATABASE_SCHEMA, schemaNameProblem } from './db/schema';
import { DEFAULT_DO_ACCOUNT, DO_ACCOUNT_NAME } from './digitalocean/accounts';
import { DEFAULT_HEARTBEAT_TIMEOUT_S } from './domain/liveness';
import type { ScaleAlertInput } from './domain/scale';
import { parseCodecKeys } from './temporal/codec-keys';
import { TASK_QUEUE_CLASSES, type TaskQueueClass } from '../contracts/task-queues';

export type Role = 'worker' | 'api' | 'all' | 'migrate' | 'cli';

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; reason: string }[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.variable}: ${p.reason}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

const urlWithProtocols = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL with scheme ${protocols.map((p) => p.replace(':', '')).join(' or ')}` },
  );

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const fraction = z
  .string()
  .regex(/^(0(\.\d+)?|1(\.0+)?)$/, 'must be a number between 0 and 1')
  .transform(Number);

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** A comma-separated list, blanks dropped. */
const list = (item: z.ZodType<string, string>) =>
  z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(1, 'must hold at least one entry'));

/** A DigitalOcean account name (DO_ACCOUNT_NAME), other than the implicit `default`. */
const doAccountName = z
  .string()
  .regex(DO_ACCOUNT_NAME, 'each entry must be an account name: a-z, then a-z 0-9 _ (at most 32)')
  .refine((v) => v !== DEFAULT_DO_ACCOUNT, {
    message: `"${DEFAULT_DO_ACCOUNT}" is the account of DIGITALOCEAN_API_TOKEN; list only the others`,
  });

/** A browser origin as the Origin header carries it: scheme://host[:port], nothing after. */
const origin = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return ['http:', 'https:'].includes(u.protocol) && u.origin === v;
    } catch {
      return false;
    }
  },
  { message: 'each entry must be an origin like https://temporal.example.com (no path, no trailing /)' },
);

const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost', '[::1]'];
/** Whether a host name or address is this machine's loopback (127.0.0.0/8, ::1, localhost). */
export const isLoopbackHost = (host: string): boolean =>
  LOOPBACK_HOSTS.includes(host) ||
  /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
  host === '::ffff:127.0.0.1';

const tableName = z
  .string()
  .regex(/^([a-z_][a-z0-9_$]*\.)?[a-z_][a-z0-9_$]*$/, 'must be [schema.]table in lower case');

const hostPort = z.string().regex(/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, 'must be host:port');

/** PEM text, or the same with literal "\n" as platforms that take one-line secrets store it. */
const pem = (kind: 'private key' | 'certificate') =>
  z
    .string()
    .transform((v) => v.replace(/\\n/g, '\n'))
    .refine((v) => v.includes('-----BEGIN'), { message: `must be a PEM ${kind}` });

const rsaPrivateKey = pem('private key').refine(
  (v) => {
    try {
      return createPrivateKey(v).asymmetricKeyType === 'rsa';
    } catch {
      return false;
    }
  },
  { message: 'must be a PEM RSA private key (RS256 signing key)' },
);

/** Payload codec keys (see parseCodecKeys): the first key encrypts, every key decrypts. */
export const codecKeysSchema = z.string().transform((v, ctx) => {
  const parsed = parseCodecKeys(v);
  if ('problem' in parsed) {
    ctx.addIssue({ code: 'custom', message: parsed.problem });
    return z.NEVER;
  }
  return parsed.keys;
});

/** One environment variable, declared once: its name, its schema and default, its place in Config. */
interface Variable<N extends string = string, S extends z.ZodType = z.ZodType> {
  variable: N;
  schema: S;
}
const env = <const N extends string, S extends z.ZodType>(variable: N, schema: S): Variable<N, S> => ({
  variable,
  schema,
});
interface Section {
  [key: string]: Variable | Section;
}

/**
 * Every variable the control plane reads, where it lands in the configuration. The parsed values
 * have this shape (`Settings`); `Config` is derived from it by `toConfig`, which only assembles
 * the groups that exist when their variables are set (TLS, OIDC, alert channels).
 * Defaults are declared with each variable.
 */
const settings = {
  env: env('NODE_ENV', z.enum(['development', 'production', 'test']).default('development')),
  logLevel: env(
    'LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  /** the package version when unset */
  version: env('SERVICE_VERSION', z.string().optional()),

  database: {
    url: env('DATABASE_URL', urlWithProtocols(['postgres:', 'postgresql:'])),
    poolMax: env('DATABASE_POOL_MAX', int(1, 200).default(10)),
    /** where the control plane's tables live (search_path of every connection) */
    schema: env(
      'DATABASE_SCHEMA',
      z
        .string()
        .superRefine((v, ctx) => {
          const problem = schemaNameProblem(v);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .default(DEFAULT_DATABASE_SCHEMA),
    ),
  },
  redis: {
    /** required by the roles that use Redis (requiredByRole); '' for the others, which never connect */
    url: env('REDIS_URL', urlWithProtocols(['redis:', 'rediss:']).optional()),
    keyPrefix: env(
      'REDIS_KEY_PREFIX',
      z
        .string()
        .regex(/^[A-Za-z0-9:_-]*$/, 'may hold letters, digits, : _ -')
        .default('genesis:'),
    ),
  },

  temporal: {
    address: env('TEMPORAL_ADDRESS', hostPort.default('localhost:7233')),
    namespace: env('TEMPORAL_NAMESPACE', z.string().min(1).default('default')),
    taskQueue: env('TEMPORAL_TASK_QUEUE', z.string().min(1).default('genesis-control-plane')),
    apiKey: env('TEMPORAL_API_KEY', z.string().min(1).optional()),
    /** TLS is on when this is true, or a client certificate or an API key is set */
    tls: {
      enabled: env('TEMPORAL_TLS', bool.default(false)),
      cert: env('TEMPORAL_TLS_CERT', pem('certificate').optional()),
      key: env('TEMPORAL_TLS_KEY', pem('private key').optional()),
      ca: env('TEMPORAL_TLS_CA', pem('certificate').optional()),
      serverName: env('TEMPORAL_TLS_SERVER_NAME', z.string().optional()),
    },
    metricsPort: env('TEMPORAL_METRICS_PORT', int(0, 65535).default(9464)),
    workflowBundlePath: env('TEMPORAL_WORKFLOW_BUNDLE', z.string().optional()),
  },

  api: {
    port: env('PORT', int(0, 65535).default(8080)),
    /** the address to listen on (all interfaces when unset) */
    host: env(
      'API_HOST',
      z
        .string()
        .regex(/^[A-Za-z0-9.:\-_]+$/, 'must be a host name or IP address')
        .optional(),
    ),
    healthCheckTimeoutMs: env('HEALTH_CHECK_TIMEOUT_MS', int(50, 30_000).default(1500)),
  },

  worker: {
    group: env(
      'WORKER_GROUP',
      z
        .string()
        .regex(/^[a-z0-9-]{1,40}$/, 'must be lowercase letters, digits, -')
        .default('default'),
    ),
    buildId: env(
      'WORKER_BUILD_ID',
      z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, . _ -')
        .default('dev'),
    ),
    /** Worker Versioning: this worker is version <deploymentName>.<buildId> of a worker deployment */
    versioning: env('WORKER_VERSIONING', bool.default(false)),
    deploymentName: env(
      'WORKER_DEPLOYMENT_NAME',
      z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, . _ -')
        .default('genesis-control-plane'),
    ),
    shutdownGraceMs: env('WORKER_SHUTDOWN_GRACE_MS', int(0, 600_000).default(30_000)),
    maxConcurrentActivities: env('WORKER_MAX_CONCURRENT_ACTIVITIES', int(1, 10_000).default(200)),
    maxCachedWorkflows: env('WORKER_MAX_CACHED_WORKFLOWS', int(0, 100_000).default(100)),
    /**
     * which of the control plane's task queues this process polls (contracts/task-queues.ts): both
     * by default; `interactive` alone for a pool of replicas that serve logins on CPU of their own
     */
    taskQueues: env(
      'WORKER_TASK_QUEUES',
      list(
        z.enum(TASK_QUEUE_CLASSES, { message: `each entry must be one of ${TASK_QUEUE_CLASSES.join(', ')}` }),
      )
        .default([...TASK_QUEUE_CLASSES])
        .transform((v) => [...new Set(v)] as TaskQueueClass[]),
    ),
    /** the interactive task queue's own slots (contracts/task-queues.ts), beside the base queue's */
    interactive: {
      maxConcurrentActivities: env(
        'WORKER_INTERACTIVE_MAX_CONCURRENT_ACTIVITIES',
        int(1, 10_000).default(50),
      ),
      maxCachedWorkflows: env('WORKER_INTERACTIVE_MAX_CACHED_WORKFLOWS', int(0, 100_000).default(100)),
    },
  },

  digitalocean: {
    token: env('DIGITALOCEAN_API_TOKEN', z.string().min(1).optional()),
    apiUrl: env(
      'DIGITALOCEAN_API_URL',
      urlWithProtocols(['https:', 'http:']).default('https://api.digitalocean.com'),
    ),
    /** the fleet defaults; an account may override them (DIGITALOCEAN_RATE_PER_MINUTE_<NAME>, ...) */
    ratePerMinute: env('DIGITALOCEAN_RATE_PER_MINUTE', int(1, 100_000).default(250)),
    ratePerHour: env('DIGITALOCEAN_RATE_PER_HOUR', int(1, 1_000_000).default(5000)),
    /**
     * accounts besides `default` (DIGITALOCEAN_API_TOKEN), each with DIGITALOCEAN_API_TOKEN_<NAME>;
     * read by `digitalOceanAccountsOf`, since their variables' names follow from this list
     */
    accountNames: env('DIGITALOCEAN_ACCOUNTS', list(doAccountName).optional()),
    /** shares of every window the budget keeps for the lanes above bulk (src/digitalocean/budget.ts) */
    reserveInteractive: env('DIGITALOCEAN_BUDGET_RESERVE_INTERACTIVE', fraction.default(0.1)),
    reserveRemediation: env('DIGITALOCEAN_BUDGET_RESERVE_REMEDIATION', fraction.default(0.2)),
  },

  sidecar: {
    jwtPrivateKey: env('SIDECAR_JWT_PRIVATE_KEY', rsaPrivateKey.optional()),
    commandTimeoutMs: env('SIDECAR_COMMAND_TIMEOUT_MS', int(100, 600_000).default(30_000)),
    handshakeSecret: env(
      'SIDECAR_HANDSHAKE_SECRET',
      z.string().min(16, 'must be at least 16 characters').optional(),
    ),
  },
  /** where the agents' handshakes and cloud-init-complete calls are relayed (the dashboard) */
  dashboardRelay: {
    url: env('DASHBOARD_RELAY_URL', urlWithProtocols(['https:', 'http:']).optional()),
    timeoutMs: env('DASHBOARD_RELAY_TIMEOUT_MS', int(100, 60_000).default(5_000)),
    maxQueue: env('DASHBOARD_RELAY_MAX_QUEUE', int(1, 1_000_000).default(10_000)),
  },
  /** fleet-wide (all workers together) sidecar commands in flight per kind of change */
  concurrency: {
    n8nUpdate: env('FLEET_CONCURRENCY_N8N_UPDATE', int(1, 10_000).default(50)),
    workflowUpdate: env('FLEET_CONCURRENCY_WORKFLOW_UPDATE', int(1, 10_000).default(100)),
    credential: env('FLEET_CONCURRENCY_CREDENTIAL', int(1, 10_000).default(50)),
  },

  codec: {
    keys: env('PAYLOAD_CODEC_KEYS', codecKeysSchema.optional()),
    /** the shared bearer token of the CLI and scripts */
    serverToken: env('CODEC_SERVER_TOKEN', z.string().min(16, 'must be at least 16 characters').optional()),
    /** the Web UI origins allowed to call the codec server from a browser */
    corsOrigins: env('CODEC_CORS_ORIGIN', list(origin).default(['http://localhost:8233'])),
    /** a loopback-bound development API decodes for a loopback UI origin without a token */
    trustLoopbackUi: env('CODEC_TRUST_LOOPBACK_UI', bool.default(false)),
    /** operators' access tokens from the Web UI's identity provider (when issuer, audience and groups are set) */
    oidc: {
      issuer: env('CODEC_OIDC_ISSUER', urlWithProtocols(['https:', 'http:']).optional()),
      audience: env('CODEC_OIDC_AUDIENCE', list(z.string()).optional()),
      jwksUrl: env('CODEC_OIDC_JWKS_URL', urlWithProtocols(['https:', 'http:']).optional()),
      groupsClaim: env('CODEC_OIDC_GROUPS_CLAIM', z.string().min(1).default('groups')),
      allowedGroups: env('CODEC_OIDC_ALLOWED_GROUPS', list(z.string()).optional()),
    },
  },

  heartbeats: {
    stream: env('HEARTBEAT_STREAM', z.string().min(1).default('heartbeats')),
    consumerGroup: env('HEARTBEAT_CONSUMER_GROUP', z.string().min(1).default('drain')),
    maxPerRequest: env('HEARTBEAT_MAX_PER_REQUEST', int(1, 10_000).default(500)),
    bodyLimitBytes: env('HEARTBEAT_BODY_LIMIT_BYTES', int(1024, 50_000_000).default(1_000_000)),
    retentionDays: env('HEARTBEAT_RETENTION_DAYS', int(1, 3650).default(7)),
    backlogAlert: env('HEARTBEAT_BACKLOG_ALERT', int(1, 100_000_000).default(1000)),
    drainConsumers: env('DRAIN_CONSUMERS', int(1, 64).default(1)),
    drainBatchSize: env('DRAIN_BATCH_SIZE', int(1, 100_000).default(2000)),
  },

  watchdog: {
    heartbeatTimeoutS: env(
      'WATCHDOG_HEARTBEAT_TIMEOUT_S',
      int(30, 86_400).default(DEFAULT_HEARTBEAT_TIMEOUT_S),
    ),
    stormFraction: env('WATCHDOG_STORM_FRACTION', fraction.default(0.1)),
    stormMinStale: env('WATCHDOG_STORM_MIN_STALE', int(1, 1_000_000).default(5)),
    intervalS: env('WATCHDOG_INTERVAL_S', int(5, 3600).default(60)),
    maxStartsPerTick: env('WATCHDOG_MAX_STARTS_PER_TICK', int(1, 1000).default(20)),
    transitionalDeadlineS: env('WATCHDOG_TRANSITIONAL_DEADLINE_S', int(60, 7 * 86_400).default(900)),
    thresholds: {
      cpu: env('WATCHDOG_CPU_PERCENT', int(1, 100).default(90)),
      memory: env('WATCHDOG_MEMORY_PERCENT', int(1, 100).default(85)),
      disk: env('WATCHDOG_DISK_PERCENT', int(1, 100).default(90)),
    },
    enabled: env('WATCHDOG_ENABLED', bool.default(true)),
  },

  /** scheduled power (workspaces' awake windows and idle rule); wakes also take WATCHDOG_HEARTBEAT_TIMEOUT_S */
  powerSchedule: {
    /** create/update the reconciler's Schedule when a worker starts */
    enabled: env('POWER_SCHEDULE_ENABLED', bool.default(true)),
    /** the reconciler's period (overlap SKIP) */
    intervalS: env('POWER_SCHEDULE_INTERVAL_S', int(10, 3600).default(60)),
    /** wakes and hibernations started per tick (wakes first); the rest the next tick */
    maxStartsPerTick: env('POWER_SCHEDULE_MAX_STARTS_PER_TICK', int(1, 20_000).default(500)),
    /** graceful shutdown time of scheduled hibernations before power_off */
    gracefulShutdownS: env('POWER_SCHEDULE_GRACEFUL_SHUTDOWN_S', int(1, 3600).default(120)),
  },

  /** the fleet probe: HEALTH_CHECK + COLLECT_METRICS of every ACTIVE droplet's agent each period */
  probe: {
    enabled: env('PROBE_ENABLED', bool.default(true)),
    periodS: env('PROBE_PERIOD_S', int(10, 86_400).default(300)),
    /** default: one slice per 10 s of the period */
    slices: env('PROBE_SLICES', int(1, 360).optional()),
    concurrency: env('PROBE_CONCURRENCY', int(1, 10_000).default(50)),
    commandTimeoutMs: env('PROBE_COMMAND_TIMEOUT_MS', int(100, 120_000).default(10_000)),
    executions: {
      windowS: env('PROBE_EXECUTIONS_WINDOW_S', int(10, 86_400).default(900)),
      failedShare: env('PROBE_EXECUTIONS_FAILED_SHARE', fraction.default(0.5)),
      minExecutions: env('PROBE_EXECUTIONS_MIN', int(1, 1_000).default(10)),
    },
    stormFraction: env('PROBE_STORM_FRACTION', fraction.default(0.1)),
    stormMinBad: env('PROBE_STORM_MIN_BAD', int(1, 1_000_000).default(5)),
  },

  /** the scale probes' input also takes WATCHDOG_HEARTBEAT_TIMEOUT_S and HEARTBEAT_BACKLOG_ALERT */
  scaleAlerts: {
    enabled: env('SCALE_ALERTS_ENABLED', bool.default(true)),
    intervalS: env('SCALE_ALERTS_INTERVAL_S', int(60, 86_400).default(900)),
    leadsTable: env('SCALE_LEADS_TABLE', tableName.default('public.leads')),
    emailEventsTable: env('SCALE_EMAIL_EVENTS_TABLE', tableName.default('public.email_events')),
    staleFractionWarning: env('SCALE_STALE_FRACTION_WARNING', fraction.default(0.05)),
  },

  /** desired state's reconciler Schedule (src/domain/reconcile.ts RECONCILER_DEFAULTS) */
  reconciler: {
    enabled: env('RECONCILER_ENABLED', bool.default(true)),
    intervalS: env('RECONCILER_INTERVAL_S', int(10, 86_400).default(120)),
    maxStartsPerTick: env('RECONCILER_MAX_STARTS_PER_TICK', int(1, 1000).default(20)),
    maxInFlight: env('RECONCILER_MAX_IN_FLIGHT', int(1, 10_000).default(50)),
    verifySample: env('RECONCILER_VERIFY_SAMPLE', int(0, 1000).default(5)),
    maxFailures: env('RECONCILER_MAX_FAILURES', int(1, 100).default(3)),
  },

  /** power operations (workflows/power, src/digitalocean/cohorts.ts) */
  power: {
    /** remediation and bulk power actions batched into tagged cohorts with one bulk action each */
    cohorts: {
      enabled: env('POWER_COHORTS_ENABLED', bool.default(true)),
      /** how long a remediation batch lingers for more members */
      lingerMs: env('POWER_COHORT_LINGER_MS', int(0, 60_000).default(500)),
      /**
       * how long a bulk-lane batch lingers: seconds, to gather a storm arriving at a worker's pace;
       * at most 30 s, well inside the power activities' timeouts (they heartbeat while they wait)
       */
      bulkLingerMs: env('POWER_COHORT_BULK_LINGER_MS', int(0, 30_000).default(5_000)),
      maxSize: env('POWER_COHORT_MAX_SIZE', int(2, 1_000).default(100)),
      minSize: env('POWER_COHORT_MIN_SIZE', int(2, 1_000).default(3)),
      /** how often a worker deletes the tags of cohorts a crashed worker left (and how old they must be) */
      sweepEveryMs: env('POWER_COHORT_SWEEP_MS', int(1_000, 86_400_000).default(300_000)),
    },
  },

  /** each channel is on when its variables are set */
  alerts: {
    telegram: {
      botToken: env('TELEGRAM_BOT_TOKEN', z.string().min(1).optional()),
      chatId: env('TELEGRAM_CHAT_ID', z.string().min(1).optional()),
      apiUrl: env(
        'TELEGRAM_API_URL',
        urlWithProtocols(['https:', 'http:']).default('https://api.telegram.org'),
      ),
    },
    slackWebhookUrl: env('SLACK_WEBHOOK_URL', urlWithProtocols(['https:', 'http:']).optional()),
    pagerduty: {
      routingKey: env('PAGERDUTY_ROUTING_KEY', z.string().min(1).optional()),
      eventsUrl: env(
        'PAGERDUTY_EVENTS_URL',
        urlWithProtocols(['https:', 'http:']).default('https://events.pagerduty.com/v2/enqueue'),
      ),
    },
    webhook: {
      url: env('ALERT_WEBHOOK_URL', urlWithProtocols(['https:', 'http:']).optional()),
      secret: env('ALERT_WEBHOOK_SECRET', z.string().min(16, 'must be at least 16 characters').optional()),
    },
  },
} satisfies Section;

// --- types derived from the declarations above ---------------------------------------------------
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** A section's parsed values: a variable that may be unset is an optional key. */
type Parsed<T> =
  T extends Variable<string, infer S>
    ? z.output<S>
    : Simplify<
        { [K in keyof T as undefined extends Parsed<T[K]> ? never : K]: Parsed<T[K]> } & {
          [K in keyof T as undefined extends Parsed<T[K]> ? K : never]?: Parsed<T[K]>;
        }
      >;
type Settings = Parsed<typeof settings>;
type VariablesOf<T> = T extends Variable ? T : { [K in keyof T]: VariablesOf<T[K]> }[keyof T];
type Declared = VariablesOf<typeof settings>;
type EnvShape = { [N in Declared['variable']]: Extract<Declared, { variable: N }>['schema'] };

function variablesOf(section: Section): Variable[] {
  return Object.values(section).flatMap((v) =>
    'variable' in v && 'schema' in v ? [v as Variable] : variablesOf(v as Section),
  );
}

/** The section tree with each variable replaced by its parsed value. */
function valuesOf(section: Section, e: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(section).map(([k, v]) => [
      k,
      'variable' in v && 'schema' in v ? e[(v as Variable).variable] : valuesOf(v as Section, e),
    ]),
  );
}

const schema = z.object(
  Object.fromEntries(variablesOf(settings).map((v) => [v.variable, v.schema])) as unknown as EnvShape,
);

type Env = z.infer<typeof schema>;

/** One DigitalOcean account as the worker builds its budget and client from it. */
export interface DigitalOceanAccountConfig {
  name: string;
  /** not enumerable: never serialized (logged, printed) with the configuration */
  readonly token: string;
  ratePerMinute: number;
  ratePerHour: number;
}

/** The variables of account `name` (other than default): DIGITALOCEAN_API_TOKEN_<NAME> and the rates. */
export function digitalOceanAccountVariables(name: string) {
  const u = name.toUpperCase();
  return {
    token: `DIGITALOCEAN_API_TOKEN_${u}`,
    ratePerMinute: `DIGITALOCEAN_RATE_PER_MINUTE_${u}`,
    ratePerHour: `DIGITALOCEAN_RATE_PER_HOUR_${u}`,
  };
}
const ACCOUNT_VARIABLE_PREFIXES = Object.values(digitalOceanAccountVariables('')) as string[];

function doAccount(name: string, token: string, ratePerMinute: number, ratePerHour: number) {
  const a = { name, ratePerMinute, ratePerHour } as DigitalOceanAccountConfig;
  Object.defineProperty(a, 'token', { value: token, enumerable: false });
  return a;
}

/**
 * Every configured DigitalOcean account: `default` from DIGITALOCEAN_API_TOKEN when set, then each
 * one DIGITALOCEAN_ACCOUNTS lists with its DIGITALOCEAN_API_TOKEN_<NAME> (required) and
 * DIGITALOCEAN_RATE_PER_MINUTE_<NAME> / _PER_HOUR_<NAME> (the fleet defaults when unset). Names
 * every missing or bad variable, a per-account variable of an account the list does not name, and
 * a token two accounts share (the budget is per token: they would share one). Never a value.
 */
function digitalOceanAccountsOf(
  raw: Record<string, string>,
  source: NodeJS.ProcessEnv,
  problems: { variable: string; reason: string }[],
): DigitalOceanAccountConfig[] {
  const value = (v: string) => (source[v] === '' ? undefined : source[v]);
  const rate = (variable: string, schema: z.ZodType<number>, fallback: number) => {
    const v = value(variable);
    if (v === undefined) return fallback;
    const r = schema.safeParse(v);
    if (r.success) return r.data;
    if (!problems.some((p) => p.variable === variable))
      problems.push({ variable, reason: r.error.issues[0]?.message ?? 'is invalid' });
    return fallback;
  };
  const perMinute = rate('DIGITALOCEAN_RATE_PER_MINUTE', settings.digitalocean.ratePerMinute.schema, 250);
  const perHour = rate('DIGITALOCEAN_RATE_PER_HOUR', settings.digitalocean.ratePerHour.schema, 5000);
  const accounts: DigitalOceanAccountConfig[] = [];
  const owners = new Map<string, string>();
  if (raw.DIGITALOCEAN_API_TOKEN) {
    accounts.push(doAccount(DEFAULT_DO_ACCOUNT, raw.DIGITALOCEAN_API_TOKEN, perMinute, perHour));
    owners.set(raw.DIGITALOCEAN_API_TOKEN, 'DIGITALOCEAN_API_TOKEN');
  }
  const listed = settings.digitalocean.accountNames.schema.safeParse(raw.DIGITALOCEAN_ACCOUNTS);
  const names = listed.success ? (listed.data ?? []) : [];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) {
      problems.push({ variable: 'DIGITALOCEAN_ACCOUNTS', reason: `lists "${name}" twice` });
      continue;
    }
    seen.add(name);
    const vars = digitalOceanAccountVariables(name);
    const token = value(vars.token);
    const minute = rate(vars.ratePerMinute, settings.digitalocean.ratePerMinute.schema, perMinute);
    const hour = rate(vars.ratePerHour, settings.digitalocean.ratePerHour.schema, perHour);
    if (token === undefined) {
      problems.push({ variable: vars.token, reason: `is required: DIGITALOCEAN_ACCOUNTS lists "${name}"` });
      continue;
    }
    const owner = owners.get(token);
    if (owner) {
      problems.push({
        variable: vars.token,
        reason: `is the same token as ${owner}: each account needs its own token (the budget is per token)`,
      });
      continue;
    }
    owners.set(token, vars.token);
    accounts.push(doAccount(name, token, minute, hour));
  }
  const upper = new Set([...seen].map((n) => n.toUpperCase()));
  for (const key of Object.keys(source).sort()) {
    const prefix = ACCOUNT_VARIABLE_PREFIXES.find((p) => key.startsWith(p));
    if (!prefix || value(key) === undefined || upper.has(key.slice(prefix.length))) continue;
    problems.push({
      variable: key,
      reason: `names account "${key.slice(prefix.length).toLowerCase()}", which DIGITALOCEAN_ACCOUNTS does not list`,
    });
  }
  return accounts;
}

/** The groups that exist only when their variables are set; everything else as parsed. */
function toConfig(s: Settings, digitaloceanAccounts: DigitalOceanAccountConfig[]) {
  const {
    tls: { enabled: tlsEnabled, ...tls },
    ...temporal
  } = s.temporal;
  const {
    oidc: { issuer, audience, allowedGroups, ...oidc },
    ...codec
  } = s.codec;
  const { telegram, pagerduty, webhook, ...alerts } = s.alerts;
  const { leadsTable, emailEventsTable, staleFractionWarning, ...scaleAlerts } = s.scaleAlerts;
  const scaleInput: ScaleAlertInput = {
    leadsTable,
    emailEventsTable,
    staleAfterS: s.watchdog.heartbeatTimeoutS,
    thresholds: {
      fleet_stale_fraction: { warning: staleFractionWarning },
      heartbeat_backlog: { warning: s.heartbeats.backlogAlert },
    },
  };
  return {
    ...s,
    version: s.version ?? packageVersion(),
    digitalocean: { ...s.digitalocean, accounts: digitaloceanAccounts },
    redis: { ...s.redis, url: s.redis.url ?? '' },
    temporal: { ...temporal, ...(tlsEnabled || !!tls.cert || !!temporal.apiKey ? { tls } : {}) },
    codec: {
      ...codec,
      ...(issuer && audience && allowedGroups ? { oidc: { issuer, audience, allowedGroups, ...oidc } } : {}),
    },
    scaleAlerts: { ...scaleAlerts, input: scaleInput },
    alerts: {
      ...alerts,
      ...(telegram.botToken && telegram.chatId
        ? { telegram: { botToken: telegram.botToken, chatId: telegram.chatId, apiUrl: telegram.apiUrl } }
        : {}),
      ...(pagerduty.routingKey
        ? { pagerduty: { routingKey: pagerduty.routingKey, eventsUrl: pagerduty.eventsUrl } }
        : {}),
      ...(webhook.url && webhook.secret ? { webhook: { url: webhook.url, secret: webhook.secret } } : {}),
    },
  };
}

export type Config = ReturnType<typeof toConfig>;

/** Variables a role cannot run without, beyond the ones every role needs. */
const requiredByRole: Record<Role, (keyof Env)[]> = {
  worker: ['REDIS_URL', 'DIGITALOCEAN_API_TOKEN', 'SIDECAR_JWT_PRIVATE_KEY'],
  api: ['REDIS_URL', 'SIDECAR_HANDSHAKE_SECRET'],
  all: ['REDIS_URL', 'DIGITALOCEAN_API_TOKEN', 'SIDECAR_JWT_PRIVATE_KEY', 'SIDECAR_HANDSHAKE_SECRET'],
  migrate: [],
  cli: [],
};

/**
 * Supavisor's transaction mode (Supabase's pooler host on port 6543) hands each transaction to any
 * server connection: the search_path the pool sets per connection (src/db/pool.ts) would not hold.
 * The direct connection and session mode (port 5432) keep one server connection per client.
 */
function transactionModePooler(url: string): string | undefined {
  const u = new URL(url);
  if (!u.hostname.endsWith('.pooler.supabase.com') || u.port !== '6543') return undefined;
  return (
    "is Supavisor's transaction mode (port 6543), which keeps no session state (search_path); " +
    'use the direct connection (db.<project>.supabase.co:5432) or session mode (the pooler on port 5432)'
  );
}

export function loadConfig(role: Role, source: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings are "unset": platforms often template a variable to "".
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = source[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }

  const problems: { variable: string; reason: string }[] = [];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const variable = String(issue.path[0] ?? '(environment)');
      const reason =
        issue.code === 'invalid_type' && raw[variable] === undefined ? 'is required' : issue.message;
      if (!problems.some((p) => p.variable === variable)) problems.push({ variable, reason });
    }
  }
  for (const key of requiredByRole[role]) {
    if (raw[key] === undefined && !problems.some((p) => p.variable === key)) {
      problems.push({ variable: key, reason: `is required for the ${role} process` });
    }
  }
  if (parsed.success) {
    const e = parsed.data;
    if ((e.TEMPORAL_TLS_CERT === undefined) !== (e.TEMPORAL_TLS_KEY === undefined)) {
      problems.push({
        variable: e.TEMPORAL_TLS_CERT ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT',
        reason: 'mTLS needs both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY',
      });
    }
    if ((e.TELEGRAM_BOT_TOKEN === undefined) !== (e.TELEGRAM_CHAT_ID === undefined)) {
      problems.push({
        variable: e.TELEGRAM_BOT_TOKEN ? 'TELEGRAM_CHAT_ID' : 'TELEGRAM_BOT_TOKEN',
        reason: 'Telegram alerts need both TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID',
      });
    }
    if (e.ALERT_WEBHOOK_URL && !e.ALERT_WEBHOOK_SECRET) {
      problems.push({
        variable: 'ALERT_WEBHOOK_SECRET',
        reason: 'is required when ALERT_WEBHOOK_URL is set',
      });
    }
    if (e.DIGITALOCEAN_BUDGET_RESERVE_INTERACTIVE + e.DIGITALOCEAN_BUDGET_RESERVE_REMEDIATION >= 1)
      problems.push({
        variable: 'DIGITALOCEAN_BUDGET_RESERVE_REMEDIATION',
        reason: 'with DIGITALOCEAN_BUDGET_RESERVE_INTERACTIVE must stay below 1, leaving bulk work a share',
      });
    const pooler = transactionModePooler(e.DATABASE_URL);
    if (pooler) problems.push({ variable: 'DATABASE_URL', reason: pooler });
    if (e.CODEC_TRUST_LOOPBACK_UI) {
      if (e.NODE_ENV === 'production')
        problems.push({
          variable: 'CODEC_TRUST_LOOPBACK_UI',
          reason: 'is for development only, never production',
        });
      else if (!e.API_HOST || !isLoopbackHost(e.API_HOST))
        problems.push({
          variable: 'CODEC_TRUST_LOOPBACK_UI',
          reason:
            'needs API_HOST set to a loopback address (127.0.0.1): only a loopback-bound API may skip tokens',
        });
      else {
        const remote = e.CODEC_CORS_ORIGIN.find((o) => !isLoopbackHost(new URL(o).hostname));
        if (remote)
          problems.push({
            variable: 'CODEC_CORS_ORIGIN',
            reason: 'with CODEC_TRUST_LOOPBACK_UI every origin must be a loopback one (localhost, 127.0.0.1)',
          });
      }
    }
    if (e.CODEC_OIDC_ISSUER) {
      if (!e.CODEC_OIDC_AUDIENCE)
        problems.push({
          variable: 'CODEC_OIDC_AUDIENCE',
          reason: 'is required when CODEC_OIDC_ISSUER is set',
        });
      if (!e.CODEC_OIDC_ALLOWED_GROUPS)
        problems.push({
          variable: 'CODEC_OIDC_ALLOWED_GROUPS',
          reason: 'is required when CODEC_OIDC_ISSUER is set (who of the identity provider may decode)',
        });
    } else {
      for (const v of ['CODEC_OIDC_AUDIENCE', 'CODEC_OIDC_JWKS_URL', 'CODEC_OIDC_ALLOWED_GROUPS'] as const)
        if (e[v] !== undefined) problems.push({ variable: v, reason: 'needs CODEC_OIDC_ISSUER' });
    }
    if (e.NODE_ENV === 'production' && !e.PAYLOAD_CODEC_KEYS && role !== 'migrate') {
      problems.push({
        variable: 'PAYLOAD_CODEC_KEYS',
        reason: 'is required in production (payload encryption)',
      });
    }
  }
  const accounts = digitalOceanAccountsOf(raw, source, problems);
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  return toConfig(valuesOf(settings, parsed.data) as Settings, accounts);
}

/** The names of every variable the schema knows, for the README's configuration table test. */
export const configVariables = Object.keys(schema.shape);

/** The package version, found by walking up from this file (src/ in tests, dist/src/ when built). */
function packageVersion(): string {
  let dir = __dirname;
  for (let i = 0; i < 4; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'genesis-control-plane' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return '0.0.0-unknown';
}
