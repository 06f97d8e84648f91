/** The power cohort batcher a worker's activities share (src/digitalocean/cohorts.ts), over Postgres. */
import { digitaloceanOf, portsOf, type ActivityDeps } from '../../activities/deps';
import { PowerCohorts, type CohortSettings, type CohortStore } from '../digitalocean/cohorts';
import type { Logger } from '../logger';

/**
 * The batcher over `deps`' repositories and DigitalOcean accounts; sweeping when `sweepEveryMs` is
 * given, until `stop`, which also sends what lingers at once (the worker is shutting down).
 */
export function createPowerCohorts(
  deps: ActivityDeps,
  opts: { logger: Logger; settings?: Partial<CohortSettings>; sweepEveryMs?: number; stop?: AbortSignal },
): PowerCohorts {
  const ports = portsOf(deps);
  const store: CohortStore = {
    create: ports.powerCohorts.create,
    recordMembers: ports.powerActions.recordCohort,
    recordActionIds: ports.powerActions.recordActionIds,
    recordActed: ports.powerCohorts.recordActed,
    recordDeleted: ports.powerCohorts.recordDeleted,
    undeleted: ports.powerCohorts.undeleted,
  };
  const cohorts = new PowerCohorts({
    clientOf: (account) => {
      const client = digitaloceanOf(deps, account);
      if (!client) throw new Error(`no DigitalOcean client for account ${account}`);
      return client;
    },
    store,
    logger: opts.logger,
    settings: opts.settings,
    stop: opts.stop,
  });
  if (opts.sweepEveryMs) cohorts.startSweeping(opts.sweepEveryMs, opts.stop);
  return cohorts;
}
