/**
 * The contracts name the workflows the worker registers: every contract's workflow type is the
 * exported workflow function of that name (and its declared function type accepts that function),
 * and the message definitions are the objects @temporalio/workflow's define* would make.
 */
import * as wf from '@temporalio/workflow';
import * as workflows from '../../workflows';
import {
  defineQuery,
  defineSignal,
  controlPlaneTaskQueues,
  defineUpdate,
  workflowContracts,
  type FleetProbeWorkflow,
  type FleetRolloutWorkflow,
  type HardRebootWorkflow,
  type HeartbeatDrainWorkflow,
  type HibernateDropletWorkflow,
  type CredentialInjectionWorkflow,
  type N8nContainerUpdateWorkflow,
  type PowerScheduleCommandWorkflow,
  type PowerScheduleTickWorkflow,
  type ScaleAlertsWorkflow,
  type SetAgentDropletIdWorkflow,
  type WakeDropletWorkflow,
  type WatchdogWorkflow,
  type WorkflowUpdateWorkflow,
  type ReconcilerWorkflow,
  type ReconcileTenantWorkflow,
  type SetDesiredStateWorkflow,
  type DesiredStateViewWorkflow,
} from '../../contracts';
import { sha256Hex, startOptions } from '../../src/temporal/start';
import {
  OperationKey,
  RolloutIdKey,
  ReasonKey,
  DropletIdKey,
  WorkspaceIdKey,
} from '../../contracts/search-attributes';

// The declared function types accept the workflow functions (checked by tsc on the test tree).
const declared: Record<keyof typeof workflowContracts, unknown> = {
  wake: workflows.wakeDroplet satisfies WakeDropletWorkflow,
  hibernate: workflows.hibernateDroplet satisfies HibernateDropletWorkflow,
  hardReboot: workflows.hardReboot satisfies HardRebootWorkflow,
  n8nUpdate: workflows.n8nContainerUpdate satisfies N8nContainerUpdateWorkflow,
  credentialInjection: workflows.credentialInjection satisfies CredentialInjectionWorkflow,
  workflowUpdate: workflows.workflowUpdate satisfies WorkflowUpdateWorkflow,
  setAgentDropletId: workflows.setAgentDropletId satisfies SetAgentDropletIdWorkflow,
  fleetRollout: workflows.fleetRollout satisfies FleetRolloutWorkflow,
  heartbeatDrain: workflows.heartbeatDrain satisfies HeartbeatDrainWorkflow,
  watchdog: workflows.watchdog satisfies WatchdogWorkflow,
  scaleAlerts: workflows.scaleAlerts satisfies ScaleAlertsWorkflow,
  powerScheduleTick: workflows.powerScheduleTick satisfies PowerScheduleTickWorkflow,
  powerScheduleCommand: workflows.powerScheduleCommand satisfies PowerScheduleCommandWorkflow,
  fleetProbe: workflows.fleetProbe satisfies FleetProbeWorkflow,
  reconciler: workflows.reconciler satisfies ReconcilerWorkflow,
  reconcileTenant: workflows.reconcileTenant satisfies ReconcileTenantWorkflow,
  setDesiredState: workflows.setDesiredState satisfies SetDesiredStateWorkflow,
  desiredStateView: workflows.desiredStateView satisfies DesiredStateViewWorkflow,
};

