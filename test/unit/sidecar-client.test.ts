import pino from 'pino';
import { SidecarClient } from '../../src/sidecar/client';
import {
  SidecarActionFailedError,
  SidecarCancelledError,
  SidecarCommandFailedError,
  SidecarError,
  SidecarForbiddenError,
  SidecarProtocolError,
  SidecarServerError,
  SidecarTimeoutError,
  SidecarUnauthorizedError,
  SidecarUnreachableError,
} from '../../src/sidecar/errors';
import { JtiCache, verifySidecarJwt } from '../../src/sidecar/jwt';
import { rsaTestKeys } from '../helpers/keys';

const keys = rsaTestKeys();
const privatePem = keys.privatePem;
// the agent's claim is its provisioned DROPLET_ID (here its public IPv4), never the numeric id
const target = {
  sidecarUrl: 'http://sidecar.test:3100/',
  workspaceId: 'ws_1',
  agentDropletId: '203.0.113.7',
};

interface Call {
  url: string;
  init: RequestInit;
}

function fakeFetch(respond: (call: Call) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fn = (async (url: string | URL | Request, init?: RequestInit) => {
    const call = { url: String(url), init: init ?? {} };
    calls.push(call);
    return respond(call);
  }) as typeof fetch;
  return { fn, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function client(f: typeof fetch, timeoutMs = 1000) {
  return new SidecarClient({
    privateKey: privatePem,
    logger: pino({ level: 'silent' }),
    fetch: f,
    timeoutMs,
  });
}

async function failure(p: Promise<unknown>): Promise<SidecarError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SidecarError) return err;
    throw err;
  }
  throw new Error('expected a SidecarError');
}

