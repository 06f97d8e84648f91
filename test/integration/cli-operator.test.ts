/**
 * An operator's day with the built CLI, as from a second terminal next to a running deployment:
 * one env file for the worker process and every command (encrypted payloads, its Redis prefix, a
 * 30 s heartbeat timeout), against the fleet simulator on the real dev server.
 *   - `wake --wait` prints live progress and exits 0; Ctrl-C stops waiting (130), not the wake;
 *   - a CLI without the codec key says so (exit 2), it never reports a failed operation;
 *   - `droplets list --stale` marks a silent droplet whatever its stored state; `droplets show`
 *     has state, keep-alive, versions, desired rollout target, the running operation and its
 *     phase, lifecycle and alerts;
 *   - `fleet status` counts stale droplets as the watchdog does and shows holds and paused groups;
 *   - `workers pause <typo>` exits 3; `workers pause <group>` really stops the worker polling.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { scanFleet } from '../../src/db/watchdog';
import { createFleetHarness, harnessWorkerEnv, type FleetHarness } from '../helpers/fleet-harness';
import { runCli, requireBuild, type ChildRun } from '../helpers/processes';
import { eventually } from '../helpers/temporal';

jest.setTimeout(180_000);

const IDS = [9_600, 9_601, 9_602, 9_603];
const GROUP = `ops-${randomBytes(2).toString('hex')}`;

describe('genesis-cp operator commands', () => {
  let h: FleetHarness;
  let worker: ChildRun;
  let envFile: string;

  const cli = async (args: string[], extra: Record<string, string> = {}) => {
    const run = runCli(args, { GENESIS_ENV_FILE: envFile, ...extra });
    const code = await run.exited;
    return { code, out: run.output() };
  };
  const state = async (id: number) =>
    (await h.db.pool.query<{ state: string }>('SELECT state FROM droplets WHERE id = $1', [id])).rows[0]!
      .state;

  beforeAll(async () => {
    requireBuild();
    h = await createFleetHarness('cli-ops');
    await h.fleet.addDroplets(
      h.db.pool,
      IDS.map((id) => ({ dropletId: id, workspaceId: `ws-ops-${id}` })),
    );
    const env = harnessWorkerEnv(h, {
      PAYLOAD_CODEC_KEYS: `ops:${randomBytes(32).toString('base64')}`,
      WATCHDOG_HEARTBEAT_TIMEOUT_S: '30',
      SCALE_ALERTS_ENABLED: 'false',
      WORKER_GROUP: GROUP,
    });
    const { PATH: _p, HOME: _h, ...settings } = env as Record<string, string>;
    envFile = join(mkdtempSync(join(tmpdir(), 'cli-ops-')), 'deployment.env');
    writeFileSync(
      envFile,
      Object.entries(settings)
        .map(([k, v]) => `${k}="${v.replace(/\n/g, '\\n')}"`)
        .join('\n') + '\n',
    );
    // The worker reads the same file as every command below.
    worker = runCli(['worker'], { GENESIS_ENV_FILE: envFile });
    await worker.waitFor(/worker polling/, 60_000);
    await eventually(
      () => state(IDS[0]!),
      (s) => s === 'ACTIVE_HEALTHY',
    );
  });

  afterAll(async () => {
    await worker?.kill('SIGTERM');
    await h?.close();
  });

  it('wake --wait prints live progress and exits 0', async () => {
    const id = IDS[0]!;
    expect((await cli(['hibernate', String(id), '--wait'])).code).toBe(0);
    expect(await state(id)).toBe('HIBERNATED');
    const wake = await cli(['wake', String(id), '--wait']);
    expect(wake.code).toBe(0);
    // a live phase line before the result (a wake at the call floor may be past power_on by the first poll)
    expect(wake.out).toMatch(new RegExp(`power-${id}: wake (checking|powering_on|verifying)`));
    expect(wake.out).toMatch(/"outcome":"healthy"/);
    expect(wake.out).not.toMatch(/Unknown encoding/);
  });

  it('reports a missing codec key as such (exit 2), never as a failed operation', async () => {
    const r = await cli(['wake', String(IDS[0]), '--wait'], { PAYLOAD_CODEC_KEYS: '' });
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/PAYLOAD_CODEC_KEYS is not set here/);
    expect(r.out).not.toMatch(/failed|Unknown encoding/);
  });

  it('lists a silent droplet as stale whatever its state, and shows what runs on it', async () => {
    const id = IDS[1]!;
    h.fleet.sidecars.setFault(id, { kind: 'crash' });
    // silent for 10 minutes (beyond the 30 s timeout): its stored state still says ACTIVE_HEALTHY.
    // (Repeated until no keep-alive sent before the crash is drained after it.)
    let list = { code: -1 as number | null, out: '' };
    await eventually(
      async () => {
        await h.db.pool.query(
          `UPDATE droplets SET last_heartbeat_at = now() - interval '10 minutes' WHERE id = $1`,
          [id],
        );
        return (list = await cli(['droplets', 'list', '--stale']));
      },
      (l) => l.out.includes(`ws-ops-${id}`),
      { what: 'the crashed droplet listed as stale' },
    );
    expect(list.code).toBe(0);
    expect(list.out).toMatch(new RegExp(`${id}\\s+ws-ops-${id}\\s+ACTIVE_HEALTHY STALE`));
    expect(list.out).not.toMatch(new RegExp(`^${IDS[2]}\\s`, 'm'));
    const json = JSON.parse((await cli(['droplets', 'list', '--workspace', `ws-ops-${id}`, '--json'])).out);
    expect(json).toEqual([expect.objectContaining({ dropletId: id, state: 'ACTIVE_HEALTHY', stale: true })]);
    expect((await cli(['droplets', 'list', '--state', 'bogus'])).code).toBe(2);

    // fleet status counts it as the watchdog's own scan does
    const scan = await scanFleet(h.db.pool, { timeoutS: 30, limit: 0, cpu: 90, memory: 85, disk: 90 });
    const status = JSON.parse((await cli(['fleet', 'status', '--json'])).out);
    expect(status.stale).toBe(scan.staleCount);
    expect(status.stale).toBeGreaterThanOrEqual(1);
    expect(status.heartbeatTimeoutS).toBe(30);

    // what the control plane recorded and wants, and an open alert
    await h.db.pool.query(
      `INSERT INTO tenant_versions (workspace_id, component, version, previous_version) VALUES ($1, 'n8n', '1.71.0', '1.70.0')`,
      [`ws-ops-${id}`],
    );
    await h.db.pool.query(
      `INSERT INTO rollouts (id, kind, target_version, spec, status) VALUES ('r-ops', 'n8n', '2.0.0', '{}', 'running')`,
    );
    await h.db.pool.query(
      `INSERT INTO rollout_targets (rollout_id, workspace_id, droplet_id, wave) VALUES ('r-ops', $1, $2, 1)`,
      [`ws-ops-${id}`, id],
    );
    await h.db.pool.query(
      `INSERT INTO alerts (key, kind, severity, status, droplet_id, message) VALUES ($1, 'resource_breach', 'warning', 'open', $2, 'cpu at 97%')`,
      [`droplet:${id}:cpu`, id],
    );
    // a wake that cannot verify (the agent is down): it stays in verifying for the 30 s window
    const started = await cli(['wake', String(id)]);
    expect(started.code).toBe(0);
    let show = '';
    await eventually(
      async () => (show = (await cli(['droplets', 'show', String(id)])).out),
      (out) => /power-\d+\s+wakeDroplet\s+verifying/.test(out),
      { timeoutMs: 30_000, what: 'the running wake in verifying' },
    );
    expect(show).toMatch(/state\s+WAKING since/);
    expect(show).toMatch(/STALE/);
    expect(show).toMatch(/n8n\s+1\.71\.0\s+1\.70\.0/);
    expect(show).toMatch(/row\s+sidecar 1\.0\.0, n8n 1\.70\.0/);
    expect(show).toMatch(/r-ops\s+n8n\s+2\.0\.0\s+1\s+running/);
    expect(show).toMatch(/ACTIVE_HEALTHY\s+WAKING\s+wake:admin_request/);
    expect(show).toMatch(/warning\s+droplet:\d+:cpu/);
    expect((await cli(['droplets', 'show', '424242'])).code).toBe(3);

    // Ctrl-C while waiting: the CLI stops waiting (130), the wake goes on
    const waiting = runCli(['wake', String(id), '--wait'], { GENESIS_ENV_FILE: envFile });
    await waiting.waitFor(/wake verifying/, 30_000);
    expect(await waiting.kill('SIGINT')).toBe(130);
    expect(waiting.output()).toMatch(/stopped waiting; wakeDroplet power-\d+ keeps running/);
  });

  it('rollout status --watch prints progress until the rollout ends', async () => {
    const start = await cli([
      'rollout',
      'start',
      '--id',
      'r-watch',
      '--kind',
      'n8n',
      '--version',
      '3.0.0',
      '--workspaces',
      `ws-ops-${IDS[2]},ws-ops-${IDS[3]}`,
      '--canary',
      '1',
      '--wave-size',
      '1',
      '--verify-window-ms',
      '8000',
    ]);
    expect(start.code).toBe(0);
    const watch = await cli(['rollout', 'status', 'r-watch', '--watch', '--interval-ms', '300']);
    expect(watch.code).toBe(0);
    expect(watch.out).toMatch(/rollout r-watch: running, wave \d+\/2, 2 tenants: /);
    expect(watch.out).toMatch(/rollout r-watch: completed, wave .*2 succeeded, 0 running, 0 failed/);
    expect(watch.out).toMatch(/^r-watch\s+n8n\s+3\.0\.0\s+completed/m);
  });

  it('shows an activity hold in fleet status', async () => {
    expect((await cli(['activities', 'hold', '--reason', 'provider outage'])).code).toBe(0);
    try {
      const held = await cli(['fleet', 'status']);
      expect(held.out).toMatch(/HELD since .*provider outage/);
    } finally {
      expect((await cli(['activities', 'release'])).code).toBe(0);
    }
    expect((await cli(['fleet', 'status'])).out).toMatch(/dispatched/);
  });

  it('refuses a mistyped worker group (exit 3) and really pauses a live one', async () => {
    const typo = await cli(['workers', 'pause', `${GROUP}x`]);
    expect(typo.code).toBe(3);
    expect(typo.out).toContain(`live groups: ${GROUP}`);

    const paused = await cli(['workers', 'pause', GROUP, '--reason', 'bad build']);
    expect(paused.code).toBe(0);
    await worker.waitFor(/"msg":"worker paused"/, 20_000);
    expect((await cli(['workers', 'status'])).out).toMatch(
      new RegExp(`${GROUP}\\s+\\d+\\s+\\S+\\s+since .* \\(bad build\\)`),
    );
    expect((await cli(['fleet', 'status'])).out).toContain(`${GROUP} (by `);
    // pausing it again is fine (its workers no longer poll)
    expect((await cli(['workers', 'pause', GROUP])).code).toBe(0);

    expect((await cli(['workers', 'resume', GROUP])).code).toBe(0);
    await worker.waitFor(/worker paused[\s\S]*worker polling/, 20_000);
    expect((await cli(['workers', 'resume', GROUP])).code).toBe(3);
  });

  it('refuses an env file that does not exist (exit 2)', async () => {
    const r = await cli(['fleet', 'status', '--dotenv', '/nonexistent/deployment.env']);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/deployment\.env: does not exist/);
  });
});