describe('workflow contracts', () => {
  it.each(Object.entries(workflowContracts))(
    '%s names the workflow the worker registers',
    (key, contract) => {
      const fn = (workflows as Record<string, unknown>)[contract.workflowType];
      expect(typeof fn).toBe('function');
      expect((fn as () => void).name).toBe(contract.workflowType);
      expect(declared[key as keyof typeof workflowContracts]).toBe(fn);
    },
  );

  it('every workflow the worker registers is started by a contract', () => {
    const types = Object.values(workflowContracts).map((c) => c.workflowType);
    expect(Object.keys(workflows).sort()).toEqual([...new Set(types)].sort());
  });

  it('defines messages as @temporalio/workflow does', () => {
    expect(defineSignal<[{ reason?: string }]>('abort')).toEqual(wf.defineSignal('abort'));
    expect(defineQuery<string>('status')).toEqual(wf.defineQuery('status'));
    expect(defineUpdate<string, [{ by?: string }]>('promote')).toEqual(wf.defineUpdate('promote'));
  });

  it('derives the ids of today (recorded histories and running workflows keep theirs)', () => {
    const ctx = { taskQueue: 'q', sha256Hex };
    const c = workflowContracts;
    expect(c.wake.workflowId({ workspaceId: 'w', dropletId: 7, reason: 'user_login' }, ctx)).toBe('power-7');
    expect(
      c.n8nUpdate.workflowId({ workspaceId: 'w', dropletId: 7, toTag: '1.2.3', autoPromote: true }, ctx),
    ).toBe('n8n-update-7-1.2.3');
    expect(
      c.workflowUpdate.workflowId(
        { workspaceId: 'w', dropletId: 7, workflowName: 'lead', workflowJson: {}, version: 'v2' },
        ctx,
      ),
    ).toBe('workflow-update-7-lead-v2');
    expect(
      c.setAgentDropletId.workflowId({ workspaceId: 'w', dropletId: 7, agentDropletId: '10.0.0.7' }, ctx),
    ).toBe(`agent-droplet-id-7-${sha256Hex('10.0.0.7').slice(0, 12)}`);
    expect(c.fleetRollout.workflowId({ rolloutId: 'r1' } as never, ctx)).toBe('rollout-r1');
    expect(c.heartbeatDrain.workflowId({ consumer: 'drain-2' }, ctx)).toBe('heartbeat-drain/q/2');
    expect(c.watchdog.workflowId({}, ctx)).toBe('watchdog-run/q');
    expect(c.scaleAlerts.workflowId({}, ctx)).toBe('scale-alerts-run/q');
  });

  it('gives the start options of each start: id, conflict and reuse policies, search attributes', () => {
    const wake = { workspaceId: 'ws', dropletId: 7, reason: 'user_login' as const };
    expect(startOptions(workflowContracts.wake, wake, { taskQueue: 'q' })).toEqual({
      taskQueue: 'q-interactive',
      workflowId: 'power-7',
      args: [wake],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [
        { key: OperationKey, value: 'wake' },
        { key: WorkspaceIdKey, value: 'ws' },
        { key: DropletIdKey, value: '7' },
        { key: ReasonKey, value: 'user_login' },
      ],
    });
    const rollout = {
      rolloutId: 'r1',
      kind: 'n8n',
      targetVersion: '2.0.0',
      selector: { all: true },
    } as const;
    expect(startOptions(workflowContracts.fleetRollout, rollout as never, { taskQueue: 'q' })).toMatchObject({
      workflowId: 'rollout-r1',
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: OperationKey, value: 'fleet_rollout' },
        { key: ReasonKey, value: 'n8n->2.0.0' },
        { key: RolloutIdKey, value: 'r1' },
      ],
    });
    const claim = { workspaceId: 'ws', dropletId: 7, agentDropletId: '10.0.0.7' };
    expect(startOptions(workflowContracts.setAgentDropletId, claim, { taskQueue: 'q' })).toMatchObject({
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    expect(
      startOptions(workflowContracts.n8nUpdate, { dropletId: 7 } as never, { taskQueue: 'q' }).taskQueue,
    ).toBe('q');
    // an id given by the caller wins (a manual run, a fixed test id)
    expect(
      startOptions(workflowContracts.scaleAlerts, {}, { taskQueue: 'q', workflowId: 'x' }).workflowId,
    ).toBe('x');
  });

  it('runs a power operation someone waits for, and the drain, on the interactive queue; the rest on the base queue', () => {
    const base = { workspaceId: 'ws', dropletId: 7 };
    const queue = (contract: { taskQueue?(input: never, base: string): string }, input: object) =>
      startOptions(contract as never, input as never, { taskQueue: 'cp' }).taskQueue;
    const c = workflowContracts;
    expect(controlPlaneTaskQueues('cp')).toEqual([
      { queue: 'cp', class: 'default' },
      { queue: 'cp-interactive', class: 'interactive' },
    ]);
    expect(queue(c.wake, { ...base, reason: 'user_login' })).toBe('cp-interactive');
    expect(queue(c.wake, { ...base, reason: 'admin_request' })).toBe('cp-interactive');
    expect(queue(c.wake, { ...base, reason: 'watchdog_recovery' })).toBe('cp');
    expect(queue(c.wake, { ...base, reason: 'scheduled_campaign' })).toBe('cp');
    expect(queue(c.hibernate, base)).toBe('cp-interactive'); // no reason: admin_request
    expect(queue(c.hibernate, { ...base, reason: 'admin_request' })).toBe('cp-interactive');
    expect(queue(c.hibernate, { ...base, reason: 'idle' })).toBe('cp');
    expect(queue(c.hibernate, { ...base, reason: 'scheduled' })).toBe('cp');
    expect(queue(c.hardReboot, { ...base, reason: 'admin_request' })).toBe('cp-interactive');
    expect(queue(c.hardReboot, { ...base, reason: 'watchdog_heartbeat_timeout' })).toBe('cp');
    // the drain lands the keep-alives that verify every wake
    expect(queue(c.heartbeatDrain, { consumer: 'drain-0' })).toBe('cp-interactive');
    // nothing else is routed: every other contract runs on the base queue
    for (const [name, contract] of Object.entries(c))
      if (!['wake', 'hibernate', 'hardReboot', 'heartbeatDrain'].includes(name))
        expect(contract.taskQueue).toBeUndefined();
  });
});
