/** The watchdog alerts when the heartbeat buffer backs up (the drain is behind or down), once, and resolves. */
import { MockActivityEnvironment } from '@temporalio/testing';
import { createWatchdogActivities } from '../../activities/watchdog';
import { AlertNotifier } from '../../src/alerts/channels';
import { listOpenAlerts } from '../../src/db/alerts';
import { alertSink } from '../../src/alerts/sink';
import { appendHeartbeats, heartbeatStreamNames } from '../../src/heartbeats/stream';
import { baseActivityDeps } from '../helpers/activity-deps';
import { useTestStores } from '../helpers/stores';
import { testLogger } from '../helpers/temporal';

describe('heartbeat backlog alert', () => {
  const { db, r } = useTestStores();

  it('opens one alert above the threshold and resolves it when the buffer drains', async () => {
    const stream = heartbeatStreamNames(r.prefix, 'heartbeats', 'drain');
    const sent: string[] = [];
    const notifier = new AlertNotifier(
      [{ name: 'memory', send: async (a) => void sent.push(`${a.status}:${a.key}`) }],
      testLogger,
    );
    const acts = createWatchdogActivities(
      baseActivityDeps(
        { pool: db.pool, redis: r.redis, logger: testLogger, heartbeatStream: stream },
        { alerts: alertSink(db.pool, notifier) },
      ),
    );
    const env = new MockActivityEnvironment();
    for (let i = 0; i < 12; i++) await appendHeartbeats(r.redis, stream, [{ w: 'ws', t: Date.now() }]);
    expect(await env.run(acts.checkHeartbeatBacklog, 10)).toMatchObject({ length: 12, alerting: true });
    expect(await env.run(acts.checkHeartbeatBacklog, 10)).toMatchObject({ alerting: true });
    expect((await listOpenAlerts(db.pool)).map((a) => a.key)).toEqual(['heartbeats:backlog']);
    await r.redis.del(stream.key);
    expect(await env.run(acts.checkHeartbeatBacklog, 10)).toMatchObject({ length: 0, alerting: false });
    expect(await listOpenAlerts(db.pool)).toEqual([]);
    expect(sent).toEqual(['firing:heartbeats:backlog', 'resolved:heartbeats:backlog']);
  });
});
