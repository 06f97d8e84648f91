#!/usr/bin/env node
/**
 * genesis-cp: the control plane's one entry point.
 *   worker | api | all     run the processes (all = both in one, the small-stage default)
 *   migrate                apply database migrations (idempotent)
 *   bundle                 prebuild the workflow bundle for production workers
 *   tokens issue <droplet> create a droplet's heartbeat token (printed once)
 * Every command first reads the deployment's env file (`--dotenv`, GENESIS_ENV_FILE or ./.env;
 * the environment wins), so all processes of one deployment share one source of settings.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage, 3 not found.
 */
import { writeFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig, type Role } from './config';
import { EnvFileError, loadEnvFile } from './env-file';
import { createPool, type DatabaseTarget } from './db/pool';
import { migrate } from './db/migrate';
import { dropletExists } from './db/droplets';
import { issueHeartbeatToken } from './heartbeats/tokens';
import { createLogger, type Logger } from './logger';
import { registerAgentCommands } from './cli-commands/agent';
import { registerDesiredCommands } from './cli-commands/desired';
import { registerFleetCommands } from './cli-commands/fleet';
import { dropletIdArgument, EXIT_NOT_FOUND, fail, registerOperatorCommands } from './cli-commands/operator';
import { registerPowerScheduleCommands } from './cli-commands/power-schedule';
import { registerReleaseCommands } from './cli-commands/release';
import { registerRolloutCommands } from './cli-commands/rollout';
import { startControlPlane } from './control-plane';
import { DEFAULT_SIMULATOR_TOKEN } from './simulator/digitalocean';
import { runFleet } from './simulator/run';

export const EXIT_CONFIG = 2;

