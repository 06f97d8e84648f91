/**
 * Records the `droplet_id` claim a droplet's agent was provisioned with, for droplets whose
 * DROPLET_ID is not the fleet's convention (the host of its sidecar_url, learned at registration):
 * the dashboard knows what provisioning wrote. Validated, ownership checked, one write; every
 * later command is signed with it and a handshake never overrides it.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { invalidAgentDropletId, type SetAgentDropletIdInput } from '../../src/domain/changes';
import { loadOwnedDroplet } from '../droplet-prologue';
import { requireValidInput } from '../input';
import { dbPolicy } from '../policies';

const { recordAgentDropletId } = proxyActivities<Pick<Activities, 'recordAgentDropletId'>>(dbPolicy);

/** The droplet-operation prologue without a status (one write: nothing to report while it runs). */
export async function setAgentDropletId(input: SetAgentDropletIdInput): Promise<{ agentDropletId: string }> {
  requireValidInput(input, invalidAgentDropletId);
  await loadOwnedDroplet(input);
  await recordAgentDropletId({
    dropletId: input.dropletId,
    agentDropletId: input.agentDropletId,
    source: 'client',
  });
  return { agentDropletId: input.agentDropletId };
}
