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
  defineUpdate,
  workflowContracts,
  type FleetRolloutWorkflow,
  type HardRebootWorkflow,
  type HeartbeatDrainWorkflow,
  type HibernateDropletWorkflow,
  type CredentialInjectionWorkflow,
  type N8nContainerUpdateWorkflow,
  type ScaleAlertsWorkflow,
  type SetAgentDropletIdWorkflow,
  type WakeDropletWorkflow,
  type WatchdogWorkflow,
  type WorkflowUpdateWorkflow,
} from '../../contracts';
import { sha256Hex } from '../../src/temporal/start';

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
});
