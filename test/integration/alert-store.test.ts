/** The alert lifecycle against a real, migrated Postgres: open, dedupe, notify rules, resolve. */
import {
  alertFromRow,
  listOpenAlerts,
  markNotified,
  raiseAlert,
  releaseNotification,
  resolveAlert,
  type RaiseAlertInput,
} from '../../src/db/alerts';
import { createTestDatabase, seedDroplet, type TestDatabase } from '../helpers/db';

const HOUR = 60 * 60 * 1000;
const T0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('alert store', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ poolMax: 10 });
    await seedDroplet(db.pool, { id: 42, workspaceId: 'ws-1' });
  });
  afterAll(() => db.drop());

  const cpu = (over: Partial<RaiseAlertInput> = {}): RaiseAlertInput => ({
    key: 'droplet:42:cpu',
    kind: 'resource_breach',
    severity: 'warning',
    title: 'Droplet 42: cpu 93% > 90%',
    message: 'cpu at 93.0% (threshold 90%)',
    reason: 'cpu_above_threshold',
    workspaceId: 'ws-1',
    dropletId: 42,
    value: 93,
    threshold: 90,
    ...over,
  });
  const rowsOf = async (key: string) =>
    (await db.pool.query('SELECT id, status FROM alerts WHERE key = $1 ORDER BY id', [key])).rows;

  it('opens an alert on the first breach and says to notify', async () => {
    const r = await raiseAlert(db.pool, cpu(), T0);
    expect(r.opened).toBe(true);
    expect(r.notify).toBe(true);
    expect(r.alert).toMatchObject({
      key: 'droplet:42:cpu',
      kind: 'resource_breach',
      severity: 'warning',
      status: 'open',
      title: 'Droplet 42: cpu 93% > 90%',
      reason: 'cpu_above_threshold',
      workspaceId: 'ws-1',
      dropletId: 42,
      workflowId: null,
      value: 93,
      threshold: 90,
      notifiedSeverity: null,
      lastNotifiedAt: null,
      resolvedAt: null,
    });
    expect(r.alert.openedAt).toEqual(T0);
    expect(typeof r.alert.id).toBe('number');
    const open = await listOpenAlerts(db.pool);
    expect(open.map((a) => a.key)).toEqual(['droplet:42:cpu']);
  });

  it('does not duplicate on a repeated raise, updates the values, and stays quiet once notified', async () => {
    const [first] = await listOpenAlerts(db.pool);
    await markNotified(db.pool, first.id, 'warning', T0);
    const again = await raiseAlert(db.pool, cpu({ value: 95, workflowId: 'watchdog-1' }), at(60_000));
    expect(again).toMatchObject({ opened: false, notify: false });
    expect(again.alert).toMatchObject({
      id: first.id,
      value: 95,
      workflowId: 'watchdog-1',
      notifiedSeverity: 'warning',
      lastNotifiedAt: T0,
    });
    expect(again.alert.updatedAt).toEqual(at(60_000));
    // later raises without a workflow id keep the one already recorded
    const third = await raiseAlert(db.pool, cpu({ value: 94 }), at(120_000));
    expect(third.alert.workflowId).toBe('watchdog-1');
    expect(await rowsOf('droplet:42:cpu')).toHaveLength(1);
  });

  it('notifies again on a severity change (up and down), once per change', async () => {
    const up = await raiseAlert(db.pool, cpu({ severity: 'critical' }), at(HOUR));
    expect(up.notify).toBe(true);
    await markNotified(db.pool, up.alert.id, 'critical', at(HOUR));
    expect((await raiseAlert(db.pool, cpu({ severity: 'critical' }), at(HOUR + 1000))).notify).toBe(false);
    const down = await raiseAlert(db.pool, cpu({ severity: 'warning' }), at(HOUR + 2000));
    expect(down.notify).toBe(true);
    await markNotified(db.pool, down.alert.id, 'warning', at(HOUR + 2000));
    expect((await raiseAlert(db.pool, cpu(), at(HOUR + 3000))).notify).toBe(false);
    expect(await rowsOf('droplet:42:cpu')).toHaveLength(1);
  });

  it('re-notifies a still-critical alert only after renotifyAfterMs (default 4 h); a warning never', async () => {
    const key = 'droplet:42:zombie';
    const input = cpu({ key, kind: 'droplet_zombie', severity: 'critical', workflowId: 'power-42' });
    const opened = await raiseAlert(db.pool, input, T0);
    expect(opened.notify).toBe(true);
    await markNotified(db.pool, opened.alert.id, 'critical', T0);
    expect((await raiseAlert(db.pool, input, at(3 * HOUR))).notify).toBe(false);
    expect((await raiseAlert(db.pool, input, at(4 * HOUR - 1))).notify).toBe(false);
    const due = await raiseAlert(db.pool, input, at(4 * HOUR));
    expect(due.notify).toBe(true);
    await markNotified(db.pool, due.alert.id, 'critical', at(4 * HOUR));
    expect((await raiseAlert(db.pool, input, at(5 * HOUR))).notify).toBe(false);
    // a custom interval
    expect((await raiseAlert(db.pool, input, at(5 * HOUR), { renotifyAfterMs: HOUR })).notify).toBe(true);

    const wKey = 'droplet:42:disk';
    const w = await raiseAlert(db.pool, cpu({ key: wKey }), T0);
    await markNotified(db.pool, w.alert.id, 'warning', T0);
    expect((await raiseAlert(db.pool, cpu({ key: wKey }), at(48 * HOUR))).notify).toBe(false);
  });

  it('under 20 concurrent raises of a new key: one alert row, one notification', async () => {
    const key = 'watchdog:storm';
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        raiseAlert(
          db.pool,
          { key, kind: 'watchdog_storm', severity: 'critical', message: `storm ${i}`, value: i },
          T0,
        ),
      ),
    );
    expect(await rowsOf(key)).toHaveLength(1);
    expect(new Set(results.map((r) => r.alert.id)).size).toBe(1);
    expect(results.filter((r) => r.opened)).toHaveLength(1);
    expect(results.filter((r) => r.notify)).toHaveLength(1);
  });

  it('a notification claim blocks other raisers until marked, released or lapsed; its holder may retake it', async () => {
    const key = 'droplet:42:memory';
    const input = cpu({ key });
    const first = await raiseAlert(db.pool, input, T0, { claimToken: 'activity-1' });
    expect(first.notify).toBe(true);
    // the send is in flight: others do not notify, the same activity retrying does
    expect((await raiseAlert(db.pool, input, at(1000))).notify).toBe(false);
    expect((await raiseAlert(db.pool, input, at(2000), { claimToken: 'activity-1' })).notify).toBe(true);
    // the send failed: release, and the next raise notifies
    await releaseNotification(db.pool, first.alert.id);
    const second = await raiseAlert(db.pool, input, at(3000));
    expect(second.notify).toBe(true);
    // its holder died: the claim lapses after claimTtlMs (default 5 min)
    expect((await raiseAlert(db.pool, input, at(3000 + 4 * 60_000))).notify).toBe(false);
    expect((await raiseAlert(db.pool, input, at(3000 + 5 * 60_000))).notify).toBe(true);
  });

  it('resolves once: only the resolving call gets the row (also when resolves race)', async () => {
    const resolved = await resolveAlert(db.pool, 'droplet:42:cpu', at(2 * HOUR));
    expect(resolved).toMatchObject({
      key: 'droplet:42:cpu',
      status: 'resolved',
      notifiedSeverity: 'warning',
    });
    expect(resolved?.resolvedAt).toEqual(at(2 * HOUR));
    expect(await resolveAlert(db.pool, 'droplet:42:cpu', at(2 * HOUR + 1))).toBeUndefined();
    expect(await resolveAlert(db.pool, 'no-such-key')).toBeUndefined();

    const raced = await Promise.all(Array.from({ length: 5 }, () => resolveAlert(db.pool, 'watchdog:storm')));
    expect(raced.filter((r) => r !== undefined)).toHaveLength(1);

    const open = await listOpenAlerts(db.pool);
    expect(open.map((a) => a.key)).not.toContain('droplet:42:cpu');
    expect(open.map((a) => a.key)).not.toContain('watchdog:storm');
    // most severe first
    expect(open[0].severity).toBe('critical');
  });

  it('builds the resolution message from the resolved row', async () => {
    const r = await raiseAlert(db.pool, cpu({ key: 'droplet:42:n8n', workflowId: 'power-42' }), T0);
    const resolved = await resolveAlert(db.pool, 'droplet:42:n8n', at(1000));
    expect(resolved).toBeDefined();
    expect(alertFromRow(resolved!)).toEqual({
      key: 'droplet:42:n8n',
      kind: 'resource_breach',
      severity: 'warning',
      status: 'resolved',
      title: 'Droplet 42: cpu 93% > 90%',
      message: 'cpu at 93.0% (threshold 90%)',
      reason: 'cpu_above_threshold',
      workspaceId: 'ws-1',
      dropletId: 42,
      workflowId: 'power-42',
      value: 93,
      threshold: 90,
    });
    expect(alertFromRow(r.alert).status).toBe('firing');
  });

  it('a new breach after resolution opens a new alert and notifies', async () => {
    const r = await raiseAlert(db.pool, cpu({ value: 97 }), at(3 * HOUR));
    expect(r).toMatchObject({ opened: true, notify: true });
    expect(r.alert.notifiedSeverity).toBeNull();
    const rows = await rowsOf('droplet:42:cpu');
    expect(rows.map((x) => x.status)).toEqual(['resolved', 'open']);
    expect(Number(rows[1].id)).toBe(r.alert.id);
  });

  it('raises and resolves racing on one key never leave two open alerts', async () => {
    const key = 'droplet:42:flap';
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        i % 3 === 2 ? resolveAlert(db.pool, key) : raiseAlert(db.pool, cpu({ key, value: i })),
      ),
    );
    const open = await db.pool.query(
      `SELECT count(*)::int AS n FROM alerts WHERE key = $1 AND status = 'open'`,
      [key],
    );
    expect(open.rows[0].n).toBeLessThanOrEqual(1);
  });
});
