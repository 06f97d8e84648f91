import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import {
  JtiCache,
  MAX_SIDECAR_JWT_TTL_S,
  signSidecarJwt,
  verifySidecarJwt,
  type SidecarJwtExpectation,
} from '../../src/sidecar/jwt';
import { newRsaTestKeys, rsaTestKeys } from '../helpers/keys';

const dashboard = rsaTestKeys();
const intruder = newRsaTestKeys();
const publicPem = dashboard.publicPem;
const privatePem = dashboard.privatePem;

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const NOW_S = NOW / 1000;
const expected: SidecarJwtExpectation = {
  workspaceId: 'ws_alpha',
  dropletId: '4242',
  action: 'HEALTH_CHECK',
};

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Builds a token with arbitrary header/claims, RS256-signed with `key` (the dashboard's by default). */
function craft(
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT' },
) {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), dashboard.privateKey).toString('base64url')}`;
}

function goodClaims(overrides: Record<string, unknown> = {}) {
  return {
    iss: 'genesis-dashboard',
    sub: 'ws_alpha',
    aud: 'sidecar',
    iat: NOW_S,
    exp: NOW_S + 60,
    jti: 'jti-1',
    action: 'HEALTH_CHECK',
    droplet_id: '4242',
    ...overrides,
  };
}

const verify = async (
  token: string | Promise<string>,
  exp: Partial<SidecarJwtExpectation> = {},
  cache = new JtiCache(),
  now = NOW,
) => verifySidecarJwt(await token, publicPem, { ...expected, ...exp }, cache, now);

const signGood = (over: Partial<Parameters<typeof signSidecarJwt>[1]> = {}) =>
  signSidecarJwt(privatePem, {
    workspaceId: 'ws_alpha',
    dropletId: 4242,
    action: 'HEALTH_CHECK',
    now: NOW,
    ...over,
  });

describe('signSidecarJwt', () => {
  it('produces RS256 tokens with the protocol claims, a fresh jti each time', async () => {
    const a = await signGood();
    const b = await signGood();
    const [h, p] = a.split('.');
    expect(JSON.parse(Buffer.from(h!, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    expect(claims).toEqual({
      iss: 'genesis-dashboard',
      sub: 'ws_alpha',
      aud: 'sidecar',
      iat: NOW_S,
      exp: NOW_S + 60,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      action: 'HEALTH_CHECK',
      droplet_id: '4242',
    });
    const claimsB = JSON.parse(Buffer.from(b.split('.')[1]!, 'base64url').toString());
    expect(claimsB.jti).not.toBe(claims.jti);
  });

  it('refuses a ttl above 300 s or below 1 s', async () => {
    expect(() => signGood({ ttlSeconds: MAX_SIDECAR_JWT_TTL_S + 1 })).toThrow(RangeError);
    expect(() => signGood({ ttlSeconds: 0 })).toThrow(RangeError);
    const t = await signGood({ ttlSeconds: 300 });
    expect(await verify(t)).toMatchObject({ ok: true, claims: { exp: NOW_S + 300 } });
  });

  it('refuses a non-RSA key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => signSidecarJwt(ec.privateKey, { workspaceId: 'w', dropletId: 1, action: 'X' })).toThrow(
      TypeError,
    );
  });
});

describe("verifySidecarJwt (the deployed v1 agent's rules and texts)", () => {
  it('accepts a valid token and returns its claims', async () => {
    const res = await verify(signGood());
    expect(res).toMatchObject({
      ok: true,
      claims: { sub: 'ws_alpha', droplet_id: '4242', action: 'HEALTH_CHECK' },
    });
  });

  it('compares the droplet_id claim with DROPLET_ID as a string (a number given is its decimal text)', async () => {
    expect((await verify(signGood(), { dropletId: 4242 })).ok).toBe(true);
    const ip = await signGood({ dropletId: '203.0.113.7' });
    expect((await verify(ip, { dropletId: '203.0.113.7' })).ok).toBe(true);
    expect(await verify(ip)).toEqual({
      ok: false,
      reason: 'droplet_mismatch',
      error: 'Droplet mismatch (expected 4242, got 203.0.113.7)',
    });
  });

  it('has no lifetime limit: a 3600 s token passes (recorded), only exp <= now is refused', async () => {
    expect((await verify(craft(goodClaims({ exp: NOW_S + 3600 })))).ok).toBe(true);
    expect((await verify(craft(goodClaims({ iat: NOW_S - 86_400, exp: NOW_S + 1 })))).ok).toBe(true);
    // jsonwebtoken lets a token without exp through, and so does the agent
    expect((await verify(craft(goodClaims({ exp: undefined })))).ok).toBe(true);
  });

  const refusals: [
    string,
    () => string | Promise<string>,
    Partial<SidecarJwtExpectation>,
    string,
    string,
    number?,
  ][] = [
    [
      'a token signed with another key',
      () =>
        signSidecarJwt(intruder.privateKey, {
          workspaceId: 'ws_alpha',
          dropletId: 4242,
          action: 'HEALTH_CHECK',
          now: NOW,
        }),
      {},
      'bad_signature',
      'Invalid token: invalid signature',
    ],
    ['an expired token', () => signGood({ ttlSeconds: 60 }), {}, 'expired', 'Token expired', NOW + 60_000],
    [
      'a token expiring exactly now',
      () => signGood({ ttlSeconds: 30 }),
      {},
      'expired',
      'Token expired',
      NOW + 30_000,
    ],
    [
      'a wrong audience',
      () => craft(goodClaims({ aud: 'dashboard' })),
      {},
      'bad_audience',
      'Invalid audience',
    ],
    [
      'an audience array, even ["sidecar"] (recorded)',
      () => craft(goodClaims({ aud: ['sidecar'] })),
      {},
      'bad_audience',
      'Invalid audience',
    ],
    [
      'a missing audience',
      () => craft(goodClaims({ aud: undefined })),
      {},
      'bad_audience',
      'Invalid audience',
    ],
    [
      'a wrong issuer',
      () => craft(goodClaims({ iss: 'someone-else' })),
      {},
      'bad_issuer',
      'Invalid token: jwt issuer invalid. expected: genesis-dashboard',
    ],
    [
      'another workspace (sub)',
      () => signGood({ workspaceId: 'ws_beta' }),
      {},
      'workspace_mismatch',
      'Workspace mismatch (expected ws_alpha, got ws_beta)',
    ],
    [
      'another droplet',
      () => signGood({ dropletId: 4243 }),
      {},
      'droplet_mismatch',
      'Droplet mismatch (expected 4242, got 4243)',
    ],
    [
      'a numeric droplet_id claim (recorded: "expected 424242, got 424242")',
      () => craft(goodClaims({ droplet_id: 4242 })),
      {},
      'droplet_mismatch',
      'Droplet mismatch (expected 4242, got 4242)',
    ],
    [
      'an action that is not the body action',
      () => signGood({ action: 'HEALTH_CHECK' }),
      { action: 'SWAP_CONTAINER' },
      'action_mismatch',
      'Action mismatch: JWT=HEALTH_CHECK, Body=SWAP_CONTAINER',
    ],
    [
      'no jti',
      () => craft(goodClaims({ jti: undefined })),
      {},
      'missing_jti',
      'Invalid token: jti is required',
    ],
    [
      'a non-numeric exp',
      () => craft(goodClaims({ exp: 'later' })),
      {},
      'bad_claims',
      'Invalid token: invalid exp value',
    ],
    [
      'a token not valid yet (nbf)',
      () => craft(goodClaims({ nbf: NOW_S + 60 })),
      {},
      'not_active',
      'Invalid token: jwt not active',
    ],
  ];

  // object rows: a 6-parameter callback with 5-element rows would make jest pass `done`
  it.each(
    refusals.map(([name, make, exp, reason, error, now]) => ({
      name,
      make,
      exp,
      reason,
      error,
      now: now ?? NOW,
    })),
  )('refuses $name', async ({ make, exp, reason, error, now }) => {
    expect(await verify(make(), exp, new JtiCache(), now)).toEqual({ ok: false, reason, error });
  });

  it('checks expiry before everything but the signature, as jsonwebtoken does', async () => {
    const t = craft(goodClaims({ aud: ['sidecar'], exp: NOW_S - 1 }));
    expect(await verify(t)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('consumes the jti before comparing actions: the same token with the right action is a replay', async () => {
    const cache = new JtiCache();
    const token = await signGood();
    expect(await verify(token, { action: 'GET_LOGS' }, cache)).toMatchObject({
      ok: false,
      error: 'Action mismatch: JWT=HEALTH_CHECK, Body=GET_LOGS',
    });
    expect(cache.size).toBe(1);
    expect(await verify(token, {}, cache)).toEqual({
      ok: false,
      reason: 'replayed',
      error: 'Token already processed (replay attack)',
    });
    // another token with a different jti still passes
    expect((await verify(signGood(), {}, cache)).ok).toBe(true);
  });

  it('does not consume the jti of a token refused before the replay check', async () => {
    const cache = new JtiCache();
    const token = await signGood();
    expect((await verify(token, { dropletId: 'elsewhere' }, cache)).ok).toBe(false);
    expect(cache.size).toBe(0);
    expect((await verify(token, {}, cache)).ok).toBe(true);
    expect(await verify(token, {}, cache)).toMatchObject({ ok: false, reason: 'replayed' });
    expect(await verify(token, {}, cache, NOW + 10_000)).toMatchObject({ ok: false, reason: 'replayed' });
  });

  it('refuses alg none (unsigned) and alg HS256 (key confusion with the public key as secret)', async () => {
    const claims = goodClaims();
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    expect(await verify(none)).toMatchObject({ ok: false, reason: 'bad_signature' });
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    const hs = `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
    expect(await verify(hs)).toEqual({
      ok: false,
      reason: 'unsupported_alg',
      error: 'Invalid token: invalid algorithm',
    });
    const rs256NoSig = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.`;
    expect(await verify(rs256NoSig)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a token whose claims were altered after signing', async () => {
    const [h, , s] = (await signGood({ workspaceId: 'ws_beta' })).split('.');
    const forged = `${h}.${b64(goodClaims())}.${s}`;
    expect(await verify(forged)).toMatchObject({ ok: false, reason: 'bad_signature' });
  });

  it('refuses malformed tokens', async () => {
    for (const t of ['', 'abc', 'a.b', 'a.b.c.d', '!!.??.**', `${b64('str')}.${b64({})}.sig`]) {
      expect((await verify(t)).ok).toBe(false);
    }
    expect(await verify('a.b')).toEqual({
      ok: false,
      reason: 'malformed',
      error: 'Invalid token: jwt malformed',
    });
  });
});

describe('JtiCache', () => {
  it('forgets a jti once its token has expired', () => {
    const c = new JtiCache();
    expect(c.admit('a', 100, 50)).toBe('accepted');
    expect(c.admit('a', 100, 99)).toBe('replayed');
    expect(c.admit('b', 200, 101)).toBe('accepted');
    expect(c.size).toBe(1);
  });

  it('fails closed when full of live ids, and frees room as they expire', () => {
    const c = new JtiCache(2);
    expect(c.admit('a', 300, 0)).toBe('accepted');
    expect(c.admit('b', 100, 0)).toBe('accepted');
    expect(c.admit('c', 100, 0)).toBe('full');
    // 'b' (behind the longer-lived 'a') has expired: the sweep finds it
    expect(c.admit('c', 200, 150)).toBe('accepted');
    expect(c.admit('a', 300, 150)).toBe('replayed');
  });
});
