/**
 * What the simulated agents send to DASHBOARD_URL: v1 handshakes (first boot, crash loop,
 * keep-alives) and, as an explicit opt-in, native heartbeats. A local receiver records every call.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createSidecarFleet,
  type SidecarFleet,
  type SidecarFleetOptions,
} from '../../src/simulator/sidecars';
import { waitFor } from '../helpers/wait';
import { rsaTestKeys } from '../helpers/keys';

const { publicKey } = rsaTestKeys();
const SECRET = 'unit-handshake-secret-0123456789';

interface Got {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** the client's port: one per TCP connection */
  port: number;
}

let server: Server;
let dashboardUrl: string;
const got: Got[] = [];
let answer: (g: Got) => { status: number; body: unknown } = () => ({ status: 202, body: { accepted: 1 } });
const fleets: SidecarFleet[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const g = {
        path: req.url!,
        headers: req.headers,
        body: JSON.parse(raw) as Record<string, unknown>,
        port: req.socket.remotePort!,
      };
      got.push(g);
      const a = answer(g);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  dashboardUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const f of fleets) await f.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function fleetWith(over: Partial<SidecarFleetOptions> = {}): Promise<SidecarFleet> {
  const f = await createSidecarFleet({
    publicKey,
    masterKey: 'm',
    dashboardUrl,
    handshakeSecret: SECRET,
    heartbeatIntervalMs: 100,
    bootDelayMs: 20,
    restartBackoffBaseMs: 20,
    restartBackoffMaxMs: 80,
    ...over,
  });
  fleets.push(f);
  return f;
}
const from = (ws: string) => got.filter((g) => g.body.workspace_id === ws);

