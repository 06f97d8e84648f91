/**
 * genesis-cp agent-id <droplet> [value]: shows, or sets, the droplet_id claim a droplet's agent
 * checks (its provisioned DROPLET_ID). Learned from the agent's registration (the host of its
 * sidecar_url) unless set here or by the dashboard; a handshake never overrides a value set here.
 * Exit 3 for an unknown droplet, 2 for a bad value.
 */
import { type Command, CommanderError } from 'commander';
import type { Config } from '../config';
import { getDroplet, setAgentDropletId } from '../db/droplets';
import { invalidAgentDropletId } from '../domain/changes';
import { sidecarTargetOf } from '../sidecar/target';
import { EXIT_NOT_FOUND, EXIT_USAGE, fail, withContext } from './operator';
import { print } from './output';

export function registerAgentCommands(program: Command, loadConfig: () => Config): void {
  program
    .command('agent-id <droplet> [value]')
    .description("show or set the droplet_id claim the droplet's agent checks (its provisioned DROPLET_ID)")
    .option('--json', 'JSON output')
    .action((droplet: string, value: string | undefined, o: { json?: boolean }) =>
      withContext(loadConfig, { pool: true }, async ({ pool }) => {
        const dropletId = Number(droplet);
        const row = /^\d{1,15}$/.test(droplet) ? await getDroplet(pool!, dropletId) : undefined;
        if (!row) throw fail(EXIT_NOT_FOUND, `droplet ${droplet} is not known`);
        if (value !== undefined) {
          const problem = invalidAgentDropletId({
            workspaceId: row.workspace_id,
            dropletId,
            agentDropletId: value,
          });
          if (problem) throw new CommanderError(EXIT_USAGE, 'genesis-cp.usage', problem);
          await setAgentDropletId(pool!, dropletId, value, 'operator');
        }
        const now = (await getDroplet(pool!, dropletId))!;
        print(
          [
            {
              droplet: dropletId,
              agentDropletId: sidecarTargetOf(now)?.agentDropletId ?? '-',
              source: now.agent_droplet_id_source ?? (now.sidecar_url ? 'sidecar_url host' : '-'),
              capabilities: (now.agent_capabilities ?? []).join(',') || '-',
              registeredAt: now.agent_registered_at?.toISOString() ?? '-',
            },
          ],
          !!o.json,
        );
      }),
    );
}
