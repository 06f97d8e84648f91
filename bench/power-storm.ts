/**
 * npm run bench:power-storm -- a storm of power operations inside DigitalOcean's PRODUCTION
 * budget (250 requests/min, 5,000/h per token, enforced by the DigitalOcean simulator and by the
 * control plane's own budget): BENCH_WAKES droplets woken at once (reason scheduled_campaign, the
 * bulk lane), then BENCH_HIBERNATES hibernated at once (reason scheduled), and 20 `user_login`
 * wakes (BENCH_INTERACTIVE) issued while the wake storm runs (once BENCH_INTERACTIVE_AT of it is
 * verified), compared with the same 20 on the idle system before the storm.
 *
 * The control plane is the BUILT one (dist/src/cli.js all: worker + API, as deployed) against the
 * v1 sidecar simulator (keep-alives every BENCH_KEEPALIVE_MS to its API, the heartbeat drain, the
 * health gate) and the DigitalOcean simulator (actions take BENCH_ACTION_DELAY_MS, agents boot in
 * BENCH_BOOT_DELAY_MS). Then the same workload on the baseline (BENCH_BASELINE_REF, default
 * 120ec4b: the main before issue 16), checked out with `git worktree add` into a temporary
 * folder, built with its own tsc and bundle, its worker on its own database and task queue
 * against a fresh simulator of the same settings; BENCH_BASELINE_OPS wakes and as many
 * hibernations (default 200: at ~3.5 calls per wake today, 1,000 would take 14 minutes of budget),
 * BENCH_BASELINE=off skips it. The ratios compare calls per operation (operations per budget)
 * and operations per minute.
 *
 * Printed per run: DigitalOcean calls per operation by endpoint (the simulator's request log),
 * operations per minute, p50/p99 from request (the start call) to verified (the workflow's close),
 * the budget used in the peak sliding minute and hour (asserted never above the limit), 429s,
 * failures, and the interactive p99 idle vs in the storm.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type Workflow } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { controlPlaneTaskQueues } from '../contracts/task-queues';
import type { WakeReason } from '../src/domain/power';
import { createFleetSimulator, type FleetSimulator } from '../src/simulator/fleet';
import type { RequestLogEntry } from '../src/simulator/digitalocean/request-log';
import { maxInAnyWindow } from '../src/simulator/digitalocean/rate-limiter';
import { hibernateContract, wakeContract, type WorkflowContract } from '../contracts';
import { startOptions, startWorkflow } from '../src/temporal/start';
import { createDatabase } from '../test/helpers/db';
import { rsaTestKeys } from '../test/helpers/keys';
import { freePort } from '../test/helpers/throwaway';
import { ADMIN_URL, machine, percentile, REDIS_URL, startTemporalDevServer } from './common';

const num = (name: string, dflt: number) => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return v;
};
const WAKES = num('BENCH_WAKES', 1_000);
const HIBERNATES = num('BENCH_HIBERNATES', 1_000);
const INTERACTIVE = num('BENCH_INTERACTIVE', 20);
const INTERACTIVE_AT = num('BENCH_INTERACTIVE_AT', 0.25);
const BASELINE_OPS = num('BENCH_BASELINE_OPS', 200);
const BASELINE_REF = process.env.BENCH_BASELINE_REF ?? '120ec4b';
const BASELINE = (process.env.BENCH_BASELINE ?? 'on') !== 'off';
const KEEPALIVE_MS = num('BENCH_KEEPALIVE_MS', 15_000);
const ACTION_DELAY_MS = num('BENCH_ACTION_DELAY_MS', 2_000);
const BOOT_DELAY_MS = num('BENCH_BOOT_DELAY_MS', 2_000);
const PER_MINUTE = num('BENCH_DO_PER_MINUTE', 250);
const PER_HOUR = num('BENCH_DO_PER_HOUR', 5_000);
const PHASE_TIMEOUT_MS = num('BENCH_PHASE_TIMEOUT_MIN', 60) * 60_000;
const START_CONCURRENCY = 50;
/** WORKER_MAX_CACHED_WORKFLOWS of both runs' worker (the production default, 100, is for a steady fleet) */
const MAX_CACHED = num('BENCH_MAX_CACHED_WORKFLOWS', 2_500);
/** BENCH_INTERACTIVE_POOL=1: this checkout's interactive queue polled by a `worker` process of its own */
const POOL = process.env.BENCH_INTERACTIVE_POOL === '1';
/** extra environment of this checkout's control plane (BENCH_CP_ENV=NAME=value,...), printed */
const CP_ENV: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_CP_ENV ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => {
      const i = kv.indexOf('=');
      if (i < 1) throw new Error(`BENCH_CP_ENV: ${kv} is not NAME=value`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
);

const ROOT = resolve(__dirname, '../..');
const SECRET = 'bench-power-storm-handshake-secret';
const privateKeyPem = rsaTestKeys().privatePem;

interface Op {
  dropletId: number;
  workspaceId: string;
  workflowId: string;
  requestedAt: number;
  closedAt?: number;
  status?: string;
}

interface OpStats {
  n: number;
  failed: number;
  calls: number;
  callsPerOp: number;
  byEndpoint: Record<string, number>;
  opsPerMin: number;
  p50S: number;
  p99S: number;
  wallS: number;
}

interface RunResult {
  label: string;
  wakes: OpStats;
  hibernates: OpStats;
  idleInteractiveP99S: number;
  stormInteractiveP99S: number;
  stormInteractiveP50S: number;
  interactiveFailed: number;
  /** where the interactive wakes' time went (p50 per phase), idle and in the storm */
  idlePhases: Phases;
  stormPhases: Phases;
  peakMinute: number;
  peakHour: number;
  rejected429: number;
}

/**
 * Where an operation's time went, from its workflow history: waiting for a worker to pick up its
 * workflow tasks and its activity tasks (the queue), running activities (by type), and the rest
 * (timers and signals: waiting for the droplet and its agent). Seconds, p50 over the operations.
 */
type Phases = Record<string, number>;

function phasesOfHistory(events: temporal.api.history.v1.IHistoryEvent[]): Phases {
  const at = (e: temporal.api.history.v1.IHistoryEvent) => tsToMs(e.eventTime);
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const out: Phases = { 'workflow task queue': 0, 'workflow task run': 0, 'activity queue': 0 };
  const { EventType } = temporal.api.enums.v1;
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) {
      const s = byId.get(Number(e.workflowTaskStartedEventAttributes?.scheduledEventId));
      if (s) out['workflow task queue']! += at(e) - at(s);
    } else if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      const s = byId.get(Number(e.workflowTaskCompletedEventAttributes?.startedEventId));
      if (s) out['workflow task run']! += at(e) - at(s);
    } else if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
      const s = byId.get(Number(e.activityTaskStartedEventAttributes?.scheduledEventId));
      if (s) out['activity queue']! += at(e) - at(s);
    } else if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const a = e.activityTaskCompletedEventAttributes;
      const started = byId.get(Number(a?.startedEventId));
      const scheduled = byId.get(Number(a?.scheduledEventId));
      const name = `activity ${scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?'}`;
      if (started) out[name] = (out[name] ?? 0) + at(e) - at(started);
    }
  }
  const total = at(events[events.length - 1]!) - at(events[0]!);
  out['timers and signals (the droplet)'] = total - Object.values(out).reduce((a, b) => a + b, 0);
  out.total = total;
  return out;
}

