/**
 * The codec server as its real callers use it, over real HTTP on loopback: the Web UI's preflight
 * and Origin, the temporal CLI's empty Payloads, the shared token, a development UI on loopback
 * without a token, and operators' OIDC access tokens verified against a JWKS server run here.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import express from 'express';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { CodecAuthorizer } from '../../src/api/codec-auth';
import { codecRoutes, type CodecRouteOptions } from '../../src/api/codec-routes';
import { AesGcmPayloadCodec } from '../../src/temporal/payload-codec';

const UI = 'http://localhost:8233';
const TOKEN = 'codec-token-for-the-cli-and-scripts';
const codec = new AesGcmPayloadCodec([{ id: 'k1', key: randomBytes(32) }]);

const listen = (handler: Parameters<typeof createServer>[1]) =>
  new Promise<{ server: Server; url: string }>((resolve) => {
    const server = createServer(handler).listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` }),
    );
  });
const close = (s: Server) => new Promise((r) => s.close(r));

async function codecServer(opts: Partial<CodecRouteOptions>) {
  const app = express();
  app.use(codecRoutes({ codec, corsOrigins: [UI], ...opts }));
  return listen(app);
}

const wire = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? []).toString('base64'),
});
const encrypted = async (value: unknown) =>
  wire((await codec.encode([defaultPayloadConverter.toPayload(value)]))[0]!);

async function decode(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/codec/decode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}
const text = (p: { data: string }) => Buffer.from(p.data, 'base64').toString();

describe('codec server: shapes the UI and the CLI send', () => {
  let s: { server: Server; url: string };
  beforeAll(async () => (s = await codecServer({ token: TOKEN })));
  afterAll(() => close(s.server));
  const auth = { authorization: `Bearer ${TOKEN}` };

  it('answers {payloads: []} for {"payloads": null}, {} and []', async () => {
    for (const body of [{ payloads: null }, {}, { payloads: [] }]) {
      const r = await decode(s.url, body, auth);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ payloads: [] });
    }
  });

  it('decodes, passes through unencrypted payloads and tolerates missing metadata or data', async () => {
    const plain = wire(defaultPayloadConverter.toPayload('plain'));
    const r = await decode(
      s.url,
      { payloads: [await encrypted({ n: 1 }), plain, { data: null }, { metadata: null }] },
      { ...auth, 'x-namespace': 'default' },
    );
    expect(r.status).toBe(200);
    expect(r.body.payloads).toHaveLength(4);
    expect(text(r.body.payloads[0])).toBe('{"n":1}');
    expect(text(r.body.payloads[1])).toBe('"plain"');
  });

  it('never shows a credential blob: decoded JSON has them replaced by a marker', async () => {
    const blob = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkw';
    const r = await decode(
      s.url,
      {
        payloads: [
          await encrypted({
            workspaceId: 'ws-1',
            credentials: [{ type: 'smtp', name: 'Outbound SMTP', encryptedData: blob }],
          }),
          await encrypted({ credential: { credential_type: 'openai_api', encrypted_data: blob } }),
        ],
      },
      auth,
    );
    expect(r.status).toBe(200);
    const [a, b] = r.body.payloads.map((p: { data: string }) => JSON.parse(text(p)));
    expect(a).toEqual({
      workspaceId: 'ws-1',
      credentials: [
        {
          type: 'smtp',
          name: 'Outbound SMTP',
          encryptedData: `[credential blob redacted, ${blob.length} characters]`,
        },
      ],
    });
    expect(b.credential.encrypted_data).toMatch(/redacted/);
    expect(JSON.stringify(r.body)).not.toContain(Buffer.from(blob).toString('base64').slice(0, 20));
  });

  it('takes only the last path segment (a namespace may come before it)', async () => {
    const res = await fetch(`${s.url}/codec/default/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ payloads: [await encrypted('x')] }),
    });
    expect(res.status).toBe(200);
  });

  it('refuses bodies that are not a Payloads message', async () => {
    for (const body of [{ payloads: 'x' }, { payloads: [1] }, [1], { payloads: [{ data: 5 }] }])
      expect((await decode(s.url, body, auth)).status).toBe(400);
  });

  it('refuses a wrong token and a missing one', async () => {
    expect((await decode(s.url, {}, { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await decode(s.url, {})).status).toBe(401);
  });

  it('answers the preflight of the UI origin with what the UI sends, and refuses other origins', async () => {
    const pre = await fetch(`${s.url}/codec/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: UI,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(UI);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    const evil = await fetch(`${s.url}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example' },
    });
    expect(evil.status).toBe(403);
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    // not only the preflight: a request from another origin is not processed even with the token
    const r = await decode(
      s.url,
      { payloads: [await encrypted('s')] },
      { ...auth, origin: 'https://evil.example' },
    );
    expect(r.status).toBe(403);
    expect(JSON.stringify(r.body)).not.toContain(Buffer.from('"s"').toString('base64'));
  });
});

describe('codec server: the development UI on loopback', () => {
  let s: { server: Server; url: string };
  beforeAll(
    async () =>
      (s = await codecServer({ trustLoopbackUi: true, corsOrigins: [UI, 'http://127.0.0.1:8233'] })),
  );
  afterAll(() => close(s.server));

  it('decodes for the loopback UI origin without a token', async () => {
    const r = await decode(
      s.url,
      { payloads: [await encrypted('hello')] },
      { origin: UI, 'x-namespace': 'default' },
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe(UI);
    expect(text(r.body.payloads[0])).toBe('"hello"');
  });

  it('still refuses a caller without an Origin (a local process) and another origin', async () => {
    expect((await decode(s.url, { payloads: [] })).status).toBe(401);
    expect((await decode(s.url, { payloads: [] }, { origin: 'http://localhost:9999' })).status).toBe(403);
  });

  it('never trusts a peer that is not loopback', async () => {
    const a = new CodecAuthorizer({ trustLoopbackUi: true });
    await expect(a.authorize({ allowedOrigin: UI, remoteAddress: '10.1.2.3' })).rejects.toMatchObject({
      status: 401,
    });
    await expect(a.authorize({ allowedOrigin: UI, remoteAddress: '::ffff:127.0.0.1' })).resolves.toEqual({
      via: 'loopback_ui',
    });
  });
});

describe('codec server: operators signed in to the Web UI (OIDC)', () => {
  let idp: { server: Server; url: string };
  let s: { server: Server; url: string };
  let key: CryptoKey;
  let otherKey: CryptoKey;
  let jwk: JWK;
  let jwksHits = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    idp = await listen((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration')
        return res.end(JSON.stringify({ issuer: idp.url, jwks_uri: `${idp.url}/keys` }));
      if (req.url === '/keys') {
        jwksHits++;
        return res.end(JSON.stringify({ keys: [jwk] }));
      }
      res.statusCode = 404;
      res.end('{}');
    });
    s = await codecServer({
      token: TOKEN,
      oidc: {
        issuer: idp.url,
        audience: ['temporal-ui'],
        groupsClaim: 'groups',
        allowedGroups: ['sre', 'oncall'],
      },
    });
  });
  afterAll(async () => {
    await close(s.server);
    await close(idp.server);
  });

  const token = (
    claims: Record<string, unknown>,
    opts: { signWith?: CryptoKey; iss?: string; aud?: string; exp?: string | number } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(opts.iss ?? idp.url)
      .setAudience(opts.aud ?? 'temporal-ui')
      .setSubject('alice@example.com')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(opts.signWith ?? key);
  const as = async (t: string) =>
    decode(
      s.url,
      { payloads: [await encrypted({ secret: 'x' })] },
      { authorization: `Bearer ${t}`, origin: UI },
    );

  it("decodes for an operator in an allowed group (keys found through the issuer's discovery)", async () => {
    const r = await as(await token({ groups: ['eng', 'sre'] }));
    expect(r.status).toBe(200);
    expect(text(r.body.payloads[0])).toBe('{"secret":"x"}');
    expect(jwksHits).toBeGreaterThan(0);
    // a space-separated string claim works too
    expect((await as(await token({ groups: 'eng oncall' }))).status).toBe(200);
  });

  it('refuses an operator outside the allowed groups with 403', async () => {
    const r = await as(await token({ groups: ['eng'] }));
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('not_in_allowed_group');
    expect((await as(await token({}))).status).toBe(403);
  });

  it('refuses a token of another audience, another issuer, an expired one or one signed by another key', async () => {
    const claims = { groups: ['sre'] };
    for (const t of [
      await token(claims, { aud: 'some-other-app' }),
      await token(claims, { iss: 'https://other-idp.example' }),
      await token(claims, { exp: Math.floor(Date.now() / 1000) - 120 }),
      await token(claims, { signWith: otherKey }),
    ]) {
      const r = await as(t);
      expect(r.status).toBe(401);
      expect(JSON.stringify(r.body)).not.toContain(t);
    }
  });

  it('answers 503 (not 401) while the identity provider cannot be reached', async () => {
    const gone = await listen(() => undefined);
    const url = gone.url;
    await close(gone.server);
    const a = new CodecAuthorizer({
      oidc: { issuer: url, audience: ['temporal-ui'], groupsClaim: 'groups', allowedGroups: ['sre'] },
    });
    await expect(
      a.authorize({ authorization: `Bearer ${await token({ groups: ['sre'] }, { iss: url })}` }),
    ).rejects.toMatchObject({ status: 503, code: 'identity_provider_unavailable' });
  });

  it('keeps the shared token for the CLI next to OIDC', async () => {
    expect((await decode(s.url, { payloads: null }, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });
});