function configOrExit(role: Role): ReturnType<typeof loadConfig> {
  try {
    return loadConfig(role);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`genesis-cp: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    throw err;
  }
}

async function runProcess(role: 'worker' | 'api' | 'all'): Promise<void> {
  const config = configOrExit(role);
  const logger = createLogger({ level: config.logLevel, name: `genesis-cp-${role}` });
  await runUntilSignal(logger, async () => {
    if (role !== 'api') await migrateWith(config.database, logger);
    return startControlPlane(role, config, logger);
  });
}

async function runUntilSignal(
  logger: Logger,
  start: () => Promise<{ stop(): Promise<void>; done: Promise<void> }>,
): Promise<void> {
  const cp = await start();
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, 'shutting down');
    cp.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await cp.done;
  } catch (err) {
    logger.fatal({ err }, 'control plane failed');
    await cp.stop().catch(() => undefined);
    process.exit(1);
  }
}

async function migrateWith(db: DatabaseTarget, logger: Logger): Promise<void> {
  const pool = createPool(db, logger, { max: 1 });
  try {
    const result = await migrate(pool, db.schema);
    if (result.movedFromPublic.length > 0)
      logger.info({ schema: db.schema, moved: result.movedFromPublic }, 'moved the tables from public');
    logger.info(
      { schema: db.schema, applied: result.applied, alreadyApplied: result.alreadyApplied.length },
      'migrations',
    );
  } finally {
    await pool.end();
  }
}

export function buildProgram(): Command {
  const program = new Command('genesis-cp')
    .description('Genesis control plane: durable Temporal operations for the droplet fleet')
    .exitOverride()
    .showHelpAfterError()
    .option(
      // not --env-file: Node 20 takes that flag for itself even after the script name
      '--dotenv <file>',
      'read settings from this file first (default: GENESIS_ENV_FILE, else ./.env if present); the environment wins',
    );
  program.hook('preAction', () => {
    try {
      loadEnvFile(program.opts<{ dotenv?: string }>().dotenv);
    } catch (err) {
      if (err instanceof EnvFileError) throw usage(err.message);
      throw err;
    }
  });

  program
    .command('worker')
    .description('run a Temporal worker (workflows + activities)')
    .action(() => runProcess('worker'));
  program
    .command('api')
    .description('run the HTTP API (health, heartbeat ingest)')
    .action(() => runProcess('api'));
  program
    .command('all')
    .description('run worker and API in one process')
    .action(() => runProcess('all'));

  program
    .command('migrate')
    .description('apply database migrations (a re-run applies nothing)')
    .action(async () => {
      const config = configOrExit('migrate');
      const logger = createLogger({ level: config.logLevel, name: 'genesis-cp-migrate' });
      await migrateWith(config.database, logger);
    });

  program
    .command('bundle')
    .description('prebuild the workflow bundle (production workers load it with TEMPORAL_WORKFLOW_BUNDLE)')
    .requiredOption('--out <file>', 'where to write the bundle')
    .action(async (opts: { out: string }) => {
      const { bundleWorkflowCode } = await import('@temporalio/worker');
      const { workflowInterceptorModules, workflowsSourcePath } = await import('./worker/worker');
      const { code } = await bundleWorkflowCode({
        workflowsPath: workflowsSourcePath(),
        workflowInterceptorModules: workflowInterceptorModules(),
      });
      writeFileSync(opts.out, code);
      process.stdout.write(`workflow bundle written to ${opts.out} (${code.length} bytes)\n`);
    });

  program
    .command('simulate')
    .description(
      'run a fleet simulator: DigitalOcean API + N sidecar agents heartbeating to the control plane',
    )
    .option('--agents <n>', 'number of agents', '50')
    .option('--first-droplet-id <id>', 'droplet id of the first agent', '1000001')
    .option('--dashboard-url <url>', 'control-plane API base URL the agents send heartbeats to')
    .option('--interval <ms>', 'heartbeat interval', '60000')
    .option('--native', 'send native heartbeats instead of the v1 handshake keep-alives the fleet sends')
    .option('--legacy', 'deprecated, no effect: v1 handshakes are the default')
    .option('--faults <spec>', 'faulty agents, e.g. crash:2,degraded:2,hang:1,bootFailure:1')
    .option('--do-port <port>', 'port of the DigitalOcean API simulator', '0')
    .option('--no-seed', 'do not write workspaces/droplets/tokens into DATABASE_URL')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const config = configOrExit('cli');
      const logger = createLogger({ level: config.logLevel, name: 'genesis-cp-simulate' });
      if (!config.sidecar.jwtPrivateKey)
        throw usage('SIDECAR_JWT_PRIVATE_KEY is needed: the agents verify commands with its public half');
      const pool = o.seed === false ? undefined : createPool(config.database, logger, { max: 2 });
      const fleet = await runFleet({
        agents: positive(o.agents, '--agents'),
        firstDropletId: positive(o.firstDropletId, '--first-droplet-id'),
        dashboardUrl: o.dashboardUrl as string | undefined,
        heartbeatIntervalMs: positive(o.interval, '--interval'),
        heartbeatMode: o.native ? 'native' : 'v1',
        handshakeSecret: config.sidecar.handshakeSecret,
        jwtPrivateKey: config.sidecar.jwtPrivateKey,
        doPort: Number(o.doPort ?? 0),
        doToken: config.digitalocean.token ?? DEFAULT_SIMULATOR_TOKEN,
        faults: o.faults as string | undefined,
        pool,
        logger,
      });
      process.stdout.write(
        `DigitalOcean simulator: DIGITALOCEAN_API_URL=${fleet.digitalocean.url} (token: DIGITALOCEAN_API_TOKEN)\n`,
      );
      await runUntilSignal(logger, async () => ({
        done: new Promise<void>(() => undefined),
        async stop() {
          await fleet.close();
          await pool?.end();
        },
      }));
    });

  program
    .command('dev')
    .description('development: the fleet simulator plus worker and API in one process')
    .option('--native', 'simulated agents send native heartbeats instead of v1 handshake keep-alives')
    .action(async (o: { native?: boolean }) => {
      const agents = Number(process.env.DEV_AGENTS ?? 50);
      const doPort = Number(process.env.DEV_DIGITALOCEAN_PORT ?? 8091);
      process.env.DIGITALOCEAN_API_URL ??= `http://127.0.0.1:${doPort}`;
      process.env.DIGITALOCEAN_API_TOKEN ??= DEFAULT_SIMULATOR_TOKEN;
      const config = configOrExit('all');
      const logger = createLogger({ level: config.logLevel, name: 'genesis-cp-dev' });
      await migrateWith(config.database, logger);
      const pool = createPool(config.database, logger, { max: 2 });
      let fleet: Awaited<ReturnType<typeof runFleet>> | undefined;
      await runUntilSignal(logger, async () => {
        const cp = await startControlPlane('all', config, logger);
        fleet = await runFleet({
          agents,
          firstDropletId: 1_000_001,
          dashboardUrl: `http://127.0.0.1:${cp.port}`,
          heartbeatIntervalMs: Number(process.env.DEV_HEARTBEAT_INTERVAL_MS ?? 15_000),
          heartbeatMode: o.native ? 'native' : 'v1',
          handshakeSecret: config.sidecar.handshakeSecret,
          jwtPrivateKey: config.sidecar.jwtPrivateKey!,
          doPort,
          doToken: config.digitalocean.token!,
          faults: process.env.DEV_FAULTS ?? 'crash:2,degraded:2,recoverOnlyAfterPowerCycle:1,bootFailure:1',
          pool,
          logger,
        });
        return {
          done: cp.done,
          async stop() {
            await fleet?.close();
            await cp.stop();
            await pool.end();
          },
        };
      });
    });

  registerOperatorCommands(program, () => configOrExit('cli'));
  registerFleetCommands(program, () => configOrExit('cli'));
  registerRolloutCommands(program, () => configOrExit('cli'));
  registerAgentCommands(program, () => configOrExit('cli'));
  registerDesiredCommands(program, () => configOrExit('cli'));
  registerReleaseCommands(program, () => configOrExit('cli'));
  registerPowerScheduleCommands(program, () => configOrExit('cli'));

  const tokens = program.command('tokens').description('per-droplet heartbeat tokens');
  tokens
    .command('issue')
    .argument('<dropletId>', 'DigitalOcean droplet id', dropletIdArgument)
    .description('create or replace a droplet heartbeat token; prints it once')
    .action(async (id: number) => {
      const config = configOrExit('cli');
      const logger = createLogger({ level: 'warn' });
      const pool = createPool(config.database, logger, { max: 1 });
      try {
        if (!(await dropletExists(pool, id))) throw fail(EXIT_NOT_FOUND, `droplet ${id} is not known`);
        process.stdout.write(`${await issueHeartbeatToken(pool, id)}\n`);
      } finally {
        await pool.end();
      }
    });

  return program;
}

function usage(message: string): CommanderError {
  return new CommanderError(EXIT_CONFIG, 'genesis-cp.usage', message);
}

function positive(v: unknown, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw usage(`${flag} must be a positive whole number`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
      if (err.code.startsWith('genesis-cp.')) process.stderr.write(`genesis-cp: ${err.message}\n`);
      process.exit(err.exitCode === 1 && err.code.startsWith('commander.') ? EXIT_CONFIG : err.exitCode);
    }
    process.stderr.write(`genesis-cp: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (require.main === module) void main(process.argv);
