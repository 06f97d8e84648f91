/**
 * The Temporal Web UI decodes our encrypted payloads in a real browser, as an operator sees it
 * after `make dev`: a Temporal dev server with its UI and `--ui-codec-endpoint` at our codec
 * server, the built `genesis-cp dev` (worker + API + simulated fleet) reading an env file like
 * .data/dev.env, and Debian's chromium driven by playwright-core (headless, a fresh profile,
 * nothing beyond loopback). It opens a wake and a credential injection and checks that decoded
 * fields are on the page and that no encrypted payload, credential blob or plaintext is.
 * Screenshots land in test-artifacts/ (git-ignored).
 *
 * It then proves it can fail: the same pages, with the codec server started with another UI
 * origin (CODEC_CORS_ORIGIN misconfigured), must no longer show any decoded field. A proof run of
 * the whole test against a misconfigured origin: WEB_UI_TEST_CORS_ORIGIN=http://localhost:1 npx jest
 * test/integration/web-ui-decoding.test.ts (it fails).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config';
import { encryptCredential } from '../../src/sidecar/credential-blob';
import { findTemporalCli, SEARCH_ATTRIBUTES, waitForTemporal } from '../../src/temporal/cli-binary';
import { startCredentialInjection } from '../../src/temporal/change-starts';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { runCli, requireBuild, type ChildRun } from '../helpers/processes';
import { createTestRedis, TEST_REDIS_URL, type TestRedis } from '../helpers/redis';
import { connectTestTemporal, eventually, type TestTemporal } from '../helpers/temporal';
import { freePort, waitForPort } from '../helpers/throwaway';
import { rsaTestKeys } from '../helpers/keys';

jest.setTimeout(240_000);

const ARTIFACTS = resolve(__dirname, '../../test-artifacts');
const CHROMIUM = '/usr/bin/chromium';
const MASTER = 'simulator-master-key'; // the simulated agents' credential master key
const DROPLET = 1_000_002; // `genesis-cp dev` numbers its agents from 1000001
const WORKSPACE = `ws-sim-${DROPLET}`;
const SMTP_PASSWORD = 'smtp-pass-e2e-7f3a';

describe('Temporal Web UI decoding in a real browser', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let temporalServer: ChildProcess;
  let temporal: TestTemporal;
  let dev: ChildRun | undefined;
  let api: ChildRun | undefined;
  let context: BrowserContext;
  let page: Page;
  let dir: string;
  let envFile: string;
  let ui: string;
  let apiPort: number;
  const outsideLoopback: string[] = [];
  const codecKeys = `e2e:${randomBytes(32).toString('base64')}`;
  const blob = encryptCredential(MASTER, WORKSPACE, { user: 'mailer', password: SMTP_PASSWORD });
  let injectionId: string;

  const cliEnv = (extra: Record<string, string> = {}) => ({ GENESIS_ENV_FILE: envFile, ...extra });

  beforeAll(async () => {
    requireBuild();
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'genesis-web-ui-'));
    db = await createTestDatabase({ migrate: false });
    redis = await createTestRedis();
    const [temporalPort, uiPort, doPort] = [await freePort(), await freePort(), await freePort()];
    apiPort = await freePort();
    ui = `http://localhost:${uiPort}`;

    // A dev server with the Web UI, pointed at the codec server (as scripts/dev.sh starts it).
    const bin = findTemporalCli();
    if (!bin) throw new Error('temporal CLI not found (TEMPORAL_BIN)');
    const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(temporalPort)];
    args.push('--ui-port', String(uiPort), '--ui-codec-endpoint', `http://127.0.0.1:${apiPort}/codec`);
    args.push('--log-level', 'error');
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
      args.push('--search-attribute', `${name}=${type}`);
    temporalServer = spawn(bin, args, { stdio: 'ignore', detached: true });
    await waitForTemporal(`127.0.0.1:${temporalPort}`, Date.now() + 60_000);
    await waitForPort(uiPort, 30_000);

    // The deployment's one env file, as make dev writes it.
    const key = rsaTestKeys().privatePem;
    envFile = join(dir, 'dev.env');
    writeFileSync(
      envFile,
      [
        `DATABASE_URL='${db.url}'`,
        `REDIS_URL='${TEST_REDIS_URL}'`,
        `REDIS_KEY_PREFIX='${redis.prefix}'`,
        `TEMPORAL_ADDRESS='127.0.0.1:${temporalPort}'`,
        `TEMPORAL_METRICS_PORT='0'`,
        `PORT='${apiPort}'`,
        `API_HOST='127.0.0.1'`,
        `DIGITALOCEAN_API_URL='http://127.0.0.1:${doPort}'`,
        `DIGITALOCEAN_API_TOKEN='dev-simulator-token'`,
        `WATCHDOG_HEARTBEAT_TIMEOUT_S='60'`,
        `SIDECAR_JWT_PRIVATE_KEY="${key.replace(/\n/g, '\\n')}"`,
        `SIDECAR_HANDSHAKE_SECRET='e2e-handshake-secret-value'`,
        `PAYLOAD_CODEC_KEYS='${codecKeys}'`,
        `CODEC_TRUST_LOOPBACK_UI='true'`,
        `CODEC_CORS_ORIGIN='${process.env.WEB_UI_TEST_CORS_ORIGIN ?? `${ui},http://127.0.0.1:${uiPort}`}'`,
        `CODEC_SERVER_TOKEN='e2e-codec-token-for-the-cli'`,
        `LOG_LEVEL='warn'`,
      ].join('\n') + '\n',
    );
    dev = runCli(['dev'], {
      ...cliEnv(),
      DEV_AGENTS: '3',
      DEV_FAULTS: '',
      DEV_DIGITALOCEAN_PORT: String(doPort),
      DEV_HEARTBEAT_INTERVAL_MS: '1000',
    });
    await waitForPort(apiPort, 90_000);
    await eventually(
      async () => (await fetch(`http://127.0.0.1:${apiPort}/ready`)).status,
      (s) => s === 200,
      { timeoutMs: 90_000, what: 'the dev control plane ready' },
    );

    // Operations to look at: a hibernate then a wake through the CLI in "another terminal" ...
    for (const verb of ['hibernate', 'wake']) {
      const run = runCli([verb, String(DROPLET), '--wait'], cliEnv());
      const code = await run.exited;
      if (code !== 0) throw new Error(`${verb} exited ${code}:\n${run.output()}`);
    }
    // ... and a credential injection as the Vercel app starts it (payloads encrypted by its client).
    const config = loadConfig('cli', { DATABASE_URL: db.url, PAYLOAD_CODEC_KEYS: codecKeys });
    process.env.TEMPORAL_ADDRESS = `127.0.0.1:${temporalPort}`;
    temporal = await connectTestTemporal(config);
    const injection = await startCredentialInjection(temporal.client, config.temporal.taskQueue, {
      workspaceId: WORKSPACE,
      dropletId: DROPLET,
      credentials: [{ type: 'smtp', name: 'Outbound SMTP', encryptedData: blob }],
    });
    injectionId = injection.workflowId;
    await injection.handle.result();

    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 1000 },
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    // Loopback only: anything else is refused and remembered.
    await context.route('**/*', (route) => {
      const host = new URL(route.request().url()).hostname;
      if (['localhost', '127.0.0.1', '[::1]'].includes(host)) return route.continue();
      outsideLoopback.push(route.request().url());
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await dev?.kill('SIGINT');
    await api?.kill('SIGTERM');
    await temporal?.close().catch(() => undefined);
    if (temporalServer?.pid) {
      try {
        process.kill(-temporalServer.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    await redis?.cleanup();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Opens a workflow's page and returns its visible text once every `expected` pattern shows (or
   * after 40 s): input and result are decoded by separate codec calls that may land apart.
   */
  async function open(workflowId: string, expected: RegExp[], shot: string): Promise<string> {
    await page.goto(`${ui}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
    // The page renders, then fills in payloads as the codec server answers: wait on the text.
    const deadline = Date.now() + 40_000;
    let text = '';
    while (Date.now() < deadline) {
      text = await page.locator('body').innerText();
      if (expected.every((e) => e.test(text))) break;
      await page.waitForTimeout(250);
    }
    await page.screenshot({ path: join(ARTIFACTS, shot), fullPage: true });
    return text;
  }

  it("shows a wake's input and result decoded, loaded from the codec server without a token", async () => {
    const codecCalls: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/codec/decode')) codecCalls.push(r.status());
    });
    const text = await open(
      `power-${DROPLET}`,
      [/"outcome":\s*"healthy"/, /"reason":\s*"admin_request"/],
      'web-ui-wake.png',
    );
    expect(text).toContain(`"workspaceId": "${WORKSPACE}"`);
    expect(text).toContain(`"dropletId": ${DROPLET}`);
    expect(text).toMatch(/"reason":\s*"admin_request"/);
    expect(text).toMatch(/"outcome":\s*"healthy"/);
    expect(text).not.toContain('binary/encrypted');
    expect(codecCalls.length).toBeGreaterThan(0);
    expect(codecCalls.every((s) => s === 200)).toBe(true);
  });

  it('shows a credential injection decoded, without the credential blob or its plaintext', async () => {
    const text = await open(
      injectionId,
      [/Outbound SMTP/, /"credentialId":/],
      'web-ui-credential-injection.png',
    );
    expect(text).toContain('Outbound SMTP');
    expect(text).toContain(`"workspaceId": "${WORKSPACE}"`);
    expect(text).toMatch(/credential blob redacted/);
    expect(text).toMatch(/"credentialId":/); // the result: the n8n credential id
    const html = await page.content();
    for (const secret of [blob, blob.slice(0, 24), SMTP_PASSWORD]) {
      expect(text).not.toContain(secret);
      expect(html).not.toContain(secret);
    }
    expect(text).not.toContain('binary/encrypted');
  });

  it('reached nothing beyond loopback', () => {
    expect(outsideLoopback).toEqual([]);
  });

  it('shows nothing decoded when the codec server refuses the UI origin (the checks above can fail)', async () => {
    // The same codec server, started with another UI origin: the browser's calls are refused.
    await dev!.kill('SIGINT');
    dev = undefined;
    api = runCli(['api'], cliEnv({ CODEC_CORS_ORIGIN: 'http://localhost:1' }));
    await waitForPort(apiPort, 30_000);
    const refused: number[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/codec/decode')) refused.push(r.status());
    });
    const text = await open(
      `power-${DROPLET}`,
      [/binary\/encrypted|Codec Server/i],
      'web-ui-origin-refused.png',
    );
    expect(text).not.toContain(`"workspaceId": "${WORKSPACE}"`);
    expect(text).not.toMatch(/"outcome":\s*"healthy"/);
    expect(refused.length === 0 || refused.every((s) => s === 403)).toBe(true);
  });
});
