/**
 * Where and as whom to reach a droplet's agent: its sidecar_url and the droplet_id claim it was
 * provisioned with. The claim is what the control plane recorded (learned from the agent's own
 * registration, or set by an operator or the dashboard); a droplet registered before that was
 * recorded falls back to the fleet's convention, the host of its sidecar_url (its public IPv4).
 * The DigitalOcean numeric id is never assumed.
 */
import { agentDropletIdFromUrl } from '../heartbeats/heartbeat';
import type { SidecarTarget } from './client';

export interface DropletAgentFacts {
  workspace_id: string;
  sidecar_url: string | null;
  agent_droplet_id: string | null;
}

export function sidecarTargetOf(row: DropletAgentFacts): SidecarTarget | undefined {
  if (!row.sidecar_url) return undefined;
  const agentDropletId = row.agent_droplet_id ?? agentDropletIdFromUrl(row.sidecar_url);
  if (!agentDropletId) return undefined;
  return { sidecarUrl: row.sidecar_url, workspaceId: row.workspace_id, agentDropletId };
}