describe('SidecarClient', () => {
  it('POSTs {action, payload} to <sidecar_url>/command with a fresh valid token per call', async () => {
    const { fn, calls } = fakeFetch(() =>
      json(200, { success: true, result: { tag: '2.0.0' }, execution_time_ms: 5 }),
    );
    const c = client(fn);
    const out = await c.command(target, 'PULL_IMAGE', { image_name: 'genesis/sidecar', tag: '2.0.0' });
    await c.command(target, 'PULL_IMAGE', { image_name: 'genesis/sidecar', tag: '2.0.0' });
    expect(out).toEqual({ result: { tag: '2.0.0' }, executionTimeMs: 5 });
    expect(calls).toHaveLength(2);
    expect(calls[0]!.url).toBe('http://sidecar.test:3100/command');
    expect(calls[0]!.init.method).toBe('POST');
    expect(JSON.parse(String(calls[0]!.init.body))).toEqual({
      action: 'PULL_IMAGE',
      payload: { image_name: 'genesis/sidecar', tag: '2.0.0' },
    });
    const cache = new JtiCache();
    const tokens = calls.map((call) => (call.init.headers as Record<string, string>)['x-genesis-jwt']!);
    expect(tokens[0]).not.toBe(tokens[1]);
    for (const t of tokens) {
      expect(
        await verifySidecarJwt(
          t,
          keys.publicKey,
          { workspaceId: 'ws_1', dropletId: '203.0.113.7', action: 'PULL_IMAGE' },
          cache,
        ),
      ).toMatchObject({ ok: true });
    }
  });

  it.each([
    [401, SidecarUnauthorizedError, false],
    [403, SidecarForbiddenError, false],
    [500, SidecarServerError, true],
    [503, SidecarServerError, true],
    [404, SidecarProtocolError, false],
  ] as const)('maps HTTP %i to %p (retryable=%p)', async (status, type, retryable) => {
    const { fn } = fakeFetch(() => json(status, { success: false, error: 'nope' }));
    const err = await failure(client(fn).command(target, 'HEALTH_CHECK'));
    expect(err).toBeInstanceOf(type);
    expect(err.retryable).toBe(retryable);
    expect(err.status).toBe(status);
    expect(err.action).toBe('HEALTH_CHECK');
    expect(err.dropletId).toBe('203.0.113.7');
  });

  it('treats 200 with success:false as a failed command carrying the sidecar error', async () => {
    const { fn } = fakeFetch(() =>
      json(200, {
        success: false,
        error: 'Failed to create workflow: connect ECONNREFUSED 127.0.0.1:5678',
        execution_time_ms: 2,
      }),
    );
    const err = await failure(client(fn).deployWorkflow(target, { workflow_json: {} }));
    expect(err).toBeInstanceOf(SidecarCommandFailedError);
    expect((err as SidecarCommandFailedError).sidecarError).toBe(
      'Failed to create workflow: connect ECONNREFUSED 127.0.0.1:5678',
    );
    expect(err.retryable).toBe(false);
  });

  it('reads the inner result.success of container actions: a failed swap is a typed failure', async () => {
    const { fn } = fakeFetch(() =>
      json(200, { success: true, result: { success: false }, execution_time_ms: 33 }),
    );
    const err = await failure(client(fn).swapContainer(target, { new_image_tag: '1.71.0' }));
    expect(err).toBeInstanceOf(SidecarActionFailedError);
    expect(err.action).toBe('SWAP_CONTAINER');
    expect(err.retryable).toBe(false); // the agent already kept the old container: no blind retry
    const pull = await failure(client(fn).pullImage(target, { image_name: 'n8nio/n8n', tag: '1.71.0' }));
    expect(pull).toBeInstanceOf(SidecarActionFailedError);
    expect(pull.retryable).toBe(true);
  });

  it('refuses answers that are not the protocol envelope or miss required result fields', async () => {
    const { fn } = fakeFetch(() => new Response('<html>proxy</html>', { status: 200 }));
    expect(await failure(client(fn).command(target, 'HEALTH_CHECK'))).toBeInstanceOf(SidecarProtocolError);
    const { fn: fn2 } = fakeFetch(() => json(200, { success: true, result: { n8n_status: 'fine' } }));
    expect(await failure(client(fn2).healthCheck(target))).toBeInstanceOf(SidecarProtocolError);
  });

  it('times out, with a retryable error', async () => {
    const hang = fakeFetch(
      (call) =>
        new Promise<Response>((_resolve, reject) => {
          call.init.signal!.addEventListener('abort', () =>
            reject(new DOMException('aborted', 'AbortError')),
          );
        }),
    );
    const started = Date.now();
    const err = await failure(client(hang.fn, 10_000).command(target, 'HEALTH_CHECK', {}, { timeoutMs: 50 }));
    expect(err).toBeInstanceOf(SidecarTimeoutError);
    expect(err.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('distinguishes cancellation by the caller from a timeout', async () => {
    const hang = fakeFetch(
      (call) =>
        new Promise<Response>((_resolve, reject) => {
          call.init.signal!.addEventListener('abort', () =>
            reject(new DOMException('aborted', 'AbortError')),
          );
        }),
    );
    const ac = new AbortController();
    const p = client(hang.fn).command(target, 'HEALTH_CHECK', {}, { signal: ac.signal });
    ac.abort();
    expect(await failure(p)).toBeInstanceOf(SidecarCancelledError);
  });

  it('maps network errors to a retryable unreachable error', async () => {
    const refused = fakeFetch(() => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      });
    });
    const err = await failure(client(refused.fn).command(target, 'HEALTH_CHECK'));
    expect(err).toBeInstanceOf(SidecarUnreachableError);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('never puts the token in an error message', async () => {
    let token = '';
    const { fn } = fakeFetch((call) => {
      token = (call.init.headers as Record<string, string>)['x-genesis-jwt']!;
      return json(403, { success: false, error: 'invalid token: replayed' });
    });
    const err = await failure(client(fn).command(target, 'HEALTH_CHECK'));
    expect(token.length).toBeGreaterThan(100);
    expect(JSON.stringify({ m: err.message, s: err.stack })).not.toContain(token.split('.')[2]);
  });

  it('reads GET /health', async () => {
    const { fn, calls } = fakeFetch(() =>
      json(200, {
        status: 'ok',
        uptime: 12,
        workspace_id: 'ws_1',
        droplet_id: '203.0.113.7',
        smtp_enabled: false,
        n8n_bootstrapped: true,
      }),
    );
    await expect(client(fn).health('http://sidecar.test:3100')).resolves.toMatchObject({
      status: 'ok',
      droplet_id: '203.0.113.7',
    });
    expect(calls[0]!.url).toBe('http://sidecar.test:3100/health');
    expect((calls[0]!.init.headers as Record<string, string> | undefined)?.['x-genesis-jwt']).toBeUndefined();
  });
});