async function phasesOf(client: Client, ops: Iterable<Op>): Promise<Phases> {
  const each: Phases[] = [];
  for (const op of ops) {
    const history = await client.workflow.getHandle(op.workflowId).fetchHistory();
    each.push(phasesOfHistory(history.events ?? []));
  }
  const names = [...new Set(each.flatMap((p) => Object.keys(p)))];
  return Object.fromEntries(
    names.map((n) => [
      n,
      percentile(
        each.map((p) => (p[n] ?? 0) / 1000).sort((a, b) => a - b),
        50,
      ),
    ]),
  );
}

/** What a request log entry was, by endpoint (ids folded). */
const endpoint = (e: RequestLogEntry) =>
  `${e.method} ${e.path
    .split('?')[0]!
    .replace(/\/v2\/tags\/[^/]+/, '/v2/tags/{tag}')
    .replace(/\/\d+/g, '/{id}')}${e.path.includes('tag_name=') ? '?tag_name' : ''}`;

async function waitHttp(url: string, deadline: number, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: control plane exited ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready in time`);
    await sleep(500);
  }
}

/** The baseline checked out and built in a temporary folder (our own code at an earlier commit). */
function prepareBaseline(ref: string): { root: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'bench-power-storm-baseline-'));
  const root = join(dir, 'src');
  execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', root, ref], { stdio: 'ignore' });
  const remove = () => {
    try {
      execFileSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', root], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    symlinkSync(resolve(ROOT, 'node_modules'), join(root, 'node_modules'));
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
      stdio: 'inherit',
      cwd: root,
    });
    execFileSync(
      process.execPath,
      [join(root, 'dist/src/cli.js'), 'bundle', '--out', join(root, 'dist/workflow-bundle.js')],
      {
        stdio: 'ignore',
        cwd: root,
      },
    );
  } catch (err) {
    remove();
    throw err;
  }
  return { root, remove };
}

function statsOf(ops: Op[], calls: RequestLogEntry[]): OpStats {
  const done = ops.filter((o) => o.closedAt !== undefined);
  const ok = done.filter((o) => o.status === 'COMPLETED');
  const times = ok.map((o) => (o.closedAt! - o.requestedAt) / 1000).sort((a, b) => a - b);
  const first = Math.min(...ops.map((o) => o.requestedAt));
  const last = Math.max(...done.map((o) => o.closedAt!));
  const wallS = (last - first) / 1000;
  const byEndpoint: Record<string, number> = {};
  for (const e of calls) byEndpoint[endpoint(e)] = (byEndpoint[endpoint(e)] ?? 0) + 1;
  for (const k of Object.keys(byEndpoint)) byEndpoint[k] = byEndpoint[k]! / Math.max(1, ops.length);
  return {
    n: ops.length,
    failed: ops.length - ok.length,
    calls: calls.length,
    callsPerOp: calls.length / Math.max(1, ops.length),
    byEndpoint,
    opsPerMin: ok.length / (wallS / 60),
    p50S: percentile(times, 50),
    p99S: percentile(times, 99),
    wallS,
  };
}

/** Polls visibility until every op of the task queue has closed, stamping close time and status. */
async function awaitClosed(
  client: Client,
  taskQueue: string,
  ops: Map<string, Op>,
  onProgress?: (closed: number) => void,
  deadline = Date.now() + PHASE_TIMEOUT_MS,
): Promise<void> {
  const open = () => [...ops.values()].filter((o) => o.closedAt === undefined).length;
  while (open() > 0) {
    if (Date.now() > deadline) throw new Error(`${open()} operations still running after the phase timeout`);
    for await (const wf of client.workflow.list({
      // both of the control plane's queues: interactive wakes run on `<taskQueue>-interactive`
      query: `TaskQueue IN (${controlPlaneTaskQueues(taskQueue)
        .map((q) => JSON.stringify(q.queue))
        .join(', ')}) AND ExecutionStatus != "Running"`,
      pageSize: 1000,
    })) {
      const op = ops.get(`${wf.workflowId}/${wf.runId}`);
      if (op && op.closedAt === undefined) {
        op.closedAt = wf.closeTime?.getTime() ?? Date.now();
        op.status = wf.status.name;
      }
    }
    onProgress?.(ops.size - open());
    if (open() > 0) await sleep(1_000);
  }
}

/** Starts operations with a few starts in flight at once; records the request time of each. */
async function startAll(
  targets: { dropletId: number; workspaceId: string }[],
  start: (t: { dropletId: number; workspaceId: string }) => Promise<{ workflowId: string; runId: string }>,
  into: Map<string, Op>,
): Promise<Op[]> {
  const queue = [...targets];
  const out: Op[] = [];
  await Promise.all(
    Array.from({ length: Math.min(START_CONCURRENCY, queue.length) }, async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        const requestedAt = Date.now();
        const s = await start(t);
        const op: Op = { ...t, workflowId: s.workflowId, requestedAt };
        into.set(`${s.workflowId}/${s.runId}`, op);
        out.push(op);
      }
    }),
  );
  return out;
}

/** SIGTERM, then SIGKILL after 20 s; resolves once the process is gone. */
async function stopChild(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return;
  p.kill('SIGTERM');
  await new Promise((r) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      r(undefined);
    }, 20_000);
    p.once('exit', () => {
      clearTimeout(t);
      r(undefined);
    });
  });
}

async function runControlPlane(opts: {
  label: string;
  root: string;
  temporalAddress: string;
  wakes: number;
  hibernates: number;
  firstId: number;
  /**
   * whether its workers poll the interactive queue the contracts route logins to; the baseline's
   * do not (it predates the queue), so its operations start on the base queue, as its clients did
   */
  interactiveQueue: boolean;
}): Promise<RunResult> {
  const { label } = opts;
  const tag = label.replace(/[^a-z0-9]+/gi, '_').toLowerCase();
  const taskQueue = `bench-power-storm-${tag}-${process.pid}`;
  const prefix = `bench-power-storm:${process.pid}:${tag}:`;
  const doToken = `bench-power-storm-token-${tag}`;
  // the control plane migrates its own database (the baseline knows only its own migrations)
  const db = await createDatabase(`genesis_bench_power_${tag}`, {
    adminUrl: ADMIN_URL,
    poolMax: 5,
    replace: true,
    migrate: false,
  });
  const port = await freePort();
  let fleet: FleetSimulator | undefined;
  let cp: ChildProcess | undefined;
  let interactivePool: ChildProcess | undefined;
  const connection = await Connection.connect({ address: opts.temporalAddress });
  const client = new Client({ connection });
  try {
    fleet = await createFleetSimulator({
      jwtPrivateKey: privateKeyPem,
      dashboardUrl: `http://127.0.0.1:${port}`,
      handshakeSecret: SECRET,
      heartbeatIntervalMs: KEEPALIVE_MS,
      bootDelayMs: BOOT_DELAY_MS,
      actionDelayMs: ACTION_DELAY_MS,
      doToken,
      doRatePerMinute: PER_MINUTE,
      doRatePerHour: PER_HOUR,
    });
    const bundle = join(opts.root, 'dist/workflow-bundle.js');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      LOG_LEVEL: 'warn',
      DATABASE_URL: db.url,
      REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      TEMPORAL_ADDRESS: opts.temporalAddress,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ...(existsSync(bundle) ? { TEMPORAL_WORKFLOW_BUNDLE: bundle } : {}),
      TEMPORAL_METRICS_PORT: '0',
      PORT: String(port),
      API_HOST: '127.0.0.1',
      SIDECAR_HANDSHAKE_SECRET: SECRET,
      SIDECAR_JWT_PRIVATE_KEY: privateKeyPem,
      DIGITALOCEAN_API_TOKEN: doToken,
      DIGITALOCEAN_API_URL: fleet.digitalocean.url,
      DIGITALOCEAN_RATE_PER_MINUTE: String(PER_MINUTE),
      DIGITALOCEAN_RATE_PER_HOUR: String(PER_HOUR),
      WATCHDOG_ENABLED: 'false',
      SCALE_ALERTS_ENABLED: 'false',
      POWER_SCHEDULE_ENABLED: 'false',
      // the fleet probe and the reconciler are other work on the same worker (unknown to older
      // code, which ignores them)
      PROBE_ENABLED: 'false',
      RECONCILER_ENABLED: 'false',
      // one worker holds the whole storm: a workflow cache smaller than the operations in
      // flight replays each evicted workflow on its next task (the same for both runs)
      WORKER_MAX_CACHED_WORKFLOWS: String(MAX_CACHED),
      WORKER_SHUTDOWN_GRACE_MS: '5000',
      // BENCH_CP_ENV (`NAME=value,NAME=value`): settings for this checkout's control plane only
      ...(opts.interactiveQueue ? CP_ENV : {}),
    };
    const pool = POOL && opts.interactiveQueue;
    cp = spawn(process.execPath, [join(opts.root, 'dist/src/cli.js'), 'all'], {
      cwd: opts.root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: pool ? { ...env, WORKER_TASK_QUEUES: 'default' } : env,
    });
    // BENCH_INTERACTIVE_POOL: the interactive queue served by a worker process of its own
    if (pool)
      interactivePool = spawn(process.execPath, [join(opts.root, 'dist/src/cli.js'), 'worker'], {
        cwd: opts.root,
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...env, WORKER_TASK_QUEUES: 'interactive', PORT: String(await freePort()) },
      });
    await waitHttp(`http://127.0.0.1:${port}/ready`, Date.now() + 180_000, cp);

    // droplets: idle-reference interactive | storm interactive | wake storm | hibernate storm
    const n = INTERACTIVE * 2 + opts.wakes + opts.hibernates;
    const ids = Array.from({ length: n }, (_, i) => opts.firstId + i);
    const wsOf = (id: number) => `ws-storm-${id}`;
    const idleRef = ids.slice(0, INTERACTIVE);
    const stormRef = ids.slice(INTERACTIVE, INTERACTIVE * 2);
    const wakeIds = ids.slice(INTERACTIVE * 2, INTERACTIVE * 2 + opts.wakes);
    const hibIds = ids.slice(INTERACTIVE * 2 + opts.wakes);
    const seeded = Date.now();
    // This checkout's seeding writes droplets.account (migration 008); a baseline's schema may
    // predate it: the column is added for the seed rows (nothing in the baseline's code reads it).
    await db.pool.query(
      `ALTER TABLE droplets ADD COLUMN IF NOT EXISTS account text NOT NULL DEFAULT 'default'`,
    );
    await fleet.addDroplets(
      db.pool,
      ids.map((id) => ({ dropletId: id, workspaceId: wsOf(id), poweredOn: hibIds.includes(id) })),
    );
    console.log(
      `  [${label}] control plane ready, ${n} droplets seeded in ${((Date.now() - seeded) / 1000).toFixed(1)} s`,
    );
    // every awake agent has sent a keep-alive before anything starts
    await sleep(KEEPALIVE_MS + 1_000);

    const target = (id: number) => ({ dropletId: id, workspaceId: wsOf(id) });
    const startPower = async <W extends Workflow>(contract: WorkflowContract<W>, input: Parameters<W>[0]) => {
      if (opts.interactiveQueue) return startWorkflow(client, contract, input, { taskQueue });
      const h = await client.workflow.start<W>(contract.workflowType, {
        ...startOptions(contract, input, { taskQueue }),
        taskQueue,
      });
      return { workflowId: h.workflowId, runId: h.firstExecutionRunId };
    };
    const wake = (reason: WakeReason) => (t: { dropletId: number; workspaceId: string }) =>
      startPower(wakeContract, { ...t, reason });
    const log = () => fleet!.digitalocean.requestLog().filter((e) => e.authenticated);
    const callsBetween = (from: number, to: number) => log().filter((e) => e.at >= from && e.at <= to);

    // 1. the interactive wakes on an idle system
    const idleOps = new Map<string, Op>();
    await startAll(idleRef.map(target), wake('user_login'), idleOps);
    await awaitClosed(client, taskQueue, idleOps);
    const idle = [...idleOps.values()];

    // 2. the wake storm, and the interactive wakes in its middle
    const stormOps = new Map<string, Op>();
    const interactiveOps = new Map<string, Op>();
    const stormStart = Date.now();
    let interactiveStarted: Promise<unknown> | undefined;
    const launchInteractive = () =>
      (interactiveStarted ??= startAll(stormRef.map(target), wake('user_login'), interactiveOps).then(() =>
        console.log(
          `  [${label}] ${INTERACTIVE} user_login wakes issued ${((Date.now() - stormStart) / 1000).toFixed(1)} s into the storm`,
        ),
      ));
    await startAll(wakeIds.map(target), wake('scheduled_campaign'), stormOps);
    let lastPrint = 0;
    await awaitClosed(client, taskQueue, stormOps, (closed) => {
      if (closed >= INTERACTIVE_AT * opts.wakes) void launchInteractive();
      if (Date.now() - lastPrint > 30_000) {
        lastPrint = Date.now();
        console.log(
          `  [${label}] wake storm: ${closed}/${opts.wakes} closed after ${((Date.now() - stormStart) / 1000).toFixed(0)} s`,
        );
      }
    });
    await launchInteractive();
    await awaitClosed(client, taskQueue, interactiveOps);
    const stormEnd = Math.max(...[...stormOps.values(), ...interactiveOps.values()].map((o) => o.closedAt!));
    const wakeStats = statsOf(
      [...stormOps.values(), ...interactiveOps.values()],
      callsBetween(stormStart, stormEnd),
    );
    // the storm's own throughput and latency (the interactive wakes counted in calls only)
    const stormOnly = statsOf([...stormOps.values()], []);
    wakeStats.opsPerMin = stormOnly.opsPerMin;
    wakeStats.p50S = stormOnly.p50S;
    wakeStats.p99S = stormOnly.p99S;
    wakeStats.wallS = stormOnly.wallS;

    // 3. the hibernate storm
    await sleep(2_000);
    const hibOps = new Map<string, Op>();
    const hibStart = Date.now();
    await startAll(
      hibIds.map(target),
      (t) => startPower(hibernateContract, { ...t, reason: 'scheduled', gracefulTimeoutMs: 30_000 }),
      hibOps,
    );
    lastPrint = 0;
    await awaitClosed(client, taskQueue, hibOps, (closed) => {
      if (Date.now() - lastPrint > 30_000) {
        lastPrint = Date.now();
        console.log(
          `  [${label}] hibernate storm: ${closed}/${opts.hibernates} closed after ${((Date.now() - hibStart) / 1000).toFixed(0)} s`,
        );
      }
    });
    const hibEnd = Math.max(...[...hibOps.values()].map((o) => o.closedAt!));
    const hibStats = statsOf([...hibOps.values()], callsBetween(hibStart, hibEnd));

    const all = log()
      .map((e) => e.at)
      .sort((a, b) => a - b);
    const secs = (ops: Iterable<Op>) =>
      [...ops]
        .filter((o) => o.status === 'COMPLETED')
        .map((o) => (o.closedAt! - o.requestedAt) / 1000)
        .sort((a, b) => a - b);
    const stormInteractive = secs(interactiveOps.values());
    return {
      label,
      wakes: wakeStats,
      hibernates: hibStats,
      idleInteractiveP99S: percentile(secs(idle), 99),
      stormInteractiveP99S: percentile(stormInteractive, 99),
      stormInteractiveP50S: percentile(stormInteractive, 50),
      interactiveFailed: [...idle, ...interactiveOps.values()].filter((o) => o.status !== 'COMPLETED').length,
      idlePhases: await phasesOf(client, idle),
      stormPhases: await phasesOf(client, interactiveOps.values()),
      peakMinute: maxInAnyWindow(all, 60_000),
      peakHour: maxInAnyWindow(all, 3_600_000),
      rejected429: fleet.digitalocean.requestLog().filter((e) => e.status === 429).length,
    };
  } finally {
    await Promise.all([cp, interactivePool].map((p) => stopChild(p)));
    await fleet?.close();
    await connection.close();
    await db.drop();
  }
}

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

