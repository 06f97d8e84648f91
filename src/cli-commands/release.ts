/**
 * genesis-cp release status|set-current|rollback: Worker Versioning from the terminal. Exit 0 ok,
 * 1 the server refused, 2 usage, 3 the deployment or build is not known to the server.
 */
import type { Command } from 'commander';
import type { Config } from '../config';
import {
  describeRelease,
  ReleaseError,
  rollbackRelease,
  setCurrentRelease,
  type ReleaseTarget,
} from '../temporal/release';
import { EXIT_FAILED, EXIT_NOT_FOUND, fail, withContext, type Ctx } from './operator';
import { print } from './output';

const target = (ctx: Ctx, deployment?: string): ReleaseTarget => ({
  client: ctx.client!,
  pool: ctx.pool!,
  namespace: ctx.config.temporal.namespace,
  deploymentName: deployment ?? ctx.config.worker.deploymentName,
  identity: process.env.USER ? `cli:${process.env.USER}` : 'cli',
});

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ReleaseError) throw fail(err.notFound ? EXIT_NOT_FOUND : EXIT_FAILED, err.message);
    throw err;
  }
}

export function registerReleaseCommands(program: Command, loadConfig: () => Config): void {
  const release = program
    .command('release')
    .description('Worker Versioning: which build of the worker deployment takes new workflows');
  const deploymentOption = '--deployment <name>';
  const deploymentHelp = 'worker deployment (default WORKER_DEPLOYMENT_NAME)';

  release
    .command('status')
    .option(deploymentOption, deploymentHelp)
    .option('--json', 'JSON output')
    .action((o: { deployment?: string; json?: boolean }) =>
      withContext(loadConfig, { temporal: true }, (ctx) =>
        guarded(async () => {
          const s = await describeRelease(
            ctx.client!,
            ctx.config.temporal.namespace,
            target(ctx, o.deployment).deploymentName,
          );
          if (o.json) return print(s as unknown as Record<string, unknown>, true);
          print(
            { deployment: s.deploymentName, current: s.current ?? '-', ramping: s.ramping ?? '-' },
            false,
          );
          print(
            s.versions.map((v) => ({
              build: v.buildId,
              status: v.status,
              drainage: v.drainage ?? '-',
              created: v.createdAt ?? '-',
              last_deactivated: v.lastDeactivated ?? '-',
            })),
            false,
          );
        }),
      ),
    );

  release
    .command('set-current <build-id>')
    .description('new workflows go to this build; running PINNED workflows finish on theirs')
    .option(deploymentOption, deploymentHelp)
    .option('--json', 'JSON output')
    .action((buildId: string, o: { deployment?: string; json?: boolean }) =>
      withContext(loadConfig, { temporal: true, pool: true }, (ctx) =>
        guarded(async () => print(await setCurrentRelease(target(ctx, o.deployment), buildId), !!o.json)),
      ),
    );

  release
    .command('rollback')
    .description('make the build that was current before the present one current again')
    .option(deploymentOption, deploymentHelp)
    .option('--json', 'JSON output')
    .action((o: { deployment?: string; json?: boolean }) =>
      withContext(loadConfig, { temporal: true, pool: true }, (ctx) =>
        guarded(async () => {
          const r = await rollbackRelease(target(ctx, o.deployment));
          print({ rolledBackFrom: r.previous, current: r.current }, !!o.json);
        }),
      ),
    );
}
