/**
 * The drain's remediation seam, wired to Temporal: a fresh heartbeat from a droplet under
 * remediation is signalled to that droplet's single-flight power workflow (`power-<dropletId>`),
 * which uses it as event-driven verification. No running power workflow: nothing to tell.
 */
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { RemediationNotifier } from '../../activities/deps';
import { heartbeatObservedSignal, powerIds } from '../../contracts/power';
import type { Logger } from '../logger';

export function temporalRemediationNotifier(client: Client, logger: Logger): RemediationNotifier {
  return {
    async heartbeatsObserved(observed) {
      await Promise.all(
        observed.map(async (o) => {
          try {
            await client.workflow.getHandle(powerIds.power(o.dropletId)).signal(heartbeatObservedSignal, {
              observedAt: o.observedAt,
              n8nStatus: o.n8nStatus,
              sidecarVersion: o.sidecarVersion,
            });
          } catch (err) {
            if (err instanceof WorkflowNotFoundError) return;
            logger.warn(
              { dropletId: o.dropletId, workspaceId: o.workspaceId, err: (err as Error).message },
              'could not signal power workflow of a droplet under remediation',
            );
          }
        }),
      );
    },
  };
}
