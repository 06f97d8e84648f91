/**
 * The command token of the sidecar protocol (DESIGN.md section 3), with node:crypto only.
 *
 * Header `{alg: 'RS256', typ: 'JWT'}`; claims `iss='genesis-dashboard'`, `sub=<workspace id>`,
 * `aud='sidecar'`, `iat`, `exp` (iat + ttl, ttl at most 300 s), `jti` (fresh UUID per token),
 * `action` (must equal the body's action) and `droplet_id` (a string).
 *
 * `verifySidecarJwt` performs the checks a deployed sidecar performs before it runs a command; the
 * simulated fleet uses it, so the control plane is tested against the same rules.
 */
import { createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
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

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const HEADER_B64 = b64url({ alg: 'RS256', typ: 'JWT' });

/** Parses a PEM once for callers that sign or verify many tokens. */
export const loadPrivateKey = toPrivateKey;
export const loadPublicKey = toPublicKey;

/** Signs one command token; every call has a new jti. */
export function signSidecarJwt(privateKey: PrivateKeyInput, input: SignSidecarJwtInput): string {
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
  const signingInput = `${HEADER_B64}.${b64url(claims)}`;
  const signature = sign('sha256', Buffer.from(signingInput), toPrivateKey(privateKey));
  return `${signingInput}.${signature.toString('base64url')}`;
}

export type SidecarJwtFailure =
  | 'malformed'
  | 'unsupported_alg'
  | 'bad_signature'
  | 'bad_claims'
  | 'bad_issuer'
  | 'bad_audience'
  | 'workspace_mismatch'
  | 'droplet_mismatch'
  | 'expired'
  | 'lifetime_too_long'
  | 'action_mismatch'
  | 'replayed'
  | 'jti_cache_full';

export type SidecarJwtVerification =
  { ok: true; claims: SidecarJwtClaims } | { ok: false; reason: SidecarJwtFailure };

export interface SidecarJwtExpectation {
  /** the sidecar's own workspace */
  workspaceId: string;
  /** the sidecar's own droplet */
  dropletId: string | number;
  /** the action named in the request body */
  action: string;
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
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function audienceOk(aud: unknown): boolean {
  if (aud === SIDECAR_JWT_AUDIENCE) return true;
  return Array.isArray(aud) && aud.includes(SIDECAR_JWT_AUDIENCE);
}

/**
 * Verifies a command token as the sidecar does: RS256 signature with the dashboard's public key
 * (no other alg), issuer, audience, sub = own workspace, droplet_id = own droplet, not expired,
 * lifetime at most 300 s, action = body action, jti never seen before. The jti is recorded only when
 * everything else passed.
 */
export function verifySidecarJwt(
  token: string,
  publicKey: PublicKeyInput,
  expected: SidecarJwtExpectation,
  seenJti: JtiCache,
  now: number = Date.now(),
): SidecarJwtVerification {
  const fail = (reason: SidecarJwtFailure): SidecarJwtVerification => ({ ok: false, reason });
  if (typeof token !== 'string' || token.length > 8192) return fail('malformed');
  const parts = token.split('.');
  if (parts.length !== 3) return fail('malformed');
  const [h, p, s] = parts as [string, string, string];

  const header = decodeJson(h);
  if (!isObject(header)) return fail('malformed');
  if (header.alg !== 'RS256') return fail('unsupported_alg');
  if (!s || !B64URL.test(s)) return fail('bad_signature');

  let valid: boolean;
  try {
    valid = verify('sha256', Buffer.from(`${h}.${p}`), toPublicKey(publicKey), Buffer.from(s, 'base64url'));
  } catch {
    valid = false;
  }
  if (!valid) return fail('bad_signature');

  const c = decodeJson(p);
  if (!isObject(c)) return fail('malformed');
  if (
    !isInt(c.iat) ||
    !isInt(c.exp) ||
    typeof c.jti !== 'string' ||
    c.jti.length === 0 ||
    typeof c.sub !== 'string' ||
    typeof c.action !== 'string' ||
    typeof c.droplet_id !== 'string'
  ) {
    return fail('bad_claims');
  }
  if (c.iss !== SIDECAR_JWT_ISSUER) return fail('bad_issuer');
  if (!audienceOk(c.aud)) return fail('bad_audience');
  if (c.sub !== expected.workspaceId) return fail('workspace_mismatch');
  if (c.droplet_id !== String(expected.dropletId)) return fail('droplet_mismatch');
  const nowSec = Math.floor(now / 1000);
  if (c.exp <= nowSec) return fail('expired');
  if (c.exp - c.iat > MAX_SIDECAR_JWT_TTL_S) return fail('lifetime_too_long');
  if (c.action !== expected.action) return fail('action_mismatch');

  const admission = seenJti.admit(c.jti, c.exp, nowSec);
  if (admission === 'replayed') return fail('replayed');
  if (admission === 'full') return fail('jti_cache_full');
  return {
    ok: true,
    claims: {
      iss: SIDECAR_JWT_ISSUER,
      sub: c.sub,
      aud: SIDECAR_JWT_AUDIENCE,
      iat: c.iat,
      exp: c.exp,
      jti: c.jti,
      action: c.action,
      droplet_id: c.droplet_id,
    },
  };
}

export { JtiCache };