function print(r: RunResult, note: string): void {
  console.log(`\n${r.label} (${note})`);
  for (const [name, s] of [
    ['wakes', r.wakes],
    ['hibernations', r.hibernates],
  ] as const) {
    console.log(
      `  ${name}: ${s.n}${name === 'wakes' ? ` (the storm + ${INTERACTIVE} user_login)` : ''} (${s.failed} failed), ${f(s.callsPerOp, 2)} DigitalOcean calls per operation, ` +
        `${f(s.opsPerMin)} per minute over ${f(s.wallS)} s; ${name === 'wakes' ? "the storm's " : ''}request -> verified p50 ${f(s.p50S)} s, p99 ${f(s.p99S)} s`,
    );
    console.log(
      `    calls per operation by endpoint: ${Object.entries(s.byEndpoint)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${f(v, 2)}`)
        .join(', ')}`,
    );
  }
  console.log(
    `  user_login wakes: p99 ${f(r.idleInteractiveP99S)} s idle, p99 ${f(r.stormInteractiveP99S)} s ` +
      `(p50 ${f(r.stormInteractiveP50S)} s) in the storm; ${r.interactiveFailed} failed`,
  );
  const phases = [...new Set([...Object.keys(r.idlePhases), ...Object.keys(r.stormPhases)])];
  console.log(
    `  user_login wakes, p50 per phase idle -> in the storm: ${phases
      .map((n) => `${n} ${f(r.idlePhases[n] ?? 0, 2)} -> ${f(r.stormPhases[n] ?? 0, 2)} s`)
      .join(', ')}`,
  );
  console.log(
    `  DigitalOcean budget: peak sliding minute ${r.peakMinute}/${PER_MINUTE}, peak hour ${r.peakHour}/${PER_HOUR}; ` +
      `${r.rejected429} answers 429`,
  );
}

async function main() {
  console.log(
    `bench:power-storm on ${machine()}; ${WAKES} wakes + ${HIBERNATES} hibernations at once, ${INTERACTIVE} user_login ` +
      `wakes idle and at ${INTERACTIVE_AT * 100}% of the storm; budget ${PER_MINUTE}/min ${PER_HOUR}/h; ` +
      `keep-alive ${KEEPALIVE_MS} ms, action ${ACTION_DELAY_MS} ms, boot ${BOOT_DELAY_MS} ms; workflow cache ${MAX_CACHED}` +
      (Object.keys(CP_ENV).length ? `; this checkout's control plane with ${process.env.BENCH_CP_ENV}` : '') +
      (POOL ? '; its interactive queue on a worker process of its own (BENCH_INTERACTIVE_POOL)' : ''),
  );
  const temporal = await startTemporalDevServer('power-storm', { fastSqlite: true });
  const baseline = BASELINE ? prepareBaseline(BASELINE_REF) : undefined;
  const failures: string[] = [];
  try {
    const current = await runControlPlane({
      label: `this checkout (${execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).toString().trim()})`,
      root: ROOT,
      temporalAddress: temporal.address,
      wakes: WAKES,
      hibernates: HIBERNATES,
      firstId: 1_000_001,
      interactiveQueue: true,
    });
    print(current, `${WAKES} wakes, ${HIBERNATES} hibernations`);
    const results = [current];
    if (baseline) {
      const base = await runControlPlane({
        label: `baseline ${BASELINE_REF}`,
        root: baseline.root,
        temporalAddress: temporal.address,
        wakes: BASELINE_OPS,
        hibernates: BASELINE_OPS,
        firstId: 2_000_001,
        interactiveQueue: false,
      });
      print(
        base,
        `a smaller sample: ${BASELINE_OPS} wakes, ${BASELINE_OPS} hibernations (BENCH_BASELINE_OPS)`,
      );
      results.push(base);
      console.log(
        `\nratio this checkout / baseline: wakes per budget ${f(base.wakes.callsPerOp / current.wakes.callsPerOp, 2)}x ` +
          `(calls per wake ${f(base.wakes.callsPerOp, 2)} -> ${f(current.wakes.callsPerOp, 2)}), ` +
          `hibernations per budget ${f(base.hibernates.callsPerOp / current.hibernates.callsPerOp, 2)}x ` +
          `(${f(base.hibernates.callsPerOp, 2)} -> ${f(current.hibernates.callsPerOp, 2)}); ` +
          `wakes per minute ${f(current.wakes.opsPerMin / base.wakes.opsPerMin, 2)}x, ` +
          `hibernations per minute ${f(current.hibernates.opsPerMin / base.hibernates.opsPerMin, 2)}x; goal >= 5x wakes per budget`,
      );
      console.log(
        `user_login p99 in the storm / idle: this checkout ${f(current.stormInteractiveP99S / current.idleInteractiveP99S, 2)}x, ` +
          `baseline ${f(base.stormInteractiveP99S / base.idleInteractiveP99S, 2)}x (goal: unaffected, ~1x)`,
      );
    }
    for (const r of results) {
      if (r.peakMinute > PER_MINUTE)
        failures.push(`${r.label}: ${r.peakMinute} requests in one minute > ${PER_MINUTE}`);
      if (r.peakHour > PER_HOUR)
        failures.push(`${r.label}: ${r.peakHour} requests in one hour > ${PER_HOUR}`);
    }
  } finally {
    baseline?.remove();
    temporal.stop();
  }
  if (failures.length > 0) {
    console.error(`\nFAILED: the budget was exceeded:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
