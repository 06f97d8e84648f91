/**
 * Records the `droplet_id` claim a droplet's agent was provisioned with, for droplets whose
 * DROPLET_ID is not the fleet's convention (the host of its sidecar_url, learned at registration):
 * the dashboard knows what provisioning wrote. Validated, ownership checked, one write; every
 * later command is signed with it and a handshake never overrides it.
 */
import { invalidAgentDropletId, type SetAgentDropletIdInput } from '../../src/domain/changes';
import { db } from './activities';
import { requireValid } from './input';
import { requireDropletOfWorkspace } from '../droplet-owner';

export async function setAgentDropletId(input: SetAgentDropletIdInput): Promise<{ agentDropletId: string }> {
  requireValid(input, invalidAgentDropletId);
  const droplet = await db.getDropletRecord(input.dropletId);
  requireDropletOfWorkspace(droplet, input.workspaceId);
  await db.recordAgentDropletId({
    dropletId: input.dropletId,
    agentDropletId: input.agentDropletId,
    source: 'client',
  });
  return { agentDropletId: input.agentDropletId };
}
