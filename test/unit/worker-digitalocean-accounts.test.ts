/** The worker's DigitalOcean wiring: a budget and a client per configured account, metrics per account and lane. */
import type Redis from 'ioredis';
import { loadConfig } from '../../src/config';
import { UnknownDigitalOceanAccountError } from '../../src/digitalocean/accounts';
import { budgetKeyBase } from '../../src/digitalocean/budget';
import type { SharedMetrics } from '../../src/observability/shared-metrics';
import { buildDigitalOceanAccounts, recordBudgetAcquire } from '../../src/worker/digitalocean-accounts';
import { baseConfigEnv } from '../helpers/config-env';
import { testLogger } from '../helpers/temporal';

function fakeMetrics() {
  const incs: [string, Record<string, string>, number][] = [];
  const metrics = {
    inc: (name: string, labels: Record<string, string> = {}, by = 1) => incs.push([name, labels, by]),
    set: () => undefined,
  } as unknown as SharedMetrics;
  return { metrics, incs };
}

it('builds one budget (its own keys, its own rates) and one client per account; digitalocean is the default', () => {
  const config = loadConfig('worker', {
    ...baseConfigEnv(),
    REDIS_KEY_PREFIX: 'gcp:',
    DIGITALOCEAN_ACCOUNTS: 'team_b',
    DIGITALOCEAN_API_TOKEN_TEAM_B: 'dop_v1_team_b',
    DIGITALOCEAN_RATE_PER_MINUTE_TEAM_B: '100',
    DIGITALOCEAN_BUDGET_RESERVE_INTERACTIVE: '0.2',
  });
  const built = buildDigitalOceanAccounts({
    config,
    redis: {} as Redis, // building makes no call
    logger: testLogger,
    sharedMetrics: fakeMetrics().metrics,
  })!;
  expect(built.accounts.names).toEqual(['default', 'team_b']);
  expect(built.default).toBe(built.accounts.client());
  expect(built.accounts.client('team_b')).not.toBe(built.default);
  expect(() => built.accounts.client('team_c')).toThrow(UnknownDigitalOceanAccountError);
  const a = built.budgets.get('default')!;
  const b = built.budgets.get('team_b')!;
  expect(a.keys()[0].startsWith(budgetKeyBase('gcp:', 'do-token'))).toBe(true);
  expect(b.keys()[0].startsWith(budgetKeyBase('gcp:', 'dop_v1_team_b'))).toBe(true);
  expect(b.keys().some((k) => a.keys().includes(k))).toBe(false);
  expect(a.reserves).toEqual({ interactive: 0.2, remediation: 0.2 });
  expect(a.limits).toEqual({ perMinute: 250, perHour: 5000 });
  expect(b.limits).toEqual({ perMinute: 100, perHour: 5000 });
});

it('builds nothing without an account', () => {
  const config = loadConfig('migrate', { ...baseConfigEnv(), DIGITALOCEAN_API_TOKEN: '' });
  expect(
    buildDigitalOceanAccounts({
      config,
      redis: {} as Redis,
      logger: testLogger,
      sharedMetrics: fakeMetrics().metrics,
    }),
  ).toBeUndefined();
});

it('counts grants, waits, wait time and give-ups by account and lane', () => {
  const { metrics, incs } = fakeMetrics();
  recordBudgetAcquire(metrics, 'team_b', { lane: 'interactive', outcome: 'granted', waitedMs: 0 });
  recordBudgetAcquire(metrics, 'team_b', {
    lane: 'bulk',
    outcome: 'granted',
    waitedMs: 1_500,
    reason: 'lane',
  });
  recordBudgetAcquire(metrics, 'default', {
    lane: 'remediation',
    outcome: 'exhausted',
    waitedMs: 0,
    reason: 'blocked',
  });
  expect(incs).toEqual([
    ['genesis_digitalocean_budget_grants_total', { account: 'team_b', lane: 'interactive' }, 1],
    ['genesis_digitalocean_budget_grants_total', { account: 'team_b', lane: 'bulk' }, 1],
    ['genesis_digitalocean_budget_waits_total', { account: 'team_b', lane: 'bulk' }, 1],
    ['genesis_digitalocean_budget_wait_seconds_total', { account: 'team_b', lane: 'bulk' }, 1.5],
    [
      'genesis_digitalocean_budget_exhausted_total',
      { account: 'default', lane: 'remediation', reason: 'blocked' },
      1,
    ],
  ]);
});
