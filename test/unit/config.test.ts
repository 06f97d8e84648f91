import { ConfigError, loadConfig } from '../../src/config';
import { baseConfigEnv } from '../helpers/config-env';
import { rsaTestKeys } from '../helpers/keys';

const pem = rsaTestKeys().privatePem;

const base = baseConfigEnv();

function problems(role: Parameters<typeof loadConfig>[0], env: Record<string, string | undefined>) {
  try {
    loadConfig(role, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('parses a complete environment with defaults filled in', () => {
    const c = loadConfig('all', base);
    expect(c.temporal).toMatchObject({
      address: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'genesis-control-plane',
    });
    expect(c.api.port).toBe(8080);
    expect(c.worker.shutdownGraceMs).toBe(30_000);
    expect(c.digitalocean).toMatchObject({ ratePerMinute: 250, ratePerHour: 5000 });
    expect(c.watchdog).toMatchObject({
      heartbeatTimeoutS: 300,
      stormFraction: 0.1,
      intervalS: 60,
      enabled: true,
    });
    expect(c.watchdog.thresholds).toEqual({ cpu: 90, memory: 85, disk: 90 });
    expect(c.temporal.tls).toBeUndefined();
  });

  it("keeps the control plane's tables in their own schema: genesis_cp unless DATABASE_SCHEMA says", () => {
    expect(loadConfig('migrate', base).database.schema).toBe('genesis_cp');
    expect(loadConfig('migrate', { ...base, DATABASE_SCHEMA: 'fleet_cp' }).database.schema).toBe('fleet_cp');
    for (const bad of ['public', 'Genesis', 'a-b', 'x;drop', 'pg_temp', 'auth', 'storage', 'a'.repeat(64)]) {
      const p = problems('migrate', { ...base, DATABASE_SCHEMA: bad });
      expect(p).toEqual([{ variable: 'DATABASE_SCHEMA', reason: expect.any(String) }]);
    }
  });

  it("refuses Supavisor's transaction mode (port 6543), accepts session mode and direct URLs", () => {
    const pooler = 'postgres://postgres.abcd:pw@aws-0-eu-central-1.pooler.supabase.com';
    for (const role of ['worker', 'migrate', 'api'] as const) {
      const p = problems(role, { ...base, DATABASE_URL: `${pooler}:6543/postgres` });
      expect(p).toEqual([
        { variable: 'DATABASE_URL', reason: expect.stringMatching(/transaction mode.*session mode/) },
      ]);
      expect(p[0]!.reason).not.toContain('pw');
    }
    expect(loadConfig('worker', { ...base, DATABASE_URL: `${pooler}:5432/postgres` }).database.url).toContain(
      ':5432',
    );
    expect(
      loadConfig('worker', {
        ...base,
        DATABASE_URL: 'postgres://postgres:pw@db.abcd.supabase.co:5432/postgres',
      }).database.schema,
    ).toBe('genesis_cp');
  });

  it('names every bad variable at once, with a reason', () => {
    const p = problems('all', {
      ...base,
      DATABASE_URL: 'mysql://x',
      PORT: 'eighty',
      TEMPORAL_ADDRESS: 'no-port',
      SIDECAR_JWT_PRIVATE_KEY: undefined,
      DRAIN_CONSUMERS: '0',
    });
    const byVar = Object.fromEntries(p.map((x) => [x.variable, x.reason]));
    expect(Object.keys(byVar).sort()).toEqual(
      ['DATABASE_URL', 'DRAIN_CONSUMERS', 'PORT', 'SIDECAR_JWT_PRIVATE_KEY', 'TEMPORAL_ADDRESS'].sort(),
    );
    expect(byVar.DATABASE_URL).toMatch(/postgres/);
    expect(byVar.PORT).toMatch(/whole number/);
    expect(byVar.SIDECAR_JWT_PRIVATE_KEY).toMatch(/required for the all process/);
    expect(byVar.DRAIN_CONSUMERS).toMatch(/at least 1/);
  });

  it('lingers power cohorts per lane: 500 ms for remediation, 5 s for bulk, each named when bad', () => {
    expect(loadConfig('worker', base).power.cohorts).toMatchObject({ lingerMs: 500, bulkLingerMs: 5_000 });
    expect(
      loadConfig('worker', { ...base, POWER_COHORT_BULK_LINGER_MS: '12000' }).power.cohorts.bulkLingerMs,
    ).toBe(12_000);
    const p = problems('worker', {
      ...base,
      POWER_COHORT_BULK_LINGER_MS: '60000',
      POWER_COHORT_LINGER_MS: '-1',
    });
    expect(p.map((x) => x.variable).sort()).toEqual([
      'POWER_COHORT_BULK_LINGER_MS',
      'POWER_COHORT_LINGER_MS',
    ]);
  });

  it('requires only what a role needs', () => {
    expect(() => loadConfig('migrate', { DATABASE_URL: base.DATABASE_URL })).not.toThrow();
    expect(
      problems('worker', { DATABASE_URL: base.DATABASE_URL, REDIS_URL: base.REDIS_URL }).map(
        (p) => p.variable,
      ),
    ).toEqual(['DIGITALOCEAN_API_TOKEN', 'SIDECAR_JWT_PRIVATE_KEY']);
    expect(problems('api', { DATABASE_URL: base.DATABASE_URL }).map((p) => p.variable)).toEqual([
      'REDIS_URL',
      'SIDECAR_HANDSHAKE_SECRET',
    ]);
  });

  it('treats empty strings as unset', () => {
    expect(problems('migrate', { DATABASE_URL: '' })).toEqual([
      { variable: 'DATABASE_URL', reason: 'is required' },
    ]);
  });

  it('rejects a private key that is not an RSA PEM, without printing it', () => {
    const secret = '-----BEGIN PRIVATE KEY-----\nsupersecretgarbage\n-----END PRIVATE KEY-----';
    try {
      loadConfig('worker', { ...base, SIDECAR_JWT_PRIVATE_KEY: secret });
      throw new Error('expected failure');
    } catch (err) {
      expect((err as Error).message).toMatch(/SIDECAR_JWT_PRIVATE_KEY: must be a PEM RSA private key/);
      expect((err as Error).message).not.toContain('supersecretgarbage');
    }
  });

  it('accepts PEM keys stored on one line with literal \\n', () => {
    const c = loadConfig('worker', { ...base, SIDECAR_JWT_PRIVATE_KEY: pem.replace(/\n/g, '\\n') });
    expect(c.sidecar.jwtPrivateKey).toBe(pem);
  });

  it('parses codec keys and refuses malformed ones', () => {
    const k1 = Buffer.alloc(32, 1).toString('base64');
    const k2 = Buffer.alloc(32, 2).toString('base64');
    const c = loadConfig('cli', { ...base, PAYLOAD_CODEC_KEYS: `new:${k2},old:${k1}` });
    expect(c.codec.keys?.map((k) => k.id)).toEqual(['new', 'old']);
    expect(problems('cli', { ...base, PAYLOAD_CODEC_KEYS: 'x:short' })[0]).toMatchObject({
      variable: 'PAYLOAD_CODEC_KEYS',
    });
    expect(problems('cli', { ...base, PAYLOAD_CODEC_KEYS: `a:${k1},a:${k2}` })[0]!.reason).toMatch(/unique/);
  });

  it('allows the token-less loopback UI only on a loopback-bound API outside production', () => {
    const dev = { ...base, CODEC_TRUST_LOOPBACK_UI: 'true', API_HOST: '127.0.0.1' };
    const c = loadConfig('api', {
      ...dev,
      CODEC_CORS_ORIGIN: 'http://localhost:8233, http://127.0.0.1:8233',
    });
    expect(c.codec).toMatchObject({
      trustLoopbackUi: true,
      corsOrigins: ['http://localhost:8233', 'http://127.0.0.1:8233'],
    });
    expect(c.api.host).toBe('127.0.0.1');
    expect(problems('api', { ...dev, API_HOST: undefined })[0]).toMatchObject({
      variable: 'CODEC_TRUST_LOOPBACK_UI',
      reason: expect.stringMatching(/API_HOST/),
    });
    expect(problems('api', { ...dev, API_HOST: '0.0.0.0' })[0]!.variable).toBe('CODEC_TRUST_LOOPBACK_UI');
    expect(problems('api', { ...dev, CODEC_CORS_ORIGIN: 'https://temporal.example.com' })[0]!.variable).toBe(
      'CODEC_CORS_ORIGIN',
    );
    expect(
      problems('api', {
        ...dev,
        NODE_ENV: 'production',
        PAYLOAD_CODEC_KEYS: `k:${Buffer.alloc(32).toString('base64')}`,
      })[0],
    ).toMatchObject({
      variable: 'CODEC_TRUST_LOOPBACK_UI',
      reason: expect.stringMatching(/never production/),
    });
  });

  it('wants UI origins without a path and a complete OIDC setup', () => {
    expect(problems('api', { ...base, CODEC_CORS_ORIGIN: 'http://localhost:8233/' })[0]!.variable).toBe(
      'CODEC_CORS_ORIGIN',
    );
    const oidc = problems('api', { ...base, CODEC_OIDC_ISSUER: 'https://idp.example.com' }).map(
      (p) => p.variable,
    );
    expect(oidc).toEqual(['CODEC_OIDC_AUDIENCE', 'CODEC_OIDC_ALLOWED_GROUPS']);
    expect(problems('api', { ...base, CODEC_OIDC_ALLOWED_GROUPS: 'sre' })[0]!.reason).toMatch(
      /CODEC_OIDC_ISSUER/,
    );
    const c = loadConfig('api', {
      ...base,
      CODEC_OIDC_ISSUER: 'https://idp.example.com',
      CODEC_OIDC_AUDIENCE: 'temporal-ui',
      CODEC_OIDC_ALLOWED_GROUPS: 'sre,oncall',
    });
    expect(c.codec.oidc).toEqual({
      issuer: 'https://idp.example.com',
      audience: ['temporal-ui'],
      groupsClaim: 'groups',
      allowedGroups: ['sre', 'oncall'],
      jwksUrl: undefined,
    });
  });

  it('requires payload encryption in production', () => {
    expect(problems('all', { ...base, NODE_ENV: 'production' })).toEqual([
      { variable: 'PAYLOAD_CODEC_KEYS', reason: 'is required in production (payload encryption)' },
    ]);
  });

  it('wants both halves of mTLS and of Telegram alerts', () => {
    const p = problems('cli', {
      ...base,
      TEMPORAL_TLS_CERT: '-----BEGIN CERTIFICATE-----\nx',
      TELEGRAM_BOT_TOKEN: 't',
    });
    expect(p.map((x) => x.variable).sort()).toEqual(['TELEGRAM_CHAT_ID', 'TEMPORAL_TLS_KEY']);
  });

  it('turns on TLS for Temporal Cloud API keys', () => {
    const c = loadConfig('cli', {
      ...base,
      TEMPORAL_API_KEY: 'cloud-key',
      TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
    });
    expect(c.temporal.tls).toBeDefined();
    expect(c.temporal.apiKey).toBe('cloud-key');
  });

  describe('DigitalOcean accounts', () => {
    it('DIGITALOCEAN_API_TOKEN alone is the default account with the fleet rates and lane reserves', () => {
      const c = loadConfig('worker', base);
      expect(c.digitalocean.accounts.map((a) => [a.name, a.token, a.ratePerMinute, a.ratePerHour])).toEqual([
        ['default', 'do-token', 250, 5000],
      ]);
      expect(c.digitalocean).toMatchObject({ reserveInteractive: 0.1, reserveRemediation: 0.2 });
      expect(
        loadConfig('migrate', { ...base, DIGITALOCEAN_API_TOKEN: undefined }).digitalocean.accounts,
      ).toEqual([]);
    });

    it('names each listed account with its own token and rates (the fleet defaults otherwise)', () => {
      const c = loadConfig('worker', {
        ...base,
        DIGITALOCEAN_RATE_PER_MINUTE: '200',
        DIGITALOCEAN_ACCOUNTS: 'team_b, eu2',
        DIGITALOCEAN_API_TOKEN_TEAM_B: 'dop_v1_team_b_secret',
        DIGITALOCEAN_RATE_PER_HOUR_TEAM_B: '2500',
        DIGITALOCEAN_API_TOKEN_EU2: 'dop_v1_eu2_secret',
        DIGITALOCEAN_RATE_PER_MINUTE_EU2: '100',
        DIGITALOCEAN_BUDGET_RESERVE_INTERACTIVE: '0.05',
      });
      expect(c.digitalocean.accounts.map((a) => [a.name, a.token, a.ratePerMinute, a.ratePerHour])).toEqual([
        ['default', 'do-token', 200, 5000],
        ['team_b', 'dop_v1_team_b_secret', 200, 2500],
        ['eu2', 'dop_v1_eu2_secret', 100, 5000],
      ]);
      expect(c.digitalocean.reserveInteractive).toBe(0.05);
      // the tokens are not enumerable: printing or logging the configuration never shows them
      expect(JSON.stringify(c.digitalocean.accounts)).not.toContain('secret');
    });

    it('names every bad or missing variable, never a value', () => {
      const p = problems('worker', {
        ...base,
        DIGITALOCEAN_ACCOUNTS: 'team_b,eu2,ops,ops',
        DIGITALOCEAN_API_TOKEN_TEAM_B: 'dop_v1_team_b_secret',
        DIGITALOCEAN_RATE_PER_MINUTE_TEAM_B: 'fast',
        DIGITALOCEAN_API_TOKEN_OPS: 'do-token', // the default account's token again
        DIGITALOCEAN_API_TOKEN_STAGING: 'dop_v1_unlisted_secret',
        DIGITALOCEAN_RATE_PER_HOUR_QA: '10',
      });
      expect(p).toEqual([
        { variable: 'DIGITALOCEAN_RATE_PER_MINUTE_TEAM_B', reason: 'must be a whole number' },
        { variable: 'DIGITALOCEAN_API_TOKEN_EU2', reason: 'is required: DIGITALOCEAN_ACCOUNTS lists "eu2"' },
        {
          variable: 'DIGITALOCEAN_API_TOKEN_OPS',
          reason: expect.stringContaining('is the same token as DIGITALOCEAN_API_TOKEN'),
        },
        { variable: 'DIGITALOCEAN_ACCOUNTS', reason: 'lists "ops" twice' },
        {
          variable: 'DIGITALOCEAN_API_TOKEN_STAGING',
          reason: 'names account "staging", which DIGITALOCEAN_ACCOUNTS does not list',
        },
        {
          variable: 'DIGITALOCEAN_RATE_PER_HOUR_QA',
          reason: 'names account "qa", which DIGITALOCEAN_ACCOUNTS does not list',
        },
      ]);
      const message = (() => {
        try {
          loadConfig('worker', { ...base, DIGITALOCEAN_ACCOUNTS: 'x', DIGITALOCEAN_API_TOKEN_X: 'do-token' });
        } catch (err) {
          return (err as Error).message;
        }
        return '';
      })();
      expect(message).toContain('DIGITALOCEAN_API_TOKEN_X');
      expect(message).not.toContain('do-token');
    });

    it('refuses bad account names and reserves that leave bulk work nothing', () => {
      for (const bad of ['Team', '9lives', 'a-b', 'default', 'x'.repeat(33)])
        expect(problems('worker', { ...base, DIGITALOCEAN_ACCOUNTS: bad })).toEqual([
          { variable: 'DIGITALOCEAN_ACCOUNTS', reason: expect.any(String) },
        ]);
      expect(problems('worker', { ...base, DIGITALOCEAN_BUDGET_RESERVE_REMEDIATION: '1.5' })).toEqual([
        { variable: 'DIGITALOCEAN_BUDGET_RESERVE_REMEDIATION', reason: expect.any(String) },
      ]);
      expect(
        problems('worker', {
          ...base,
          DIGITALOCEAN_BUDGET_RESERVE_INTERACTIVE: '0.5',
          DIGITALOCEAN_BUDGET_RESERVE_REMEDIATION: '0.5',
        }),
      ).toEqual([
        { variable: 'DIGITALOCEAN_BUDGET_RESERVE_REMEDIATION', reason: expect.stringContaining('bulk') },
      ]);
    });
  });
});