describe('v1 handshakes (the default)', () => {
  it('needs the handshake secret', async () => {
    await expect(createSidecarFleet({ publicKey, masterKey: 'm', dashboardUrl })).rejects.toThrow(
      /handshakeSecret/,
    );
  });

  it('keep-alives carry the n8n status and no version, no metrics, no droplet id', async () => {
    const f = await fleetWith();
    f.addAgent({
      dropletId: 1,
      workspaceId: 'ka',
      poweredOn: true,
      n8nImageTag: '1.75.0',
      sidecarVersion: '9.9.9',
    });
    f.addAgent({ dropletId: 2, workspaceId: 'ka-smtp', poweredOn: true, smtpEnabled: true });
    await waitFor(() => from('ka').length >= 2 && from('ka-smtp').length >= 1, 'keep-alives');
    expect(from('ka')[0]).toMatchObject({
      path: '/api/sidecar/handshake',
      headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    });
    expect(from('ka')[0]!.body).toEqual({
      workspace_id: 'ka',
      sidecar_url: f.urlFor(1),
      version: 'healthy',
      capabilities: ['deploy', 'gmail'],
    });
    expect(from('ka-smtp')[0]!.body.capabilities).toEqual(['deploy', 'smtp']);
    expect(JSON.stringify(from('ka'))).not.toMatch(/1\.75\.0|9\.9\.9/);
  });

  it('each agent has its own connections, as each droplet does; only its own sends reuse them', async () => {
    // The deployed agent is axios on Node's global agent: keep-alive, idle sockets closed after
    // 5 s, never shared with another machine. At 100 ms an agent reuses its socket; at v1's 60 s it
    // cannot (a new connection per keep-alive).
    const f = await fleetWith();
    f.addAgent({ dropletId: 11, workspaceId: 'conn-a', poweredOn: true });
    f.addAgent({ dropletId: 12, workspaceId: 'conn-b', poweredOn: true });
    await waitFor(() => from('conn-a').length >= 4 && from('conn-b').length >= 4, 'keep-alives');
    const a = new Set(from('conn-a').map((g) => g.port));
    const b = new Set(from('conn-b').map((g) => g.port));
    expect([...a].filter((p) => b.has(p))).toEqual([]);
    expect(a.size).toBeLessThan(from('conn-a').length);
    expect(from('conn-a')[0]!.headers.connection).toBe('keep-alive');
  });

  it('a crashed or hung agent sends nothing; a powered-off one nothing until it boots', async () => {
    const f = await fleetWith();
    f.addAgent({ dropletId: 3, workspaceId: 'quiet', poweredOn: false });
    await new Promise((r) => setTimeout(r, 250));
    expect(from('quiet')).toHaveLength(0);
    f.setPower(3, true);
    await waitFor(() => from('quiet').length >= 1, 'a keep-alive at boot');
    f.setFault(3, { kind: 'crash' });
    await waitFor(() => f.stats().heartbeats.inFlight === 0, 'sends on the wire to land');
    const n = from('quiet').length;
    await new Promise((r) => setTimeout(r, 300));
    expect(from('quiet').length).toBe(n);
  });

  it('first boot crash-loops while refused, registers once, and stays registered', async () => {
    answer = (g) =>
      g.body.workspace_id === 'fresh' && from('fresh').length <= 3
        ? { status: 401, body: { success: false, workspace_id: '', error: 'Unauthorized' } }
        : {
            status: 200,
            body: {
              success: true,
              registered_at: new Date().toISOString(),
              workspace_id: 'x',
              message: 'ok',
            },
          };
    const f = await fleetWith();
    f.addAgent({ dropletId: 4, workspaceId: 'fresh', poweredOn: true, registered: false });
    await waitFor(() => f.agent(4)!.registered, 'registration');
    const v = f.agent(4)!;
    expect(v).toMatchObject({
      handshakeRejected: 3,
      handshakesAccepted: 1,
      lastHandshakeError: 'Unauthorized',
    });
    expect(
      from('fresh')
        .slice(0, 4)
        .map((g) => g.body.version),
    ).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
    expect(f.stats().handshakes).toEqual({ accepted: 1, rejected: 3 });
    // a reboot does not handshake as a first boot again: the token is persisted
    f.powerCycle(4);
    await waitFor(() => f.agent(4)!.condition === 'running', 'reboot');
    const n = from('fresh').length;
    await waitFor(() => from('fresh').length >= n + 2, 'keep-alives after the reboot');
    expect(
      from('fresh')
        .slice(n)
        .every((g) => g.body.version !== 'unknown'),
    ).toBe(true);
    answer = () => ({ status: 202, body: { accepted: 1 } });
  });

  it('a crash-looping agent does not answer commands; no dashboard at all is a crash loop too', async () => {
    const f = await fleetWith();
    f.addAgent({ dropletId: 5, workspaceId: 'looping', poweredOn: true, registered: false });
    await waitFor(() => f.agent(5)!.condition === 'crash_loop', 'the crash loop');
    await expect(fetch(`${f.urlFor(5)}/health`)).rejects.toThrow();
    expect(f.stats().byCondition.crash_loop).toBe(1);
    f.setPower(5, false);
    const n = from('looping').length;
    await new Promise((r) => setTimeout(r, 200));
    expect(from('looping').length).toBe(n); // powered off: no more restarts

    const lonely = await createSidecarFleet({ publicKey, masterKey: 'm', restartBackoffBaseMs: 20 });
    fleets.push(lonely);
    lonely.addAgent({ dropletId: 6, workspaceId: 'lonely', poweredOn: true, registered: false });
    expect(lonely.agent(6)).toMatchObject({
      condition: 'crash_loop',
      lastHandshakeError: 'DASHBOARD_URL is not set',
    });
  });
});

describe('native heartbeats (explicit opt-in)', () => {
  it('POST /v1/heartbeats with the droplet token and the native body', async () => {
    const f = await fleetWith({ heartbeatMode: 'native', handshakeSecret: undefined });
    expect(f.heartbeatMode).toBe('native');
    f.addAgent({
      dropletId: 7,
      workspaceId: 'native',
      poweredOn: true,
      heartbeatToken: 'tok-7',
      sidecarVersion: '1.4.0',
      n8nImageTag: '1.70.2',
      registered: false, // no registration in native mode
    });
    await waitFor(() => from('native').length >= 1, 'a native heartbeat');
    expect(from('native')[0]).toMatchObject({
      path: '/v1/heartbeats',
      headers: { authorization: 'Bearer tok-7' },
      body: {
        workspace_id: 'native',
        droplet_id: 7,
        timestamp: expect.any(String),
        cpu_percent: expect.any(Number),
        memory_percent: expect.any(Number),
        disk_percent: expect.any(Number),
        n8n_status: 'healthy',
        sidecar_version: '1.4.0',
        n8n_version: '1.70.2',
        uptime_seconds: expect.any(Number),
      },
    });
  });

  it('legacy is a deprecated alias of v1', async () => {
    const f = await fleetWith({ heartbeatMode: 'legacy' });
    expect(f.heartbeatMode).toBe('v1');
  });
});
