/**
 * Structured logs: a line an activity writes names its workflow (workflowId, runId, type) and
 * activity next to its own fields (rolloutId, workspaceId, dropletId); a line written outside any
 * activity carries none of them.
 */
import { Writable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { heartbeatStreamNames } from '../../src/heartbeats/stream';
import { createLogger } from '../../src/logger';
import { logContextActivityInterceptor } from '../../src/worker/log-interceptor';
import { baseActivityDeps } from '../helpers/activity-deps';
import { seedDroplet } from '../helpers/db';
import { useTestStores } from '../helpers/stores';

describe('activity log lines', () => {
  const { db, r } = useTestStores();

  it('carry the workflow and activity, plus what the line is about', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    await seedDroplet(db.pool, { id: 71, workspaceId: 'ws-logs' });
    const acts = createActivities(
      baseActivityDeps({
        pool: db.pool,
        redis: r.redis,
        logger,
        heartbeatStream: heartbeatStreamNames(r.prefix, 'heartbeats', 'drain'),
      }),
    );
    const env = new MockActivityEnvironment({
      workflowExecution: { workflowId: 'rollout-logs-1', runId: 'run-1' },
      workflowType: 'fleetRollout',
      activityType: 'planRollout',
    });
    await env.run(acts.planRollout, {
      rolloutId: 'logs-1',
      kind: 'n8n' as const,
      targetVersion: '1.71.0',
      component: 'n8n',
      selector: { all: true as const },
      canarySize: 1,
      waveSize: 1,
      workflowId: 'rollout-logs-1',
      spec: {},
    });
    // through the worker's activity interceptor: the droplet from the arguments, its workspace bound
    // when the activity reads the droplet's row; every later line of the activity carries both
    const intercepted = new MockActivityEnvironment(
      {
        workflowExecution: { workflowId: 'power-71', runId: 'run-2' },
        workflowType: 'wakeDroplet',
        activityType: 'getDropletRecord',
      },
      { interceptors: [logContextActivityInterceptor] },
    );
    await intercepted.run(
      async (input: { dropletId: number }) => {
        await acts.getDropletRecord(input.dropletId);
        logger.warn('a line that names neither');
      },
      { dropletId: 71 },
    );
    logger.info({ dropletId: 71 }, 'outside any activity');
    await new Promise((res) => setImmediate(res));

    const planned = lines.find((l) => l.msg === 'rollout planned');
    expect(planned).toMatchObject({
      level: 'info',
      rolloutId: 'logs-1',
      workflowId: 'rollout-logs-1',
      runId: 'run-1',
      workflowType: 'fleetRollout',
      activityType: 'planRollout',
      totalTenants: 1,
    });
    expect(lines.find((l) => l.msg === 'a line that names neither')).toMatchObject({
      workflowId: 'power-71',
      activityType: 'getDropletRecord',
      dropletId: 71,
      workspaceId: 'ws-logs',
    });
    const outside = lines.find((l) => l.msg === 'outside any activity');
    expect(outside).toMatchObject({ dropletId: 71 });
    expect(outside).not.toHaveProperty('workflowId');
  });
});
