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
import { DEFAULT_HEARTBEAT_TIMEOUT_S } from './domain/liveness';
import type { ScaleAlertInput } from './domain/scale';

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

/**
 * Payload codec keys: "keyId:base64Key[,keyId:base64Key...]". The first key encrypts; every key
 * decrypts, so a new key is added in front and old ones stay until their histories age out.
 */
export const codecKeysSchema = z.string().transform((v, ctx) => {
  const keys: { id: string; key: Buffer }[] = [];
  for (const part of v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const idx = part.indexOf(':');
    const id = part.slice(0, idx);
    const key = Buffer.from(part.slice(idx + 1), 'base64');
    if (idx <= 0 || !/^[A-Za-z0-9_.-]{1,32}$/.test(id) || key.length !== 32) {
      ctx.addIssue({ code: 'custom', message: 'each entry must be keyId:base64 of 32 bytes' });
      return z.NEVER;
    }
    keys.push({ id, key });
  }
  if (keys.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'must hold at least one keyId:base64Key' });
    return z.NEVER;
  }
  if (new Set(keys.map((k) => k.id)).size !== keys.length) {
    ctx.addIssue({ code: 'custom', message: 'key ids must be unique' });
    return z.NEVER;
  }
  return keys;
});

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SERVICE_VERSION: z.string().optional(),

  DATABASE_URL: urlWithProtocols(['postgres:', 'postgresql:']),
  DATABASE_POOL_MAX: int(1, 200).default(10),
  DATABASE_SCHEMA: z
    .string()
    .superRefine((v, ctx) => {
      const problem = schemaNameProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default(DEFAULT_DATABASE_SCHEMA),
  REDIS_URL: urlWithProtocols(['redis:', 'rediss:']).optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]*$/, 'may hold letters, digits, : _ -')
    .default('genesis:'),

  TEMPORAL_ADDRESS: hostPort.default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('genesis-control-plane'),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_TLS_CERT: pem('certificate').optional(),
  TEMPORAL_TLS_KEY: pem('private key').optional(),
  TEMPORAL_TLS_CA: pem('certificate').optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  TEMPORAL_METRICS_PORT: int(0, 65535).default(9464),
  TEMPORAL_WORKFLOW_BUNDLE: z.string().optional(),

  PORT: int(0, 65535).default(8080),
  API_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.:\-_]+$/, 'must be a host name or IP address')
    .optional(),
  HEALTH_CHECK_TIMEOUT_MS: int(50, 30_000).default(1500),

  WORKER_GROUP: z
    .string()
    .regex(/^[a-z0-9-]{1,40}$/, 'must be lowercase letters, digits, -')
    .default('default'),
  WORKER_BUILD_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, . _ -')
    .default('dev'),
  WORKER_VERSIONING: bool.default(false),
  WORKER_DEPLOYMENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, . _ -')
    .default('genesis-control-plane'),
  WORKER_SHUTDOWN_GRACE_MS: int(0, 600_000).default(30_000),
  WORKER_MAX_CONCURRENT_ACTIVITIES: int(1, 10_000).default(200),
  WORKER_MAX_CACHED_WORKFLOWS: int(0, 100_000).default(100),

  DIGITALOCEAN_API_TOKEN: z.string().min(1).optional(),
  DIGITALOCEAN_API_URL: urlWithProtocols(['https:', 'http:']).default('https://api.digitalocean.com'),
  DIGITALOCEAN_RATE_PER_MINUTE: int(1, 100_000).default(250),
  DIGITALOCEAN_RATE_PER_HOUR: int(1, 1_000_000).default(5000),

  SIDECAR_JWT_PRIVATE_KEY: rsaPrivateKey.optional(),
  SIDECAR_COMMAND_TIMEOUT_MS: int(100, 600_000).default(30_000),
  SIDECAR_HANDSHAKE_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  DASHBOARD_RELAY_URL: urlWithProtocols(['https:', 'http:']).optional(),
  DASHBOARD_RELAY_TIMEOUT_MS: int(100, 60_000).default(5_000),
  DASHBOARD_RELAY_MAX_QUEUE: int(1, 1_000_000).default(10_000),
  FLEET_CONCURRENCY_N8N_UPDATE: int(1, 10_000).default(50),
  FLEET_CONCURRENCY_WORKFLOW_UPDATE: int(1, 10_000).default(100),
  FLEET_CONCURRENCY_CREDENTIAL: int(1, 10_000).default(50),

  PAYLOAD_CODEC_KEYS: codecKeysSchema.optional(),
  CODEC_SERVER_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  CODEC_CORS_ORIGIN: list(origin).default(['http://localhost:8233']),
  CODEC_TRUST_LOOPBACK_UI: bool.default(false),
  CODEC_OIDC_ISSUER: urlWithProtocols(['https:', 'http:']).optional(),
  CODEC_OIDC_AUDIENCE: list(z.string()).optional(),
  CODEC_OIDC_JWKS_URL: urlWithProtocols(['https:', 'http:']).optional(),
  CODEC_OIDC_GROUPS_CLAIM: z.string().min(1).default('groups'),
  CODEC_OIDC_ALLOWED_GROUPS: list(z.string()).optional(),

  HEARTBEAT_STREAM: z.string().min(1).default('heartbeats'),
  HEARTBEAT_CONSUMER_GROUP: z.string().min(1).default('drain'),
  HEARTBEAT_MAX_PER_REQUEST: int(1, 10_000).default(500),
  HEARTBEAT_BODY_LIMIT_BYTES: int(1024, 50_000_000).default(1_000_000),
  HEARTBEAT_RETENTION_DAYS: int(1, 3650).default(7),
  HEARTBEAT_BACKLOG_ALERT: int(1, 100_000_000).default(1000),
  DRAIN_CONSUMERS: int(1, 64).default(1),
  DRAIN_BATCH_SIZE: int(1, 100_000).default(2000),

  WATCHDOG_HEARTBEAT_TIMEOUT_S: int(30, 86_400).default(DEFAULT_HEARTBEAT_TIMEOUT_S),
  WATCHDOG_STORM_FRACTION: fraction.default(0.1),
  WATCHDOG_STORM_MIN_STALE: int(1, 1_000_000).default(5),
  WATCHDOG_INTERVAL_S: int(5, 3600).default(60),
  WATCHDOG_MAX_STARTS_PER_TICK: int(1, 1000).default(20),
  WATCHDOG_TRANSITIONAL_DEADLINE_S: int(60, 7 * 86_400).default(900),
  WATCHDOG_CPU_PERCENT: int(1, 100).default(90),
  WATCHDOG_MEMORY_PERCENT: int(1, 100).default(85),
  WATCHDOG_DISK_PERCENT: int(1, 100).default(90),
  WATCHDOG_ENABLED: bool.default(true),

  SCALE_ALERTS_ENABLED: bool.default(true),
  SCALE_ALERTS_INTERVAL_S: int(60, 86_400).default(900),
  SCALE_LEADS_TABLE: z
    .string()
    .regex(/^([a-z_][a-z0-9_$]*\.)?[a-z_][a-z0-9_$]*$/, 'must be [schema.]table in lower case')
    .default('public.leads'),
  SCALE_EMAIL_EVENTS_TABLE: z
    .string()
    .regex(/^([a-z_][a-z0-9_$]*\.)?[a-z_][a-z0-9_$]*$/, 'must be [schema.]table in lower case')
    .default('public.email_events'),
  SCALE_STALE_FRACTION_WARNING: fraction.default(0.05),

  TELEGRAM_BOT_TOKEN: z.string().min(1).optional(),
  TELEGRAM_CHAT_ID: z.string().min(1).optional(),
  TELEGRAM_API_URL: urlWithProtocols(['https:', 'http:']).default('https://api.telegram.org'),
  SLACK_WEBHOOK_URL: urlWithProtocols(['https:', 'http:']).optional(),
  PAGERDUTY_ROUTING_KEY: z.string().min(1).optional(),
  PAGERDUTY_EVENTS_URL: urlWithProtocols(['https:', 'http:']).default(
    'https://events.pagerduty.com/v2/enqueue',
  ),
  ALERT_WEBHOOK_URL: urlWithProtocols(['https:', 'http:']).optional(),
  ALERT_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
});

