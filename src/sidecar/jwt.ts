/**
 * The command token of the sidecar protocol (DESIGN.md section 3), signed and its signature checked
 * through `jose` (RS256 only); the fleet-specific rules (the droplet_id claim, expiry, the jti replay
 * cache) and the agent's own order and error texts are this module's.
 *
 * Header `{alg: 'RS256', typ: 'JWT'}`; claims `iss='genesis-dashboard'`, `sub=<workspace id>`,
 * `aud='sidecar'`, `iat`, `exp` (iat + ttl, ttl at most 300 s), `jti` (fresh UUID per token),
 * `action` (must equal the body's action) and `droplet_id` (a string).
 *
 * `verifySidecarJwt` performs the checks the deployed v1 agent performs before it runs a command
 * (specs/sidecar-v1/), with its error texts; the simulated fleet uses it, so the control plane is
 * tested against the same rules.
 */
import { createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { compactVerify, SignJWT } from 'jose';
import { JtiCache } from './jti-cache';

export const SIDECAR_JWT_ISSUER = 'genesis-dashboard';
export const SIDECAR_JWT_AUDIENCE = 'sidecar';
export const SIDECAR_JWT_HEADER = 'x-genesis-jwt';
export const MAX_SIDECAR_JWT_TTL_S = 300;
export const DEFAULT_SIDECAR_JWT_TTL_S = 60;

export interface SidecarJwtClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  action: string;
  droplet_id: string;
}

export interface SignSidecarJwtInput {
  workspaceId: string;
  dropletId: string | number;
  action: string;
  /** seconds, 1..300; default 60 */
  ttlSeconds?: number;
  /** epoch ms; default Date.now() */
  now?: number;
}

export type PrivateKeyInput = string | KeyObject;
export type PublicKeyInput = string | KeyObject;

function toPrivateKey(key: PrivateKeyInput): KeyObject {
  const k = typeof key === 'string' ? createPrivateKey(key) : key;
  if (k.type !== 'private' || k.asymmetricKeyType !== 'rsa')
    throw new TypeError('RS256 needs an RSA private key');
  return k;
}

function toPublicKey(key: PublicKeyInput): KeyObject {
  const k = typeof key === 'string' ? createPublicKey(key) : key;
  if (k.asymmetricKeyType !== 'rsa') throw new TypeError('RS256 needs an RSA public key');
  return k.type === 'private' ? createPublicKey(k) : k;
}

/** The protected header the deployed agents accept (specs/sidecar-v1/PROTOCOL.md). */
const HEADER = { alg: 'RS256', typ: 'JWT' } as const;

/** Parses a PEM once for callers that sign or verify many tokens. */
export const loadPrivateKey = toPrivateKey;
export const loadPublicKey = toPublicKey;

/**
 * Signs one command token; every call has a new jti. A bad input or key throws at once (before
 * anything is signed); the token itself arrives asynchronously (jose signs with WebCrypto semantics).
 */
export function signSidecarJwt(privateKey: PrivateKeyInput, input: SignSidecarJwtInput): Promise<string> {
  const ttl = input.ttlSeconds ?? DEFAULT_SIDECAR_JWT_TTL_S;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_SIDECAR_JWT_TTL_S) {
    throw new RangeError(`ttlSeconds must be an integer in 1..${MAX_SIDECAR_JWT_TTL_S}, got ${ttl}`);
  }
  if (!input.workspaceId) throw new TypeError('workspaceId is required');
  if (!input.action) throw new TypeError('action is required');
  const iat = Math.floor((input.now ?? Date.now()) / 1000);
  const claims: SidecarJwtClaims = {
    iss: SIDECAR_JWT_ISSUER,
    sub: input.workspaceId,
    aud: SIDECAR_JWT_AUDIENCE,
    iat,
    exp: iat + ttl,
    jti: randomUUID(),
    action: input.action,
    droplet_id: String(input.dropletId),
  };
  const key = toPrivateKey(privateKey);
  // the claims object as it is (no jose setters): the same claims, in the same order, as always
  return new SignJWT({ ...claims }).setProtectedHeader(HEADER).sign(key);
}

export type SidecarJwtFailure =
  | 'malformed'
  | 'unsupported_alg'
  | 'bad_signature'
  | 'bad_claims'
  | 'not_active'
  | 'expired'
  | 'bad_issuer'
  | 'bad_audience'
  | 'workspace_mismatch'
  | 'droplet_mismatch'
  | 'missing_jti'
  | 'replayed'
  | 'jti_cache_full'
  | 'action_mismatch';

export type SidecarJwtVerification =
  | { ok: true; claims: SidecarJwtClaims }
  /** `error` is the text the deployed agent answers with (403 `{success:false, error}`) */
  | { ok: false; reason: SidecarJwtFailure; error: string };

