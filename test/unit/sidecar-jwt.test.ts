import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import {
  JtiCache,
  MAX_SIDECAR_JWT_TTL_S,
  signSidecarJwt,
  verifySidecarJwt,
  type SidecarJwtExpectation,
} from '../../src/sidecar/jwt';

const dashboard = generateKeyPairSync('rsa', { modulusLength: 2048 });
const intruder = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicPem = dashboard.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const privatePem = dashboard.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

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

const verify = (token: string, exp: Partial<SidecarJwtExpectation> = {}, cache = new JtiCache(), now = NOW) =>
  verifySidecarJwt(token, publicPem, { ...expected, ...exp }, cache, now);

const signGood = (over: Partial<Parameters<typeof signSidecarJwt>[1]> = {}) =>
  signSidecarJwt(privatePem, {
    workspaceId: 'ws_alpha',
    dropletId: 4242,
    action: 'HEALTH_CHECK',
    now: NOW,
    ...over,
  });

describe('signSidecarJwt', () => {
  it('produces RS256 tokens with the protocol claims, a fresh jti each time', () => {
    const a = signGood();
    const b = signGood();
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

  it('refuses a ttl above 300 s or below 1 s', () => {
    expect(() => signGood({ ttlSeconds: MAX_SIDECAR_JWT_TTL_S + 1 })).toThrow(RangeError);
    expect(() => signGood({ ttlSeconds: 0 })).toThrow(RangeError);
    const t = signGood({ ttlSeconds: 300 });
    expect(verify(t)).toMatchObject({ ok: true, claims: { exp: NOW_S + 300 } });
  });

  it('refuses a non-RSA key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => signSidecarJwt(ec.privateKey, { workspaceId: 'w', dropletId: 1, action: 'X' })).toThrow(
      TypeError,
    );
  });
});

describe('verifySidecarJwt', () => {
  it('accepts a valid token and returns its claims', () => {
    const res = verify(signGood());
    expect(res).toMatchObject({
      ok: true,
      claims: { sub: 'ws_alpha', droplet_id: '4242', action: 'HEALTH_CHECK' },
    });
  });

  it('accepts a numeric expected droplet id equal to the string claim', () => {
    expect(verify(signGood(), { dropletId: 4242 }).ok).toBe(true);
  });

  const refusals: [string, () => string, Partial<SidecarJwtExpectation>, string, number?][] = [
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
    ],
    ['an expired token', () => signGood({ ttlSeconds: 60 }), {}, 'expired', NOW + 60_000],
    ['a token expiring exactly now', () => signGood({ ttlSeconds: 30 }), {}, 'expired', NOW + 30_000],
    ['a wrong audience', () => craft(goodClaims({ aud: 'dashboard' })), {}, 'bad_audience'],
    ['a missing audience', () => craft(goodClaims({ aud: undefined })), {}, 'bad_audience'],
    ['a wrong issuer', () => craft(goodClaims({ iss: 'someone-else' })), {}, 'bad_issuer'],
    ['another workspace (sub)', () => signGood({ workspaceId: 'ws_beta' }), {}, 'workspace_mismatch'],
    ['another droplet', () => signGood({ dropletId: 4243 }), {}, 'droplet_mismatch'],
    [
      'an action that is not the body action',
      () => signGood({ action: 'HEALTH_CHECK' }),
      { action: 'SWAP_CONTAINER' },
      'action_mismatch',
    ],
    ['exp - iat above 300 s', () => craft(goodClaims({ exp: NOW_S + 301 })), {}, 'lifetime_too_long'],
    ['a numeric droplet_id claim', () => craft(goodClaims({ droplet_id: 4242 })), {}, 'bad_claims'],
    ['no jti', () => craft(goodClaims({ jti: undefined })), {}, 'bad_claims'],
    ['a non-integer exp', () => craft(goodClaims({ exp: 'later' })), {}, 'bad_claims'],
  ];

  // object rows: a 5-parameter callback with 4-element rows would make jest pass `done`
  it.each(refusals.map(([name, make, exp, reason, now]) => ({ name, make, exp, reason, now: now ?? NOW })))(
    'refuses $name',
    ({ make, exp, reason, now }) => {
      expect(verify(make(), exp, new JtiCache(), now)).toEqual({ ok: false, reason });
    },
  );

  it('refuses a replayed jti, and only remembers jtis of accepted tokens', () => {
    const cache = new JtiCache();
    const token = signGood();
    expect(verify(token, { action: 'RESTART_N8N' }, cache)).toEqual({ ok: false, reason: 'action_mismatch' });
    expect(cache.size).toBe(0);
    expect(verify(token, {}, cache).ok).toBe(true);
    expect(verify(token, {}, cache)).toEqual({ ok: false, reason: 'replayed' });
    expect(verify(token, {}, cache, NOW + 10_000)).toEqual({ ok: false, reason: 'replayed' });
    // another token with a different jti still passes
    expect(verify(signGood(), {}, cache).ok).toBe(true);
  });

  it('refuses alg none (unsigned) and alg HS256 (key confusion with the public key as secret)', () => {
    const claims = goodClaims();
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    expect(verify(none)).toEqual({ ok: false, reason: 'unsupported_alg' });
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    const hs = `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
    expect(verify(hs)).toEqual({ ok: false, reason: 'unsupported_alg' });
    const rs256NoSig = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}.`;
    expect(verify(rs256NoSig)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a token whose claims were altered after signing', () => {
    const [h, , s] = signGood({ workspaceId: 'ws_beta' }).split('.');
    const forged = `${h}.${b64(goodClaims())}.${s}`;
    expect(verify(forged)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses malformed tokens', () => {
    for (const t of ['', 'abc', 'a.b', 'a.b.c.d', '!!.??.**', `${b64('str')}.${b64({})}.sig`]) {
      expect(verify(t).ok).toBe(false);
    }
    expect(verify('a.b')).toEqual({ ok: false, reason: 'malformed' });
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