type Env = z.infer<typeof schema>;

export interface Config {
  env: Env['NODE_ENV'];
  logLevel: Env['LOG_LEVEL'];
  version: string;
  /** schema: where the control plane's tables live (search_path of every connection) */
  database: { url: string; poolMax: number; schema: string };
  redis: { url: string; keyPrefix: string };
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    apiKey?: string;
    tls?: { cert?: string; key?: string; ca?: string; serverName?: string } | undefined;
    metricsPort: number;
    workflowBundlePath?: string;
  };
  /** host: the address to listen on (all interfaces when unset) */
  api: { port: number; host?: string; healthCheckTimeoutMs: number };
  worker: {
    group: string;
    buildId: string;
    shutdownGraceMs: number;
    maxConcurrentActivities: number;
    /** sticky workflow cache entries (0: no cache); the SDK's default grows with the heap limit */
    maxCachedWorkflows: number;
    /** Worker Versioning: this worker is version <deploymentName>.<buildId> of a worker deployment */
    versioning: boolean;
    deploymentName: string;
  };
  digitalocean: { token?: string; apiUrl: string; ratePerMinute: number; ratePerHour: number };
  sidecar: { jwtPrivateKey?: string; commandTimeoutMs: number; handshakeSecret?: string };
  /** where the agents' handshakes and cloud-init-complete calls are relayed (the dashboard) */
  dashboardRelay: { url?: string; timeoutMs: number; maxQueue: number };
  /** fleet-wide (all workers together) sidecar commands in flight per kind of change */
  concurrency: { n8nUpdate: number; workflowUpdate: number; credential: number };
  codec: {
    keys?: { id: string; key: Buffer }[];
    /** the shared bearer token of the CLI and scripts */
    serverToken?: string;
    /** the Web UI origins allowed to call the codec server from a browser */
    corsOrigins: string[];
    /** a loopback-bound development API decodes for a loopback UI origin without a token */
    trustLoopbackUi: boolean;
    /** operators' access tokens from the Web UI's identity provider */
    oidc?: {
      issuer: string;
      audience: string[];
      jwksUrl?: string;
      groupsClaim: string;
      allowedGroups: string[];
    };
  };
  heartbeats: {
    stream: string;
    consumerGroup: string;
    maxPerRequest: number;
    bodyLimitBytes: number;
    retentionDays: number;
    backlogAlert: number;
    drainConsumers: number;
    drainBatchSize: number;
  };
  watchdog: {
    enabled: boolean;
    intervalS: number;
    heartbeatTimeoutS: number;
    stormFraction: number;
    stormMinStale: number;
    maxStartsPerTick: number;
    transitionalDeadlineS: number;
    thresholds: { cpu: number; memory: number; disk: number };
  };
  scaleAlerts: { enabled: boolean; intervalS: number; input: ScaleAlertInput };
  alerts: {
    telegram?: { botToken: string; chatId: string; apiUrl: string };
    slackWebhookUrl?: string;
    pagerduty?: { routingKey: string; eventsUrl: string };
    webhook?: { url: string; secret: string };
  };
}

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
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const e = parsed.data;
  const useTls = e.TEMPORAL_TLS || !!e.TEMPORAL_TLS_CERT || !!e.TEMPORAL_API_KEY;
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    version: e.SERVICE_VERSION ?? packageVersion(),
    database: { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX, schema: e.DATABASE_SCHEMA },
    // Roles that use Redis require REDIS_URL (see requiredByRole); the others never connect.
    redis: { url: e.REDIS_URL ?? '', keyPrefix: e.REDIS_KEY_PREFIX },
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      apiKey: e.TEMPORAL_API_KEY,
      tls: useTls
        ? {
            cert: e.TEMPORAL_TLS_CERT,
            key: e.TEMPORAL_TLS_KEY,
            ca: e.TEMPORAL_TLS_CA,
            serverName: e.TEMPORAL_TLS_SERVER_NAME,
          }
        : undefined,
      metricsPort: e.TEMPORAL_METRICS_PORT,
      workflowBundlePath: e.TEMPORAL_WORKFLOW_BUNDLE,
    },
    api: { port: e.PORT, host: e.API_HOST, healthCheckTimeoutMs: e.HEALTH_CHECK_TIMEOUT_MS },
    worker: {
      group: e.WORKER_GROUP,
      buildId: e.WORKER_BUILD_ID,
      shutdownGraceMs: e.WORKER_SHUTDOWN_GRACE_MS,
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
      versioning: e.WORKER_VERSIONING,
      deploymentName: e.WORKER_DEPLOYMENT_NAME,
    },
    digitalocean: {
      token: e.DIGITALOCEAN_API_TOKEN,
      apiUrl: e.DIGITALOCEAN_API_URL,
      ratePerMinute: e.DIGITALOCEAN_RATE_PER_MINUTE,
      ratePerHour: e.DIGITALOCEAN_RATE_PER_HOUR,
    },
    sidecar: {
      jwtPrivateKey: e.SIDECAR_JWT_PRIVATE_KEY,
      commandTimeoutMs: e.SIDECAR_COMMAND_TIMEOUT_MS,
      handshakeSecret: e.SIDECAR_HANDSHAKE_SECRET,
    },
    dashboardRelay: {
      url: e.DASHBOARD_RELAY_URL,
      timeoutMs: e.DASHBOARD_RELAY_TIMEOUT_MS,
      maxQueue: e.DASHBOARD_RELAY_MAX_QUEUE,
    },
    concurrency: {
      n8nUpdate: e.FLEET_CONCURRENCY_N8N_UPDATE,
      workflowUpdate: e.FLEET_CONCURRENCY_WORKFLOW_UPDATE,
      credential: e.FLEET_CONCURRENCY_CREDENTIAL,
    },
    codec: {
      keys: e.PAYLOAD_CODEC_KEYS,
      serverToken: e.CODEC_SERVER_TOKEN,
      corsOrigins: e.CODEC_CORS_ORIGIN,
      trustLoopbackUi: e.CODEC_TRUST_LOOPBACK_UI,
      oidc:
        e.CODEC_OIDC_ISSUER && e.CODEC_OIDC_AUDIENCE && e.CODEC_OIDC_ALLOWED_GROUPS
          ? {
              issuer: e.CODEC_OIDC_ISSUER,
              audience: e.CODEC_OIDC_AUDIENCE,
              jwksUrl: e.CODEC_OIDC_JWKS_URL,
              groupsClaim: e.CODEC_OIDC_GROUPS_CLAIM,
              allowedGroups: e.CODEC_OIDC_ALLOWED_GROUPS,
            }
          : undefined,
    },
    heartbeats: {
      stream: e.HEARTBEAT_STREAM,
      consumerGroup: e.HEARTBEAT_CONSUMER_GROUP,
      maxPerRequest: e.HEARTBEAT_MAX_PER_REQUEST,
      bodyLimitBytes: e.HEARTBEAT_BODY_LIMIT_BYTES,
      retentionDays: e.HEARTBEAT_RETENTION_DAYS,
      backlogAlert: e.HEARTBEAT_BACKLOG_ALERT,
      drainConsumers: e.DRAIN_CONSUMERS,
      drainBatchSize: e.DRAIN_BATCH_SIZE,
    },
    watchdog: {
      enabled: e.WATCHDOG_ENABLED,
      intervalS: e.WATCHDOG_INTERVAL_S,
      heartbeatTimeoutS: e.WATCHDOG_HEARTBEAT_TIMEOUT_S,
      stormFraction: e.WATCHDOG_STORM_FRACTION,
      stormMinStale: e.WATCHDOG_STORM_MIN_STALE,
      maxStartsPerTick: e.WATCHDOG_MAX_STARTS_PER_TICK,
      transitionalDeadlineS: e.WATCHDOG_TRANSITIONAL_DEADLINE_S,
      thresholds: {
        cpu: e.WATCHDOG_CPU_PERCENT,
        memory: e.WATCHDOG_MEMORY_PERCENT,
        disk: e.WATCHDOG_DISK_PERCENT,
      },
    },
    scaleAlerts: {
      enabled: e.SCALE_ALERTS_ENABLED,
      intervalS: e.SCALE_ALERTS_INTERVAL_S,
      input: {
        leadsTable: e.SCALE_LEADS_TABLE,
        emailEventsTable: e.SCALE_EMAIL_EVENTS_TABLE,
        staleAfterS: e.WATCHDOG_HEARTBEAT_TIMEOUT_S,
        thresholds: {
          fleet_stale_fraction: { warning: e.SCALE_STALE_FRACTION_WARNING },
          heartbeat_backlog: { warning: e.HEARTBEAT_BACKLOG_ALERT },
        },
      },
    },
    alerts: {
      telegram:
        e.TELEGRAM_BOT_TOKEN && e.TELEGRAM_CHAT_ID
          ? { botToken: e.TELEGRAM_BOT_TOKEN, chatId: e.TELEGRAM_CHAT_ID, apiUrl: e.TELEGRAM_API_URL }
          : undefined,
      slackWebhookUrl: e.SLACK_WEBHOOK_URL,
      pagerduty: e.PAGERDUTY_ROUTING_KEY
        ? { routingKey: e.PAGERDUTY_ROUTING_KEY, eventsUrl: e.PAGERDUTY_EVENTS_URL }
        : undefined,
      webhook:
        e.ALERT_WEBHOOK_URL && e.ALERT_WEBHOOK_SECRET
          ? { url: e.ALERT_WEBHOOK_URL, secret: e.ALERT_WEBHOOK_SECRET }
          : undefined,
    },
  };
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