export interface SidecarJwtExpectation {
  /** the agent's WORKSPACE_ID */
  workspaceId: string;
  /**
   * the agent's DROPLET_ID: whatever provisioning wrote (on the fleet the droplet's public IPv4).
   * The claim must equal it as a JSON string, byte for byte; a number given here is its decimal
   * string (the environment variable the agent reads is always a string).
   */
  dropletId: string | number;
  /** the action named in the request body (any JSON value: it is only compared) */
  action: unknown;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

function decodeJson(part: string): unknown {
  if (!B64URL.test(part)) return undefined;
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** How `${value}` renders a claim in the agent's error texts (JS template literal). */
const text = (v: unknown): string => (isObject(v) || Array.isArray(v) ? String(v) : `${v as string}`);

/** jtis of tokens without `exp` (jsonwebtoken accepts them) are remembered this long. */
const NO_EXP_RETENTION_S = 24 * 3600;

/**
 * Verifies a command token exactly as the deployed v1 agent does (specs/sidecar-v1/PROTOCOL.md and
 * the recorded error cases), in its order:
 *
 *   1. jsonwebtoken's verify with the dashboard's public key, algorithms [RS256] and issuer
 *      genesis-dashboard: malformed token, other alg, bad signature, `nbf` in the future, `exp` not
 *      a number, then `exp <= now` -> "Token expired" (recorded), then a wrong issuer. Only `exp` is
 *      checked: there is NO limit on the lifetime (a 3600 s token is accepted, recorded), and a
 *      token without `exp` passes, as jsonwebtoken lets it.
 *   2. `aud` must be the string "sidecar"; an array, even ["sidecar"], is "Invalid audience"
 *      (recorded: the agent compares it itself, jsonwebtoken's audience option would accept it).
 *   3. `sub` must equal WORKSPACE_ID.
 *   4. `droplet_id` must be the JSON string DROPLET_ID: "Droplet mismatch (expected X, got Y)"
 *      (recorded, also for the number 424242 against "424242").
 *   5. a seen `jti` -> "Token already processed (replay attack)" (recorded); otherwise the jti is
 *      recorded NOW, so a token then refused for
 *   6. `action` != the body's action ("Action mismatch: JWT=X, Body=Y", recorded) is consumed: the
 *      same token with the right action is then a replay (recorded).
 *
 * Texts that are not in the recordings (chosen as a jsonwebtoken-based agent would word them,
 * `Invalid token: <jsonwebtoken message>`): malformed, algorithm, signature, nbf, exp type, issuer,
 * workspace mismatch, missing jti, and the simulator's own jti bound (jti_cache_full). Which of
 * steps 2-4 comes first is not observable in the recordings (each recorded case breaks one rule).
 */
export async function verifySidecarJwt(
  token: string,
  publicKey: PublicKeyInput,
  expected: SidecarJwtExpectation,
  seenJti: JtiCache,
  now: number = Date.now(),
): Promise<SidecarJwtVerification> {
  const fail = (reason: SidecarJwtFailure, error: string): SidecarJwtVerification => ({
    ok: false,
    reason,
    error,
  });
  const malformed = () => fail('malformed', 'Invalid token: jwt malformed');
  if (typeof token !== 'string' || token.length > 8192) return malformed();
  const parts = token.split('.');
  if (parts.length !== 3) return malformed();
  const [h, p, s] = parts as [string, string, string];

  const header = decodeJson(h);
  if (!isObject(header)) return malformed();
  if (!s) return fail('bad_signature', 'Invalid token: jwt signature is required');
  if (header.alg !== 'RS256') return fail('unsupported_alg', 'Invalid token: invalid algorithm');
  if (!B64URL.test(s)) return fail('bad_signature', 'Invalid token: invalid signature');

  // the signature, by jose, RS256 only (the checks above keep jsonwebtoken's order and texts)
  try {
    await compactVerify(token, toPublicKey(publicKey), { algorithms: ['RS256'] });
  } catch {
    return fail('bad_signature', 'Invalid token: invalid signature');
  }

  const c = decodeJson(p);
  if (!isObject(c)) return fail('malformed', 'Invalid token: invalid token');
  const nowSec = Math.floor(now / 1000);
  if (c.nbf !== undefined) {
    if (typeof c.nbf !== 'number') return fail('bad_claims', 'Invalid token: invalid nbf value');
    if (c.nbf > nowSec) return fail('not_active', 'Invalid token: jwt not active');
  }
  if (c.exp !== undefined) {
    if (typeof c.exp !== 'number') return fail('bad_claims', 'Invalid token: invalid exp value');
    if (nowSec >= c.exp) return fail('expired', 'Token expired');
  }
  if (c.iss !== SIDECAR_JWT_ISSUER) {
    return fail('bad_issuer', `Invalid token: jwt issuer invalid. expected: ${SIDECAR_JWT_ISSUER}`);
  }
  if (c.aud !== SIDECAR_JWT_AUDIENCE) return fail('bad_audience', 'Invalid audience');
  if (c.sub !== expected.workspaceId) {
    return fail(
      'workspace_mismatch',
      `Workspace mismatch (expected ${expected.workspaceId}, got ${text(c.sub)})`,
    );
  }
  const dropletId = String(expected.dropletId);
  if (c.droplet_id !== dropletId) {
    return fail('droplet_mismatch', `Droplet mismatch (expected ${dropletId}, got ${text(c.droplet_id)})`);
  }
  if (typeof c.jti !== 'string' || c.jti.length === 0)
    return fail('missing_jti', 'Invalid token: jti is required');
  const keepUntil = typeof c.exp === 'number' ? c.exp : nowSec + NO_EXP_RETENTION_S;
  const admission = seenJti.admit(c.jti, keepUntil, nowSec);
  if (admission === 'replayed') return fail('replayed', 'Token already processed (replay attack)');
  if (admission === 'full') return fail('jti_cache_full', 'Too many unexpired tokens (simulator bound)');
  if (c.action !== expected.action) {
    return fail('action_mismatch', `Action mismatch: JWT=${text(c.action)}, Body=${text(expected.action)}`);
  }
  return {
    ok: true,
    claims: {
      iss: SIDECAR_JWT_ISSUER,
      sub: c.sub,
      aud: SIDECAR_JWT_AUDIENCE,
      iat: typeof c.iat === 'number' ? c.iat : nowSec,
      exp: typeof c.exp === 'number' ? c.exp : keepUntil,
      jti: c.jti,
      action: c.action as string,
      droplet_id: dropletId,
    },
  };
}

export { JtiCache };
